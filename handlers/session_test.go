package handlers_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/xkcdapp/xkcdapp/session"
	"github.com/xkcdapp/xkcdapp/session/sessiontest"
)

// openSessions opens sessions in Redis at redisURL for one test.
func openSessions(t *testing.T, redisURL string, opts session.Options) *session.Sessions {
	t.Helper()
	s, err := session.Open(redisURL, opts, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// assertHistoryUnavailable fails unless w is a 200 page that says the
// visitor's history is unavailable, and sets no cookie: a cookie now would
// replace the visitor's session with an empty one.
func assertHistoryUnavailable(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	assertStatus(t, w, http.StatusOK)
	if got := parse(t, w).Find("#history-unavailable").Length(); got != 1 {
		t.Errorf("#history-unavailable: got %d, want 1", got)
	}
	assertNoSessionCookie(t, w)
}

// assertNoSessionCookie fails when w sets any cookie.
func assertNoSessionCookie(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if got := w.Header().Values("Set-Cookie"); len(got) != 0 {
		t.Errorf("Set-Cookie: got %q, want none", got)
	}
}

// TestSessionsDown: with Redis unreachable, every page still works, fast,
// and says history is unavailable; changing the history is refused.
func TestSessionsDown(t *testing.T) {
	budget := 100 * time.Millisecond
	s := openSessions(t, "redis://127.0.0.1:1/0", session.Options{Budget: budget})
	a := newAppWithSessions(t, latest, s)
	a.warm(t)

	stale := header("Cookie", session.CookieName+"=a-token-from-before-the-outage")
	for _, tt := range []struct {
		name, target string
		header       http.Header
	}{
		{"comic", "/comic/3", nil},
		{"comic with a cookie", "/comic/3", stale},
		{"comic for htmx", "/comic/5", htmx},
		{"random for htmx", "/random", htmx},
		{"home with a cookie", "/", stale},
		{"history with a cookie", "/history", stale},
	} {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			w := a.get(t, tt.target, tt.header)
			if elapsed := time.Since(start); elapsed > 4*budget {
				t.Errorf("took %v, want under %v", elapsed, 4*budget)
			}
			assertHistoryUnavailable(t, w)
			if tt.target != "/history" {
				comicShown(t, w)
			}
		})
	}

	t.Run("clear", func(t *testing.T) {
		w := a.do(t, http.MethodPost, "/history/clear", header("Sec-Fetch-Site", "same-origin", "Cookie", stale.Get("Cookie")))
		assertProblem(t, w, http.StatusServiceUnavailable)
		assertNoSessionCookie(t, w)
		if got := w.Header().Get("Retry-After"); got == "" {
			t.Errorf("Retry-After: got none, want one")
		}
		w = a.do(t, http.MethodPost, "/history/clear", header("Sec-Fetch-Site", "same-origin", "HX-Request", "true", "Cookie", stale.Get("Cookie")))
		assertStatus(t, w, http.StatusServiceUnavailable)
		if got := w.Header().Get("HX-Retarget"); got != "#notice" {
			t.Errorf("HX-Retarget: got %q, want %q", got, "#notice")
		}
	})

	t.Run("readyz", func(t *testing.T) {
		w, rd := readyz(t, a)
		assertStatus(t, w, http.StatusOK)
		if !rd.Ready || rd.Sessions.Kind != "redis" || rd.Sessions.OK {
			t.Errorf("ready, sessions: got %v, %+v, want true, kind redis and not ok", rd.Ready, rd.Sessions)
		}
	})
}

