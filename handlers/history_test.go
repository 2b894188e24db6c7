package handlers_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/xkcdapp/xkcdapp/session"
	"github.com/xkcdapp/xkcdapp/xkcd/xkcdtest"
)

// sameOrigin is what a browser sends with a form or htmx POST from our own page.
var sameOrigin = header("Sec-Fetch-Site", "same-origin")

// htmxSameOrigin is sameOrigin for a POST htmx makes.
var htmxSameOrigin = header("Sec-Fetch-Site", "same-origin", "HX-Request", "true")

// nums is the data-num of every element sel matches, in document order.
func nums(t *testing.T, doc *goquery.Document, sel string) []int {
	t.Helper()
	got := []int{}
	doc.Find(sel).Each(func(_ int, s *goquery.Selection) {
		n, err := strconv.Atoi(s.AttrOr("data-num", ""))
		if err != nil {
			t.Fatalf("%s data-num: got %q, want a number", sel, s.AttrOr("data-num", ""))
		}
		got = append(got, n)
	})
	return got
}

// historyShown is the comics the visitor's /history lists, newest first.
func (v *visitor) historyShown(t *testing.T) []int {
	t.Helper()
	w := v.get(t, "/history", nil)
	assertStatus(t, w, http.StatusOK)
	return nums(t, parse(t, w), "#history-list li[data-num]")
}

// view views each comic as a full page.
func (v *visitor) view(t *testing.T, comics ...int) {
	t.Helper()
	for _, n := range comics {
		assertStatus(t, v.get(t, "/comic/"+strconv.Itoa(n), nil), http.StatusOK)
	}
}

// text is s's text with runs of space collapsed.
func text(s *goquery.Selection) string { return collapse(s.Text()) }

// collapse turns runs of space into one and trims the ends.
func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestHistoryPage(t *testing.T) {
	a := newWarmApp(t, latest)
	v := a.visitor()
	start := time.Now().Truncate(time.Second)
	v.view(t, 3, 5, 5, 7)
	end := time.Now()

	w := v.get(t, "/history", nil)
	assertStatus(t, w, http.StatusOK)
	assertFullPage(t, w)
	assertVary(t, w, "Cookie")
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control: got %q, want %q", got, "no-store")
	}
	doc := parse(t, w)
	if got, want := nums(t, doc, "#history-list li[data-num]"), []int{7, 5, 3}; !slices.Equal(got, want) {
		t.Errorf("history: got %v, want %v", got, want)
	}
	summary := one(t, doc, "#history-summary")
	if got := summary.AttrOr("data-seen", ""); got != "3" {
		t.Errorf("data-seen: got %q, want %q", got, "3")
	}
	if got := summary.AttrOr("data-total", ""); got != strconv.Itoa(latest) {
		t.Errorf("data-total: got %q, want %d", got, latest)
	}
	if got, want := text(summary), "You have seen 3 of 20 comics (15.0%)."; got != want {
		t.Errorf("summary: got %q, want %q", got, want)
	}
	progress := one(t, doc, "#history-progress")
	if got := progress.AttrOr("max", "") + "/" + progress.AttrOr("value", ""); got != "20/3" {
		t.Errorf("progress max/value: got %q, want %q", got, "20/3")
	}
	doc.Find("#history-list li").Each(func(i int, li *goquery.Selection) {
		num := li.AttrOr("data-num", "")
		n, _ := strconv.Atoi(num)
		if got, want := text(li.Find(".num")), "#"+num; got != want {
			t.Errorf("entry %d number: got %q, want %q", i, got, want)
		}
		if got, want := text(li.Find("a")), collapse(xkcdtest.Title(n)); got != want {
			t.Errorf("entry %d link text: got %q, want %q", i, got, want)
		}
		if got := li.Find("a").AttrOr("href", ""); got != "/comic/"+num {
			t.Errorf("entry %d href: got %q, want %q", i, got, "/comic/"+num)
		}
		tm := li.Find("time")
		at, err := time.Parse(time.RFC3339, tm.AttrOr("datetime", ""))
		if err != nil {
			t.Fatalf("entry %d datetime: got %q, want RFC 3339", i, tm.AttrOr("datetime", ""))
		}
		if at.Before(start) || at.After(end) {
			t.Errorf("entry %d datetime: got %v, want between %v and %v", i, at, start, end)
		}
		if got := tm.Text(); got != "just now" {
			t.Errorf("entry %d time text: got %q, want %q", i, got, "just now")
		}
	})
	if got := doc.Find(`form[method=post][action="/history/clear"] button`).Length(); got != 1 {
		t.Errorf("clear button: got %d, want 1", got)
	}
}

