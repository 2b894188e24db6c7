package handlers

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/xkcdapp/xkcdapp/logtest"
)

// TestLogRequestsStatusAndSize: the log line has the answer's final
// status (not an early 103) and its size.
func TestLogRequestsStatusAndSize(t *testing.T) {
	for _, tt := range []struct {
		name        string
		handler     http.HandlerFunc
		status, len int
	}{
		{"write only", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }, 200, 5},
		{"early hints, then 404", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</static/app.css>; rel=preload; as=style")
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "nope")
		}, 404, 4},
		{"nothing", func(w http.ResponseWriter, r *http.Request) {}, 200, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs logtest.Buffer
			s := &server{Deps: Deps{Log: slog.New(slog.NewJSONHandler(&logs, nil))}}
			ts := httptest.NewServer(s.logRequests(tt.handler))
			defer ts.Close()
			resp, err := ts.Client().Get(ts.URL + "/comic/1")
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			ts.Close() // waits for the handler, and so for its log line
			var line struct{ Status, Bytes int }
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("log %q: %v", logs.Bytes(), err)
			}
			if resp.StatusCode != tt.status || line.Status != tt.status || line.Bytes != tt.len {
				t.Errorf("answered %d; logged status %d, bytes %d; want %d, %d", resp.StatusCode, line.Status, line.Bytes, tt.status, tt.len)
			}
		})
	}
}

// TestLogRequestsStream: a stream's events reach the browser as they are
// flushed, through the logging.
func TestLogRequestsStream(t *testing.T) {
	s := &server{Deps: Deps{Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}}
	done := make(chan struct{})
	ts := httptest.NewServer(s.logRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: 1\n\n")
		w.(http.Flusher).Flush()
		io.WriteString(w, "data: 2\n\n")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
		<-done
	})))
	defer ts.Close()
	defer close(done)
	resp, err := ts.Client().Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// Both events arrive while the handler still waits.
	lines := bufio.NewScanner(resp.Body)
	for _, want := range []string{"data: 1", "", "data: 2", ""} {
		if !lines.Scan() || lines.Text() != want {
			t.Fatalf("stream: got %q (%v), want %q", lines.Text(), lines.Err(), want)
		}
	}
}