// TestHistorySurvivesRedisOutage: while Redis hangs, pages go on without
// the history, each within the budget, and nothing overwrites it; once
// Redis answers again, the visitor's history is back as it was.
func TestHistorySurvivesRedisOutage(t *testing.T) {
	redis := newFlakyRedis(t, sessiontest.URL(t))
	budget, quiet := 100*time.Millisecond, 500*time.Millisecond
	a := newAppWithSessions(t, latest, openSessions(t, redis.URL, session.Options{Budget: budget, Quiet: quiet}))
	a.warm(t)
	v := a.visitor()
	v.view(t, 3, 5)
	if got, want := v.historyShown(t), []int{5, 3}; !slices.Equal(got, want) {
		t.Fatalf("history in Redis: got %v, want %v", got, want)
	}
	token := v.cookie.Value

	redis.hang()
	for i, target := range []string{"/comic/7", "/comic/8", "/history"} {
		start := time.Now()
		w := v.get(t, target, nil)
		elapsed := time.Since(start)
		assertHistoryUnavailable(t, w)
		// The first request waits out the budget; the rest skip Redis.
		limit := budget
		if i == 0 {
			limit = 4 * budget
		}
		if elapsed > limit {
			t.Errorf("GET %s, request %d of the outage: took %v, want under %v", target, i+1, elapsed, limit)
		}
	}
	w := v.do(t, http.MethodPost, "/history/clear", sameOrigin)
	assertProblem(t, w, http.StatusServiceUnavailable)
	assertNoSessionCookie(t, w)

	redis.heal()
	deadline := time.Now().Add(5 * time.Second)
	for parse(t, v.get(t, "/history", nil)).Find("#history-unavailable").Length() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("history still unavailable 5s after Redis came back (quiet period %v)", quiet)
		}
		time.Sleep(quiet / 4)
	}
	if got, want := v.historyShown(t), []int{5, 3}; !slices.Equal(got, want) {
		t.Errorf("history after the outage: got %v, want %v", got, want)
	}
	if v.cookie.Value != token {
		t.Errorf("session token after the outage: got %q, want %q", v.cookie.Value, token)
	}
}

// flakyRedis passes connections through to a Redis server until it hangs;
// then it answers nothing, on old connections and new, as a Redis in
// trouble does, until it heals.
type flakyRedis struct {
	URL    string
	target string
	ln     net.Listener

	mu    sync.Mutex
	hung  bool
	conns map[net.Conn]bool // all, clients' and the server's
	pipes []net.Conn        // connections to the server, cut on hang
}

func newFlakyRedis(t *testing.T, redisURL string) *flakyRedis {
	t.Helper()
	u, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &flakyRedis{target: u.Host, ln: ln, conns: map[net.Conn]bool{}}
	u.Host = ln.Addr().String()
	f.URL = u.String()
	go f.serve()
	t.Cleanup(f.close)
	return f
}

func (f *flakyRedis) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns[c] = true
		hung := f.hung
		f.mu.Unlock()
		if !hung {
			go f.pipe(c)
		}
	}
}

// pipe passes c through to the server.
func (f *flakyRedis) pipe(c net.Conn) {
	s, err := net.Dial("tcp", f.target)
	if err != nil {
		c.Close()
		return
	}
	f.mu.Lock()
	f.conns[s] = true
	f.pipes = append(f.pipes, s)
	f.mu.Unlock()
	go io.Copy(s, c)
	// Once the server side is cut, c stays open and silent.
	io.Copy(c, s)
}

// hang cuts every connection to the server and leaves new ones unanswered.
func (f *flakyRedis) hang() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hung = true
	for _, s := range f.pipes {
		s.Close()
	}
	f.pipes = nil
}

// heal passes new connections through again.
func (f *flakyRedis) heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hung = false
}

func (f *flakyRedis) close() {
	f.ln.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.Close()
	}
}

// TestReadingDoesNotSave: a page that only reads the session leaves it
// alone. Were it saved, a history page open in one tab would write back
// what it read over a view made meanwhile in another.
func TestReadingDoesNotSave(t *testing.T) {
	a := newWarmApp(t, latest)
	v := a.visitor()
	v.view(t, 3)
	for _, tt := range []struct {
		method, target string
		h              http.Header
	}{
		{http.MethodGet, "/history", nil},
		{http.MethodHead, "/comic/5", nil},
		{http.MethodGet, "/comic/5", header("HX-Request", "true", "HX-History-Restore-Request", "true")},
		{http.MethodGet, "/comic/5", header("Sec-Purpose", "prefetch")},
		{http.MethodGet, "/random", nil}, // no JavaScript: a redirect, not a view
	} {
		w := v.do(t, tt.method, tt.target, tt.h)
		if c := w.Header().Values("Set-Cookie"); len(c) > 0 {
			t.Errorf("%s %s: session saved (Set-Cookie %q), want it left alone", tt.method, tt.target, c)
		}
	}
	// A view does save it.
	if c := v.get(t, "/comic/5", nil).Header().Values("Set-Cookie"); len(c) != 1 {
		t.Errorf("a view: got Set-Cookie %q, want the session saved", c)
	}
}