// TestHistoryTotalLeavesOut404: with xkcd past 404, there is one comic
// fewer than the latest number.
func TestHistoryTotalLeavesOut404(t *testing.T) {
	a := newApp(t, 410)
	v := a.visitor()
	w := v.get(t, "/latest", htmx)
	assertStatus(t, w, http.StatusOK)
	if n := comicShown(t, w); n != 410 {
		t.Fatalf("latest comic: got %d, want 410", n)
	}
	summary := one(t, parse(t, v.get(t, "/history", nil)), "#history-summary")
	if got := summary.AttrOr("data-seen", "") + " of " + summary.AttrOr("data-total", ""); got != "1 of 409" {
		t.Errorf("seen of total: got %q, want %q", got, "1 of 409")
	}
}

func TestHistoryNotPushed(t *testing.T) {
	restore := header("HX-Request", "true", "HX-History-Restore-Request", "true")
	tests := []struct {
		name       string
		method     string
		target     string
		header     http.Header
		wantStatus int
	}{
		{"HEAD", http.MethodHead, "/comic/9", nil, http.StatusOK},
		{"htmx history restore", http.MethodGet, "/comic/9", restore, http.StatusOK},
		{"Sec-Purpose prefetch", http.MethodGet, "/comic/9", header("Sec-Purpose", "prefetch"), http.StatusOK},
		{"Purpose prefetch", http.MethodGet, "/comic/9", header("Purpose", "prefetch"), http.StatusOK},
		{"history page", http.MethodGet, "/history", nil, http.StatusOK},
		{"random without htmx redirects", http.MethodGet, "/random", nil, http.StatusSeeOther},
		{"latest without htmx redirects", http.MethodGet, "/latest", nil, http.StatusSeeOther},
		{"leading zeros redirect", http.MethodGet, "/comic/009", nil, http.StatusMovedPermanently},
		{"no such comic", http.MethodGet, "/comic/" + strconv.Itoa(latest+2), nil, http.StatusNotFound},
	}
	a := newWarmApp(t, latest)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := a.visitor()
			v.view(t, 3, 5)
			assertStatus(t, v.do(t, tt.method, tt.target, tt.header), tt.wantStatus)
			if got, want := v.historyShown(t), []int{5, 3}; !slices.Equal(got, want) {
				t.Errorf("history: got %v, want %v", got, want)
			}
			seen := one(t, parse(t, v.get(t, "/history", nil)), "#history-summary").AttrOr("data-seen", "")
			if seen != "2" {
				t.Errorf("data-seen: got %q, want %q", seen, "2")
			}
		})
	}
}

// TestRecentStrip: under each comic, the visitor's last five comics, newest
// first, the one on screen marked; out of band in an htmx swap.
func TestRecentStrip(t *testing.T) {
	a := newWarmApp(t, latest)

	t.Run("new visitor", func(t *testing.T) {
		// A prefetch is not a view, so the strip is still empty.
		w := a.visitor().get(t, "/comic/1", header("Sec-Purpose", "prefetch"))
		assertStatus(t, w, http.StatusOK)
		doc := parse(t, w)
		recent := one(t, doc, "aside#recent")
		if got := recent.Find("li").Length(); got != 0 {
			t.Errorf("strip entries: got %d, want 0", got)
		}
		if got, want := text(recent.Find(".empty")), "Comics you view will show up here."; got != want {
			t.Errorf("empty strip: got %q, want %q", got, want)
		}
	})

	v := a.visitor()
	v.view(t, 1, 2, 3, 5, 6, 7)
	w := v.get(t, "/comic/"+strconv.Itoa(xkcdtest.Markup), nil)
	assertStatus(t, w, http.StatusOK)
	assertFullPage(t, w)
	doc := parse(t, w)
	recent := one(t, doc, "aside#recent")
	if _, oob := recent.Attr("hx-swap-oob"); oob {
		t.Errorf("strip in a full page: got hx-swap-oob, want none")
	}
	if got, want := nums(t, doc, "#recent li[data-num]"), []int{4, 7, 6, 5, 3}; !slices.Equal(got, want) {
		t.Errorf("strip: got %v, want %v", got, want)
	}
	current := doc.Find(`#recent [aria-current="page"]`)
	if current.Length() != 1 || current.AttrOr("href", "") != "/comic/4" {
		t.Errorf("aria-current: got %d elements (first href %q), want 1, the link to /comic/4",
			current.Length(), current.AttrOr("href", ""))
	}
	link := doc.Find(`#recent li[data-num="4"] a`)
	if got, want := text(link), collapse("#4 "+xkcdtest.Title(xkcdtest.Markup)); got != want {
		t.Errorf("title with markup: got %q, want it as text, %q", got, want)
	}
	if got := link.AttrOr("hx-get", ""); got != "/comic/4" {
		t.Errorf("hx-get: got %q, want %q", got, "/comic/4")
	}
	if got := doc.Find("#recent script, #recent b").Length(); got != 0 {
		t.Errorf("elements from the title's markup in the strip: got %d, want 0", got)
	}
	if got := doc.Find(`#recent a.more`).AttrOr("href", ""); got != "/history" {
		t.Errorf("link to the history: got %q, want %q", got, "/history")
	}

	w = v.get(t, "/comic/8", htmx)
	assertStatus(t, w, http.StatusOK)
	assertFragment(t, w)
	doc = parse(t, w)
	if got := one(t, doc, "aside#recent").AttrOr("hx-swap-oob", ""); got != "true" {
		t.Errorf("strip in a fragment hx-swap-oob: got %q, want %q", got, "true")
	}
	if got, want := nums(t, doc, "#recent li[data-num]"), []int{8, 4, 7, 6, 5}; !slices.Equal(got, want) {
		t.Errorf("strip: got %v, want %v", got, want)
	}
	if got := doc.Find(`#recent li[data-num="8"] a[aria-current="page"]`).Length(); got != 1 {
		t.Errorf("aria-current on comic 8: got %d, want 1", got)
	}
}

