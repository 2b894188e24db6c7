package handlers_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/xkcdapp/xkcdapp/admin"
	"github.com/xkcdapp/xkcdapp/catalog"
	"github.com/xkcdapp/xkcdapp/counter"
	"github.com/xkcdapp/xkcdapp/handlers"
	"github.com/xkcdapp/xkcdapp/live"
	"github.com/xkcdapp/xkcdapp/session"
	"github.com/xkcdapp/xkcdapp/store"
	"github.com/xkcdapp/xkcdapp/xkcd"
	"github.com/xkcdapp/xkcdapp/xkcd/xkcdtest"
)

// latest is the newest comic of the fake upstream in most tests.
const latest = 20

// app is the real handler over a fake upstream and the in-memory store.
type app struct {
	h        http.Handler
	upstream *xkcdtest.Server
	store    *store.Memory
	catalog  *catalog.Catalog
	hub      *live.Hub
}

// newApp wires the app the way cmd/xkcdapp does, with a cold catalog and
// sessions in memory.
func newApp(t testing.TB, latest int) *app {
	t.Helper()
	return newAppWithSessions(t, latest, nil)
}

// newAppWithSessions is newApp with the given sessions; nil is in memory.
func newAppWithSessions(t testing.TB, latest int, sessions *session.Sessions) *app {
	t.Helper()
	return newAppWith(t, latest, sessions, nil)
}

// newAppWith is newApp with the given sessions (nil: in memory) and admin
// console (nil: none).
func newAppWith(t testing.TB, latest int, sessions *session.Sessions, guard *admin.Guard) *app {
	t.Helper()
	up := xkcdtest.NewServer(latest)
	t.Cleanup(up.Stop)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	client := xkcd.NewClient(up.URL, xkcd.WithRetries(1, time.Millisecond), xkcd.WithTimeout(time.Second))
	mem := store.NewMemory()
	cat := catalog.New(client, mem, log, catalog.WithFetchTimeout(2*time.Second), catalog.WithConcurrency(8))
	views := counter.New(mem, log)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := views.Close(ctx); err != nil {
			t.Errorf("counter close: %v", err)
		}
	})
	hub := live.New(mem, cat, log, live.WithInterval(10*time.Millisecond))
	ctx, stopLive := context.WithCancel(context.Background())
	var running sync.WaitGroup
	running.Go(func() { mem.Listen(ctx, log, hub.Changed) })
	running.Go(func() { hub.Run(ctx) })
	t.Cleanup(func() {
		stopLive()
		running.Wait()
	})
	if sessions == nil {
		var err error
		if sessions, err = session.Open("", session.Options{}, log); err != nil {
			t.Fatal(err)
		}
	}
	h := handlers.New(handlers.Deps{
		Catalog:      cat,
		Counter:      views,
		Rankings:     mem,
		Live:         hub,
		Sessions:     sessions,
		Log:          log,
		DatabaseKind: "memory",
		ImageOrigins: []string{"https://imgs.xkcd.com", up.URL},
		Admin:        guard,
		AdminStore:   mem,
	})
	return &app{h: h, upstream: up, store: mem, catalog: cat, hub: hub}
}

// newWarmApp is newApp with every comic already in the catalog.
func newWarmApp(t testing.TB, latest int) *app {
	t.Helper()
	a := newApp(t, latest)
	a.warm(t)
	return a
}

// warm puts every comic in a's catalog.
func (a *app) warm(t testing.TB) {
	t.Helper()
	if err := a.catalog.Backfill(t.Context(), nil); err != nil {
		t.Fatalf("backfill: %v", err)
	}
	if st := a.catalog.Status(); !st.Complete {
		t.Fatalf("catalog after backfill: got %+v, want complete", st)
	}
}

// header builds request headers from key, value pairs.
func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// htmx is the header htmx sends with every request it makes.
var htmx = header("HX-Request", "true")

// do sends one request to the app and returns the response.
func (a *app) do(t *testing.T, method, target string, h http.Header) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequestWithContext(t.Context(), method, target, nil)
	for k, vs := range h {
		r.Header[k] = vs
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	return w
}

// get is do for GET.
func (a *app) get(t *testing.T, target string, h http.Header) *httptest.ResponseRecorder {
	t.Helper()
	return a.do(t, http.MethodGet, target, h)
}

// views is the stored view count of comic num.
func (a *app) views(t *testing.T, num int) int64 {
	t.Helper()
	n, err := a.store.Views(t.Context(), num)
	if err != nil {
		t.Fatalf("store views of %d: %v", num, err)
	}
	return n
}

// parse parses a response body as HTML.
func parse(t *testing.T, w *httptest.ResponseRecorder) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(w.Body.String()))
	if err != nil {
		t.Fatalf("parse body: %v", err)
	}
	return doc
}

