// Package static serves the app's own CSS, scripts and icons from the
// binary, under URLs that change whenever a file does.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strings"
	"sync"
)

//go:embed *.js *.css *.svg
var files embed.FS

// hashes maps each file name to a short digest of its content.
var hashes = sync.OnceValue(func() map[string]string {
	m := make(map[string]string)
	entries, _ := fs.ReadDir(files, ".")
	for _, e := range entries {
		b, _ := files.ReadFile(e.Name())
		sum := sha256.Sum256(b)
		m[e.Name()] = hex.EncodeToString(sum[:6])
	}
	return m
})

// Prefix is where the files are served.
const Prefix = "/static/"

// URL returns the versioned URL of a static file: /static/{hash}/{name}.
// It panics on a name that is not embedded, a bug caught by any render.
func URL(name string) string {
	h, ok := hashes()[name]
	if !ok {
		panic("static: no such file: " + name)
	}
	return Prefix + h + "/" + name
}

// Handler serves /static/{hash}/{name}, and anything else with notFound.
// A current hash is cached for a year; an old one (a page rendered before a
// deploy) still gets the file, briefly cached, rather than a broken page.
func Handler(notFound http.Handler) http.Handler {
	fileServer := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hash, name, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, Prefix), "/")
		current, known := hashes()[name]
		if !ok || !known {
			notFound.ServeHTTP(w, r)
			return
		}
		if hash == current {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "public, max-age=300")
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + name
		fileServer.ServeHTTP(w, r2)
	})
}