// TestRandomAvoidsSeen: "Another one" shows every comic once before it
// repeats one.
func TestRandomAvoidsSeen(t *testing.T) {
	a := newWarmApp(t, latest)
	v := a.visitor()
	seen := map[int]bool{}
	for i := range latest {
		w := v.get(t, "/random", htmx)
		assertStatus(t, w, http.StatusOK)
		n := comicShown(t, w)
		if seen[n] {
			t.Fatalf("pick %d: got comic %d again, want one not seen yet (seen %d)", i+1, n, len(seen))
		}
		seen[n] = true
	}
	// Every comic seen: the next pick is still a comic.
	w := v.get(t, "/random", htmx)
	assertStatus(t, w, http.StatusOK)
	if n := comicShown(t, w); n < 1 || n > latest {
		t.Errorf("pick with every comic seen: got %d, want one of 1..%d", n, latest)
	}
	summary := one(t, parse(t, v.get(t, "/history", nil)), "#history-summary")
	if got := summary.AttrOr("data-seen", ""); got != strconv.Itoa(latest) {
		t.Errorf("data-seen: got %q, want %d", got, latest)
	}
}

func TestClearHistory(t *testing.T) {
	a := newWarmApp(t, latest)

	t.Run("htmx", func(t *testing.T) {
		v := a.visitor()
		v.view(t, 3, 5)
		w := v.do(t, http.MethodPost, "/history/clear", htmxSameOrigin)
		assertStatus(t, w, http.StatusOK)
		assertFragment(t, w)
		if got := w.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control: got %q, want %q", got, "no-store")
		}
		doc := parse(t, w)
		h := one(t, doc, "#history")
		if got := h.Find("li").Length(); got != 0 {
			t.Errorf("entries after clearing: got %d, want 0", got)
		}
		if got := h.Find("#history-summary").AttrOr("data-seen", ""); got != "0" {
			t.Errorf("data-seen after clearing: got %q, want %q", got, "0")
		}
		notice := one(t, doc, "#notice")
		if got := notice.AttrOr("hx-swap-oob", ""); got != "innerHTML" {
			t.Errorf("#notice hx-swap-oob: got %q, want %q", got, "innerHTML")
		}
		if got, want := text(notice), "Your history is cleared."; got != want {
			t.Errorf("#notice: got %q, want %q", got, want)
		}
		if got := v.historyShown(t); len(got) != 0 {
			t.Errorf("history after clearing: got %v, want none", got)
		}
		v.view(t, 9)
		if got, want := v.historyShown(t), []int{9}; !slices.Equal(got, want) {
			t.Errorf("history after clearing and viewing 9: got %v, want %v", got, want)
		}
	})

	t.Run("without JavaScript", func(t *testing.T) {
		v := a.visitor()
		v.view(t, 3)
		w := v.do(t, http.MethodPost, "/history/clear", sameOrigin)
		assertStatus(t, w, http.StatusSeeOther)
		if got := w.Header().Get("Location"); got != "/history" {
			t.Errorf("Location: got %q, want %q", got, "/history")
		}
		doc := parse(t, v.get(t, "/history", nil))
		if got := doc.Find("#history li").Length(); got != 0 {
			t.Errorf("entries after clearing: got %d, want 0", got)
		}
		if got := doc.Find("#history-summary").AttrOr("data-seen", ""); got != "0" {
			t.Errorf("data-seen after clearing: got %q, want %q", got, "0")
		}
		if got := doc.Find("#history .empty").Length(); got != 1 {
			t.Errorf("empty history message: got %d, want 1", got)
		}
		// The page after the redirect says the clear worked, once.
		if got, want := text(doc.Find("#notice")), "Your history is cleared."; got != want {
			t.Errorf("notice after the redirect: got %q, want %q", got, want)
		}
		if got := text(parse(t, v.get(t, "/history", nil)).Find("#notice")); got != "" {
			t.Errorf("notice on the next visit: got %q, want none", got)
		}
	})

	t.Run("new visitor", func(t *testing.T) {
		w := a.visitor().do(t, http.MethodPost, "/history/clear", sameOrigin)
		assertStatus(t, w, http.StatusSeeOther)
	})
}

