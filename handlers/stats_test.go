package handlers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/xkcdapp/xkcdapp/handlers"
	"github.com/xkcdapp/xkcdapp/live/livetest"
)

// serve runs a's handler on a real server, as streams need.
func (a *app) serve(t *testing.T, configure func(*http.Server)) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(a.h)
	if configure != nil {
		configure(srv.Config)
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

func viewsIs(n int) func(*goquery.Document) bool {
	return func(d *goquery.Document) bool {
		return livetest.Attr(d, "#comic-views", "data-views") == strconv.Itoa(n)
	}
}

func TestComicCountStream(t *testing.T) {
	a := newWarmApp(t, latest)
	a.view(t, 4, 2)
	url := a.serve(t, nil)
	s := livetest.Open(t, url+"/stats/stream?comic=4")
	if got := s.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control: got %q, want no-store", got)
	}
	if got := livetest.Attr(s.Next(t, 10*time.Second), "#comic-views", "data-views"); got != "2" {
		t.Errorf("first event's count: got %q, want 2", got)
	}
	// The stream itself is not a view.
	if got := a.views(t, 4); got != 2 {
		t.Errorf("views after opening the stream: got %d, want 2", got)
	}
	a.view(t, 4, 1)
	s.NextWhere(t, 10*time.Second, "3 views", viewsIs(3))
}

// TestStreamOutlivesServerTimeouts: the server's read and write timeouts
// count from a request's start; a stream moves them on and stays open.
func TestStreamOutlivesServerTimeouts(t *testing.T) {
	a := newWarmApp(t, latest)
	url := a.serve(t, func(s *http.Server) {
		s.ReadTimeout = 100 * time.Millisecond
		s.WriteTimeout = 100 * time.Millisecond
	})
	s := livetest.Open(t, url+"/stats/stream?comic=6")
	s.Next(t, 10*time.Second)
	time.Sleep(300 * time.Millisecond) // past both timeouts
	a.view(t, 6, 1)
	s.NextWhere(t, 10*time.Second, "1 view", viewsIs(1))
}

func TestStatsStreamBadRequests(t *testing.T) {
	a := newWarmApp(t, latest)
	for _, q := range []string{"comic=abc", "comic=0", "comic=-1", "comic=1e3", "comic=", "n=0", "n=101", "n=x", "comic=1&n=2"} {
		t.Run(q, func(t *testing.T) {
			w := a.get(t, "/stats/stream?"+q, htmx)
			assertStatus(t, w, http.StatusBadRequest)
			if strings.HasPrefix(w.Header().Get("Content-Type"), "text/event-stream") {
				t.Error("a refused stream answered as an event stream")
			}
		})
	}
}

func TestStatsStreamHead(t *testing.T) {
	a := newWarmApp(t, latest)
	w := a.do(t, http.MethodHead, "/stats/stream", nil)
	assertStatus(t, w, http.StatusOK)
	if got := w.Header().Get("Content-Type"); got != "text/event-stream" {
		t.Errorf("Content-Type: got %q, want text/event-stream", got)
	}
	if w.Body.Len() != 0 {
		t.Errorf("HEAD body: got %d bytes, want none", w.Body.Len())
	}
}

