// Package livetest reads live stats streams the way a browser's hx-sse
// does, for tests of the app at the HTTP level.
package livetest

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// Stream is an open GET /stats/stream.
type Stream struct {
	// Header is the response's header.
	Header http.Header
	events chan string
}

// Open connects to url (a /stats/stream address) until the test ends and
// fails the test unless the answer is an event stream.
func Open(t testing.TB, url string) *Stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("HX-Request", "true")
	req.Header.Set("Accept", "text/html, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		resp.Body.Close()
		cancel()
		t.Fatalf("GET %s: status %d, Content-Type %q, want 200 and an event stream: %s", url, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	s := &Stream{Header: resp.Header, events: make(chan string, 1024)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(s.events)
		Read(resp.Body, func(data string) { s.events <- data })
	}()
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-done
	})
	return s
}

// Read calls event with the data of each event in r until r ends. Comments
// are skipped; data lines are joined with newlines, as browsers do.
func Read(r io.Reader, event func(data string)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var data []string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data != nil {
				event(strings.Join(data, "\n"))
			}
			data = nil
		case strings.HasPrefix(line, ":"):
		default:
			field, value, _ := strings.Cut(line, ":")
			if field == "data" {
				data = append(data, strings.TrimPrefix(value, " "))
			}
		}
	}
	return sc.Err()
}

// Next is the HTML of the next event, failing the test when none comes
// within timeout or the stream ends.
func (s *Stream) Next(t testing.TB, timeout time.Duration) *goquery.Document {
	t.Helper()
	select {
	case data, ok := <-s.events:
		if !ok {
			t.Fatal("the stream ended, want an event")
		}
		return parse(t, data)
	case <-time.After(timeout):
		t.Fatalf("no event within %v", timeout)
	}
	return nil
}

// NextWhere skips events until one satisfies ok, failing the test when
// none does within timeout.
func (s *Stream) NextWhere(t testing.TB, timeout time.Duration, what string, ok func(*goquery.Document) bool) *goquery.Document {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case data, open := <-s.events:
			if !open {
				t.Fatalf("the stream ended waiting for %s", what)
			}
			if doc := parse(t, data); ok(doc) {
				return doc
			}
		case <-deadline:
			t.Fatalf("no event with %s within %v", what, timeout)
		}
	}
}

// Ended waits until the server ends the stream, failing the test when it
// does not within timeout.
func (s *Stream) Ended(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case _, open := <-s.events:
			if !open {
				return
			}
		case <-deadline:
			t.Fatalf("the stream was still open after %v", timeout)
		}
	}
}

func parse(t testing.TB, html string) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(html))
	if err != nil {
		t.Fatalf("parse event: %v", err)
	}
	return doc
}

// Attr is the attribute attr of the one element sel matches in doc, ""
// when there is none.
func Attr(doc *goquery.Document, sel, attr string) string {
	return doc.Find(sel).AttrOr(attr, "")
}