// TestClearHistoryCrossSite: another site cannot clear a visitor's history
// by making their browser post the form.
func TestClearHistoryCrossSite(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		want   int
	}{
		{"Sec-Fetch-Site cross-site", header("Sec-Fetch-Site", "cross-site"), http.StatusForbidden},
		{"Sec-Fetch-Site same-site", header("Sec-Fetch-Site", "same-site"), http.StatusForbidden},
		{"Origin of another site", header("Origin", "https://evil.example"), http.StatusForbidden},
		{"Sec-Fetch-Site same-origin", sameOrigin, http.StatusSeeOther},
		{"Origin of this host", header("Origin", "http://example.com"), http.StatusSeeOther},
		{"not a browser", nil, http.StatusSeeOther},
	}
	a := newWarmApp(t, latest)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := a.visitor()
			v.view(t, 3, 5)
			w := v.do(t, http.MethodPost, "/history/clear", tt.header)
			wantHistory := []int{}
			if tt.want == http.StatusForbidden {
				assertProblem(t, w, http.StatusForbidden)
				wantHistory = []int{5, 3}
			} else {
				assertStatus(t, w, tt.want)
			}
			if got := v.historyShown(t); !slices.Equal(got, wantHistory) {
				t.Errorf("history: got %v, want %v", got, wantHistory)
			}
		})
	}

	t.Run("htmx", func(t *testing.T) {
		v := a.visitor()
		v.view(t, 3)
		w := v.do(t, http.MethodPost, "/history/clear", header("Sec-Fetch-Site", "cross-site", "HX-Request", "true"))
		assertStatus(t, w, http.StatusForbidden)
		assertFragment(t, w)
		if got := w.Header().Get("HX-Retarget"); got != "#notice" {
			t.Errorf("HX-Retarget: got %q, want %q", got, "#notice")
		}
		if got, want := v.historyShown(t), []int{3}; !slices.Equal(got, want) {
			t.Errorf("history: got %v, want %v", got, want)
		}
	})
}

func TestHistoryMethodNotAllowed(t *testing.T) {
	tests := []struct {
		method, target string
		want           string
	}{
		{http.MethodGet, "/history/clear", "POST"},
		{http.MethodPut, "/history/clear", "POST"},
		{http.MethodPost, "/comic/1", "GET, HEAD"},
		{http.MethodPost, "/history", "GET, HEAD"},
	}
	a := newWarmApp(t, latest)
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			v := a.visitor()
			v.view(t, 3)
			w := v.do(t, tt.method, tt.target, sameOrigin)
			assertProblem(t, w, http.StatusMethodNotAllowed)
			if got := w.Header().Get("Allow"); got != tt.want {
				t.Errorf("Allow: got %q, want %q", got, tt.want)
			}
			// A link or a prefetch to the clear address clears nothing.
			if got, want := v.historyShown(t), []int{3}; !slices.Equal(got, want) {
				t.Errorf("history: got %v, want %v", got, want)
			}
		})
	}
}

