package handlers_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestStaticFilesOfThePage(t *testing.T) {
	a := newWarmApp(t, latest)
	page := parse(t, a.get(t, "/comic/5", nil))
	tests := []struct {
		sel, attr   string
		contentType string
	}{
		{`link[rel="stylesheet"][href*="app.css"]`, "href", "text/css"},
		{`script[src*="htmx.min.js"]`, "src", "text/javascript"},
		{`script[src*="app.js"]`, "src", "text/javascript"},
		{`link[rel="icon"]`, "href", "image/svg+xml"},
	}
	for _, tt := range tests {
		t.Run(tt.sel, func(t *testing.T) {
			url := page.Find(tt.sel).AttrOr(tt.attr, "")
			if !strings.HasPrefix(url, "/static/") {
				t.Fatalf("%s %s: got %q, want a /static/ URL", tt.sel, tt.attr, url)
			}
			w := a.get(t, url, nil)
			assertStatus(t, w, http.StatusOK)
			if got := w.Header().Get("Content-Type"); !strings.HasPrefix(got, tt.contentType) {
				t.Errorf("Content-Type: got %q, want %s", got, tt.contentType)
			}
			if got := w.Header().Get("Cache-Control"); !strings.Contains(got, "immutable") {
				t.Errorf("Cache-Control: got %q, want immutable", got)
			}
			if w.Body.Len() == 0 {
				t.Errorf("body: got empty, want the file")
			}
			if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options: got %q, want %q", got, "nosniff")
			}
		})
	}
}

// TestStaticOldVersion checks that a page rendered before a deploy still
// gets its files, without caching a stale file for a year.
func TestStaticOldVersion(t *testing.T) {
	a := newWarmApp(t, latest)
	w := a.get(t, "/static/000000000000/app.css", nil)
	assertStatus(t, w, http.StatusOK)
	if got := w.Header().Get("Cache-Control"); strings.Contains(got, "immutable") {
		t.Errorf("Cache-Control of an old version: got %q, want not immutable", got)
	}
}

func TestStaticCompressed(t *testing.T) {
	a := newWarmApp(t, latest)
	url := parse(t, a.get(t, "/", nil)).Find(`script[src*="htmx.min.js"]`).AttrOr("src", "")
	w := a.get(t, url, header("Accept-Encoding", "gzip"))
	assertStatus(t, w, http.StatusOK)
	if got := w.Header().Get("Content-Encoding"); got != "gzip" {
		t.Errorf("Content-Encoding: got %q, want %q", got, "gzip")
	}
}

func TestStaticUnknown(t *testing.T) {
	a := newWarmApp(t, latest)
	url := parse(t, a.get(t, "/", nil)).Find(`link[rel="stylesheet"]`).AttrOr("href", "")
	hash := strings.Split(strings.TrimPrefix(url, "/static/"), "/")[0]
	for _, path := range []string{
		"/static/",
		"/static/app.css",
		"/static/" + hash + "/nope.css",
		"/static/" + hash + "/static.go",
		"/static/" + hash + "/README.md",
		"/static/" + hash + "/",
		"/static/" + hash + "/../go.mod",
		"/static/" + hash + "/%2e%2e/static.go",
	} {
		t.Run(path, func(t *testing.T) {
			w := a.get(t, path, nil)
			assertStatus(t, w, http.StatusNotFound)
			if got := w.Header().Get("Cache-Control"); strings.Contains(got, "immutable") {
				t.Errorf("Cache-Control of a 404: got %q, want not immutable", got)
			}
		})
	}
}
