package handlers

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A client that leaves while its page renders is no error of the app's;
// a render that fails for a client still there is.
func TestRenderFailure(t *testing.T) {
	var logged bytes.Buffer
	s := &server{Deps: Deps{Log: slog.New(slog.NewTextHandler(&logged, nil))}}
	failing := func(r *http.Request) func(io.Writer) error {
		return func(io.Writer) error { return r.Context().Err() }
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	gone := httptest.NewRequestWithContext(ctx, http.MethodGet, "/leaderboard", nil)
	s.renderFunc(httptest.NewRecorder(), gone, http.StatusOK, failing(gone))
	if logged.Len() != 0 {
		t.Errorf("render for a client that left logged %q, want nothing", logged.String())
	}

	here := httptest.NewRequest(http.MethodGet, "/leaderboard", nil)
	w := httptest.NewRecorder()
	s.renderFunc(w, here, http.StatusOK, func(io.Writer) error { return io.ErrUnexpectedEOF })
	if w.Code != http.StatusInternalServerError || !strings.Contains(logged.String(), "render failed") {
		t.Errorf("failed render: status %d, log %q; want 500 and \"render failed\"", w.Code, logged.String())
	}
}