// assertLifetime checks that cookie c, set at about t0, lasts about d.
func assertLifetime(t *testing.T, c *http.Cookie, t0 time.Time, d time.Duration) {
	t.Helper()
	if got := time.Duration(c.MaxAge) * time.Second; got < d-5*time.Second || got > d+time.Second {
		t.Errorf("Max-Age: got %v, want about %v", got, d)
	}
	if want := t0.Add(d); c.Expires.Before(want.Add(-5*time.Second)) || c.Expires.After(want.Add(5*time.Second)) {
		t.Errorf("Expires: got %v, want about %v", c.Expires, want)
	}
}

func TestSessionCookie(t *testing.T) {
	a := newWarmApp(t, latest)
	tests := []struct {
		name       string
		target     string
		header     http.Header
		wantSecure bool
	}{
		{"plain HTTP", "/comic/3", nil, false},
		{"behind an HTTPS load balancer", "/comic/3", header("X-Forwarded-Proto", "https"), true},
		{"behind two proxies", "/comic/3", header("X-Forwarded-Proto", "HTTPS, http"), true},
		{"load balancer on HTTP", "/comic/3", header("X-Forwarded-Proto", "http"), false},
		{"TLS", "https://example.com/comic/3", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now()
			w := a.get(t, tt.target, tt.header)
			assertStatus(t, w, http.StatusOK)
			c := sessionCookie(t, w)
			if c == nil {
				t.Fatalf("Set-Cookie: got %q, want the session cookie", w.Header().Values("Set-Cookie"))
			}
			if c.Value == "" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
				t.Errorf("cookie: got value %q HttpOnly %v SameSite %v Path %q, want a value, HttpOnly, Lax, /",
					c.Value, c.HttpOnly, c.SameSite, c.Path)
			}
			if c.Secure != tt.wantSecure {
				t.Errorf("Secure: got %v, want %v", c.Secure, tt.wantSecure)
			}
			// A first visit's session outlives the browser, briefly.
			assertLifetime(t, c, before, session.FirstVisitLifetime)
		})
	}

	t.Run("kept across visits", func(t *testing.T) {
		v := a.visitor()
		v.view(t, 3)
		first := v.cookie.Value
		// The visitor came back: now the session lives until a month
		// without a visit.
		before := time.Now()
		v.view(t, 5)
		if v.cookie.Value != first {
			t.Errorf("session token after a second visit: got %q, want %q", v.cookie.Value, first)
		}
		assertLifetime(t, v.cookie, before, session.IdleTimeout)
		before = time.Now()
		v.view(t, 6)
		assertLifetime(t, v.cookie, before, session.IdleTimeout)
	})

	t.Run("Vary", func(t *testing.T) {
		for _, tt := range []struct {
			method, target string
			header         http.Header
		}{
			{http.MethodGet, "/", nil},
			{http.MethodGet, "/comic/3", nil},
			{http.MethodGet, "/comic/3", htmx},
			{http.MethodGet, "/random", nil},
			{http.MethodGet, "/history", nil},
			{http.MethodPost, "/history/clear", sameOrigin},
		} {
			w := a.do(t, tt.method, tt.target, tt.header)
			if w.Code >= 400 {
				t.Fatalf("%s %s: got status %d, want success", tt.method, tt.target, w.Code)
			}
			assertVary(t, w, "Cookie")
		}
	})
}

// one is the single element sel matches, failing unless there is exactly one.
func one(t *testing.T, doc *goquery.Document, sel string) *goquery.Selection {
	t.Helper()
	s := doc.Find(sel)
	if s.Length() != 1 {
		t.Fatalf("%s: got %d elements, want 1", sel, s.Length())
	}
	return s
}

// TestRecentStripShowsEachComicOnce: reading back and forth between two
// comics fills the history with both, but the strip shows each once.
func TestRecentStripShowsEachComicOnce(t *testing.T) {
	a := newWarmApp(t, latest)
	v := a.visitor()
	v.view(t, 2, 4, 6, 4, 6, 4)
	doc := parse(t, v.get(t, "/comic/4", htmx))
	if got, want := nums(t, doc, "#recent li[data-num]"), []int{4, 6, 2}; !slices.Equal(got, want) {
		t.Errorf("strip: got %v, want %v", got, want)
	}
	if got := doc.Find(`#recent [aria-current="page"]`).Length(); got != 1 {
		t.Errorf("aria-current: on %d links, want 1", got)
	}
	hist := parse(t, v.get(t, "/history", nil))
	if got, want := nums(t, hist, "#history-list li"), []int{4, 6, 4, 6, 4, 2}; !slices.Equal(got, want) {
		t.Errorf("history: got %v, want %v (every view, repeats collapsed only when consecutive)", got, want)
	}
}