// assertStatus fails the test now unless w has the status want.
func assertStatus(t *testing.T, w *httptest.ResponseRecorder, want int) {
	t.Helper()
	if w.Code != want {
		t.Fatalf("status: got %d, want %d; body: %.300s", w.Code, want, w.Body.String())
	}
}

// assertFullPage fails unless w is a whole HTML document.
func assertFullPage(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if got := w.Header().Get("Content-Type"); !strings.HasPrefix(got, "text/html") {
		t.Errorf("Content-Type: got %q, want text/html", got)
	}
	if !strings.Contains(w.Body.String(), "<html") {
		t.Errorf("body: got no <html, want a full page: %.300s", w.Body.String())
	}
}

// assertFragment fails unless w is a piece of a page for htmx to swap in.
func assertFragment(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if got := w.Header().Get("Content-Type"); !strings.HasPrefix(got, "text/html") {
		t.Errorf("Content-Type: got %q, want text/html", got)
	}
	if strings.Contains(w.Body.String(), "<html") {
		t.Errorf("body: got <html, want a fragment: %.300s", w.Body.String())
	}
}

// comicShown returns the number of the one comic in w, failing unless
// there is exactly one.
func comicShown(t *testing.T, w *httptest.ResponseRecorder) int {
	t.Helper()
	comics := parse(t, w).Find("#comic")
	if comics.Length() != 1 {
		t.Fatalf("#comic: got %d elements, want 1", comics.Length())
	}
	n, err := strconv.Atoi(comics.AttrOr("data-num", ""))
	if err != nil {
		t.Fatalf("#comic data-num: got %q, want a number", comics.AttrOr("data-num", ""))
	}
	return n
}

// viewsShown returns the data-views of the comic in w.
func viewsShown(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	s := parse(t, w).Find("#comic [data-views]")
	if s.Length() != 1 {
		t.Fatalf("#comic [data-views]: got %d elements, want 1", s.Length())
	}
	return s.AttrOr("data-views", "")
}

// assertProblem fails unless w is an HTML problem page with status want.
func assertProblem(t *testing.T, w *httptest.ResponseRecorder, want int) *goquery.Document {
	t.Helper()
	assertStatus(t, w, want)
	assertFullPage(t, w)
	doc := parse(t, w)
	p := doc.Find("#problem")
	if got := p.AttrOr("data-status", ""); got != strconv.Itoa(want) {
		t.Errorf("#problem data-status: got %q, want %d", got, want)
	}
	if n := doc.Find("#comic").Length(); n != 0 {
		t.Errorf("#comic on a problem page: got %d, want 0", n)
	}
	return doc
}

// assertVary fails unless the response varies on every one of want.
func assertVary(t *testing.T, w *httptest.ResponseRecorder, want ...string) {
	t.Helper()
	var got []string
	for _, v := range w.Header().Values("Vary") {
		for f := range strings.SplitSeq(v, ",") {
			got = append(got, strings.ToLower(strings.TrimSpace(f)))
		}
	}
	for _, f := range want {
		found := false
		for _, g := range got {
			found = found || g == strings.ToLower(f)
		}
		if !found {
			t.Errorf("Vary: got %q, want it to include %q", got, f)
		}
	}
}

// visitor is one browser: it sends back the session cookie the app last
// set, as a cookie jar would.
type visitor struct {
	a      *app
	cookie *http.Cookie
}

func (a *app) visitor() *visitor { return &visitor{a: a} }

// do is app.do with the visitor's cookie, keeping any new one.
func (v *visitor) do(t *testing.T, method, target string, h http.Header) *httptest.ResponseRecorder {
	t.Helper()
	h = h.Clone()
	if h == nil {
		h = http.Header{}
	}
	if v.cookie != nil {
		h.Set("Cookie", v.cookie.Name+"="+v.cookie.Value)
	}
	w := v.a.do(t, method, target, h)
	if c := sessionCookie(t, w); c != nil {
		v.cookie = c
	}
	return w
}

// get is do for GET.
func (v *visitor) get(t *testing.T, target string, h http.Header) *httptest.ResponseRecorder {
	t.Helper()
	return v.do(t, http.MethodGet, target, h)
}

// sessionCookie is the session cookie w sets, nil for none. It fails the
// test when w sets more than one.
func sessionCookie(t *testing.T, w *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	var found *http.Cookie
	for _, line := range w.Header().Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("Set-Cookie %q: %v", line, err)
		}
		if c.Name != session.CookieName {
			continue
		}
		if found != nil {
			t.Errorf("Set-Cookie %s: got it twice in one response, want once", session.CookieName)
		}
		found = c
	}
	return found
}
