// Package static serves the app's own CSS, scripts and icons from the
// binary, under URLs that change whenever a file does.
package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed *.js *.css *.svg
var files embed.FS

// file is one embedded file, with its digest and, when that is smaller,
// its gzip encoding, made once rather than on every request.
type file struct {
	hash       string
	body, gzip []byte
}

// catalog maps each file name to its file.
var catalog = sync.OnceValue(func() map[string]file {
	m := make(map[string]file)
	entries, _ := fs.ReadDir(files, ".")
	for _, e := range entries {
		b, _ := files.ReadFile(e.Name())
		sum := sha256.Sum256(b)
		f := file{hash: hex.EncodeToString(sum[:6]), body: b}
		if z := gzipped(b); len(z) < len(b) {
			f.gzip = z
		}
		m[e.Name()] = f
	}
	return m
})

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// Prefix is where the files are served.
const Prefix = "/static/"

// URL returns the versioned URL of a static file: /static/{hash}/{name}.
// It panics on a name that is not embedded, a bug caught by any render.
func URL(name string) string {
	f, ok := catalog()[name]
	if !ok {
		panic("static: no such file: " + name)
	}
	return Prefix + f.hash + "/" + name
}

// Handler serves /static/{hash}/{name}, and anything else with notFound.
// A current hash is cached for a year; an old one (a page rendered before a
// deploy) still gets the file, briefly cached, rather than a broken page.
// Browsers that accept gzip get the file gzipped.
func Handler(notFound http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hash, name, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, Prefix), "/")
		f, known := catalog()[name]
		if !ok || !known {
			notFound.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		if hash == f.hash {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "public, max-age=300")
		}
		body := f.body
		if f.gzip != nil {
			h.Set("Vary", "Accept-Encoding")
			if acceptsGzip(r.Header.Get("Accept-Encoding")) {
				h.Set("Content-Encoding", "gzip")
				body = f.gzip
			}
		}
		// The name gives the Content-Type; embedded files have no
		// modification time, so none is sent.
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
	})
}

// acceptsGzip reports whether an Accept-Encoding header lists gzip
// without refusing it (q=0).
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q, found := strings.CutPrefix(strings.TrimSpace(params), "q=")
		if !found {
			return true
		}
		v, err := strconv.ParseFloat(q, 64)
		return err == nil && v > 0
	}
	return false
}
