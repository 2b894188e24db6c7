package handlers

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/a-h/templ"
)

var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// render writes a component with status. It renders into a buffer first so
// that a failed render becomes a clean 500, not half a page.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	s.renderFunc(w, r, status, func(w io.Writer) error { return c.Render(r.Context(), w) })
}

// renderFunc is render for anything that writes HTML.
func (s *server) renderFunc(w http.ResponseWriter, r *http.Request, status int, write func(io.Writer) error) {
	buf := buffers.Get().(*bytes.Buffer)
	buf.Reset()
	defer buffers.Put(buf)
	if err := write(buf); err != nil {
		if r.Context().Err() != nil {
			return // the client has gone: no one to answer, nothing broken
		}
		s.Log.ErrorContext(r.Context(), "render failed", "method", r.Method, "uri", loggable(r.URL.RequestURI()), "err", err)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// isFragment reports whether htmx asked for a piece of a page. A history
// restore is an htmx request too, but it wants the whole page.
func isFragment(r *http.Request) bool {
	return r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-History-Restore-Request") != "true"
}

// countsAsView reports whether showing a comic for r is a view: a GET that
// is neither a history restore nor a browser prefetch.
func countsAsView(r *http.Request) bool {
	if r.Method != http.MethodGet || r.Header.Get("HX-History-Restore-Request") == "true" {
		return false
	}
	purpose := r.Header.Get("Sec-Purpose") + r.Header.Get("Purpose")
	return !strings.Contains(purpose, "prefetch")
}
