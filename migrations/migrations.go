// Package migrations holds the numbered SQL files that build the schema.
package migrations

import "embed"

// FS holds every migration, in the layout tern expects.
//
//go:embed *.sql
var FS embed.FS