// TestStreamsEndOnClose: when the hub closes (shutdown), open streams end
// and new ones are refused with a 503 the browser retries.
func TestStreamsEndOnClose(t *testing.T) {
	a := newWarmApp(t, latest)
	url := a.serve(t, nil)
	s := livetest.Open(t, url+"/stats/stream")
	s.Next(t, 10*time.Second)
	a.hub.Close()
	s.Ended(t, 10*time.Second)
	resp, err := http.Get(url + "/stats/stream")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("stream after close: status %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestLeaderboardPageIsLive(t *testing.T) {
	a := newWarmApp(t, latest)
	a.view(t, 3, 2)
	a.view(t, 8, 1)
	doc := parse(t, a.get(t, "/leaderboard?n=5", nil))
	live := doc.Find("#live")
	if got := live.AttrOr("hx-sse:connect", ""); got != "/stats/stream?n=5" {
		t.Errorf("#live hx-sse:connect: got %q, want /stats/stream?n=5", got)
	}
	if got := livetest.Attr(doc, "#live-totals [data-views]", "data-views"); got != "3" {
		t.Errorf("total views: got %q, want 3", got)
	}
	if got := livetest.Attr(doc, "#live-totals [data-comics]", "data-comics"); got != strconv.Itoa(latest) {
		t.Errorf("comics: got %q, want %d", got, latest)
	}
	if doc.Find("#sparkline svg polyline").Length() != 1 {
		t.Error("no sparkline polyline on the page")
	}
	if doc.Find("#leaderboard tr.changed").Length() != 0 {
		t.Error("a plain page render highlights rows")
	}
	// The page's stream starts from the same state.
	url := a.serve(t, nil)
	first := livetest.Open(t, url+"/stats/stream?n=5").Next(t, 10*time.Second)
	if got := first.Find("#leaderboard tr[data-num]").Length(); got != 2 {
		t.Errorf("rows in the stream's first event: got %d, want 2", got)
	}
}

func TestComicPageFollowsItsCount(t *testing.T) {
	a := newWarmApp(t, latest)
	for _, target := range []string{"/comic/7"} {
		for _, h := range []http.Header{nil, htmx} {
			doc := parse(t, a.get(t, target, h))
			if got := doc.Find("#comic #comic-live").AttrOr("hx-sse:connect", ""); got != "/stats/stream?comic=7" {
				t.Errorf("%s (htmx %v): #comic-live hx-sse:connect: got %q, want /stats/stream?comic=7", target, h != nil, got)
			}
			if doc.Find("#comic-live #comic-views").Length() != 1 {
				t.Errorf("%s: the view count is not inside #comic-live", target)
			}
		}
	}
}

// TestStatsStreamMethods: the stream's fast path is GET only; the rest
// goes through the router like any other address.
func TestStatsStreamMethods(t *testing.T) {
	a := newWarmApp(t, latest)
	w := a.do(t, http.MethodPost, "/stats/stream", nil)
	assertStatus(t, w, http.StatusMethodNotAllowed)
	if got := w.Header().Get("Allow"); got != "GET, HEAD" {
		t.Errorf("Allow: got %q, want GET, HEAD", got)
	}
	url := a.serve(t, nil)
	s := livetest.Open(t, url+"/stats/stream")
	for _, h := range []string{"X-Request-Id", "X-Content-Type-Options"} {
		if s.Header.Get(h) == "" {
			t.Errorf("stream response has no %s", h)
		}
	}
}

// TestStreamOfUnknownComic: a comic the catalog does not hold has no
// stream, so that no client can make the hub follow any number it likes.
func TestStreamOfUnknownComic(t *testing.T) {
	a := newWarmApp(t, latest)
	for _, q := range []string{"comic=" + strconv.Itoa(latest+1), "comic=999999"} {
		w := a.get(t, "/stats/stream?"+q, htmx)
		assertStatus(t, w, http.StatusNotFound)
		if strings.HasPrefix(w.Header().Get("Content-Type"), "text/event-stream") {
			t.Errorf("%s: a refused stream answered as an event stream", q)
		}
	}
	if n := a.hub.Streams(); n != 0 {
		t.Errorf("streams open after refusals: %d, want 0", n)
	}
	url := a.serve(t, nil)
	livetest.Open(t, url+"/stats/stream?comic="+strconv.Itoa(latest)).Next(t, 10*time.Second)
}

// openStream opens a stream from the client at addr behind the load
// balancer and returns its status; an open stream stays open until stop.
func openStream(t *testing.T, url, addr string) (status int, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/stats/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-For", addr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	stop = func() {
		cancel()
		resp.Body.Close()
	}
	t.Cleanup(stop)
	return resp.StatusCode, stop
}

// TestStreamsPerClient: one client holds a bounded number of streams;
// others are not refused for it, and a closed stream makes room.
func TestStreamsPerClient(t *testing.T) {
	a := newWarmApp(t, latest)
	url := a.serve(t, nil)
	var last func()
	for i := range handlers.MaxStreamsPerClient {
		status, stop := openStream(t, url, "203.0.113.7")
		if status != http.StatusOK {
			t.Fatalf("stream %d: status %d, want 200", i+1, status)
		}
		last = stop
	}
	if status, _ := openStream(t, url, "203.0.113.7"); status != http.StatusTooManyRequests {
		t.Errorf("one stream too many: status %d, want 429", status)
	}
	// Another address of the same IPv6 /64 is the same client.
	for i := range handlers.MaxStreamsPerClient {
		if status, _ := openStream(t, url, "2001:db8:1:2::"+strconv.Itoa(i+1)); status != http.StatusOK {
			t.Fatalf("IPv6 stream %d: status %d, want 200", i+1, status)
		}
	}
	if status, _ := openStream(t, url, "2001:db8:1:2:ffff::1"); status != http.StatusTooManyRequests {
		t.Errorf("one stream too many from the /64: status %d, want 429", status)
	}
	if status, _ := openStream(t, url, "203.0.113.8"); status != http.StatusOK {
		t.Errorf("another client: status %d, want 200", status)
	}
	last()
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, stop := openStream(t, url, "203.0.113.7")
		if status == http.StatusOK {
			break
		}
		stop()
		if time.Now().After(deadline) {
			t.Fatalf("after one stream closed: status %d, want 200", status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
