// Package container tests how the app ships: the Dockerfile, .dockerignore
// and compose.yaml at the module's root. No container engine is needed:
// the files are parsed with the engines' own parsers, and the binary is
// built exactly as the Dockerfile builds it.
package container
