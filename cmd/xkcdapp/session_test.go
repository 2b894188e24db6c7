package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/xkcdapp/xkcdapp/logtest"
	"github.com/xkcdapp/xkcdapp/session/sessiontest"
	"github.com/xkcdapp/xkcdapp/xkcd/xkcdtest"
)

// outageBudget is how long a page may take while Redis is in trouble: the
// session store's 250 ms budget, and some room for the race detector.
const outageBudget = 750 * time.Millisecond

// askedRedis is how long a page takes at least when it waited for a
// Redis that does not answer; pages that do not ask take milliseconds.
const askedRedis = 200 * time.Millisecond

// newVisitor is one visitor's client: it keeps cookies, for every port of
// 127.0.0.1 alike, and shows redirects instead of following them.
func newVisitor(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// post sends an empty POST, as the clear button's form does.
func post(t *testing.T, client *http.Client, url string, header ...string) (int, http.Header, string) {
	t.Helper()
	return send(t, client, http.MethodPost, url, header...)
}

func parseHTML(t *testing.T, body string) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse HTML: %v", err)
	}
	return doc
}

// dataNums is the data-num of every element sel matches, in order.
func dataNums(t *testing.T, doc *goquery.Document, sel string) []int {
	t.Helper()
	nums := []int{}
	doc.Find(sel).Each(func(_ int, s *goquery.Selection) {
		n, err := strconv.Atoi(s.AttrOr("data-num", ""))
		if err != nil {
			t.Fatalf("%s: data-num %q is not a number", sel, s.AttrOr("data-num", ""))
		}
		nums = append(nums, n)
	})
	return nums
}

// historyPage is what GET /history shows a visitor.
type historyPage struct {
	Nums        []int // newest first
	Seen, Total int
	Unavailable bool
}

func readHistory(t *testing.T, client *http.Client, base string) historyPage {
	t.Helper()
	status, _, body := get(t, client, base+"/history")
	if status != http.StatusOK {
		t.Fatalf("GET %s/history: status %d, want 200", base, status)
	}
	doc := parseHTML(t, body)
	if doc.Find("section#history").Length() != 1 {
		t.Fatalf("GET %s/history: no section#history in %s", base, body)
	}
	h := historyPage{
		Nums:        dataNums(t, doc, "#history-list li[data-num]"),
		Unavailable: doc.Find("#history #history-unavailable").Length() == 1,
	}
	summary := doc.Find("#history-summary")
	h.Seen, _ = strconv.Atoi(summary.AttrOr("data-seen", "-1"))
	h.Total, _ = strconv.Atoi(summary.AttrOr("data-total", "-1"))
	if len(h.Nums) == 0 && !h.Unavailable && doc.Find("#history p.empty").Length() != 1 {
		t.Errorf("GET %s/history: no entries, and no p.empty saying so", base)
	}
	return h
}

// recentStrip is the recently viewed strip of a comic page or fragment.
type recentStrip struct {
	Nums           []int // newest first
	Current        []int // the comics marked aria-current="page"
	FirstIsCurrent bool
	OOB            bool // hx-swap-oob="true", as a swap needs it
	Unavailable    bool
}

// shows reports whether the strip starts with num and marks it, and only
// it, current.
func (s recentStrip) shows(num int) bool {
	return len(s.Nums) > 0 && s.Nums[0] == num && s.FirstIsCurrent && slices.Equal(s.Current, []int{num})
}

func readRecent(t *testing.T, body string) recentStrip {
	t.Helper()
	doc := parseHTML(t, body)
	aside := doc.Find("aside#recent")
	if aside.Length() != 1 {
		t.Fatalf("aside#recent elements = %d, want 1 in %s", aside.Length(), body)
	}
	return recentStrip{
		Nums:           dataNums(t, doc, "aside#recent li[data-num]"),
		Current:        dataNums(t, doc, `aside#recent li[data-num]:has(a[aria-current="page"])`),
		FirstIsCurrent: aside.Find("li[data-num]").First().Find(`a[aria-current="page"]`).Length() == 1,
		OOB:            aside.AttrOr("hx-swap-oob", "") == "true",
		Unavailable:    aside.Find("#history-unavailable").Length() == 1,
	}
}

// shownIn is the comic a page or fragment shows.
func shownIn(t *testing.T, body string) int {
	t.Helper()
	nums := dataNums(t, parseHTML(t, body), "#comic")
	if len(nums) != 1 {
		t.Fatalf("#comic data-num = %v, want exactly one comic", nums)
	}
	return nums[0]
}

// view gets a comic page (or an htmx fragment, with header) and fails
// unless it is a 200.
func view(t *testing.T, client *http.Client, url string, header ...string) string {
	t.Helper()
	status, _, body := get(t, client, url, header...)
	if status != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200", url, status)
	}
	return body
}

type readyzSessions struct {
	Sessions struct {
		Kind  string
		OK    bool
		Error string
	}
}

func readSessionsReadiness(t *testing.T, base string) (int, readyzSessions) {
	t.Helper()
	status, _, body := get(t, http.DefaultClient, base+"/readyz")
	var rd readyzSessions
	if err := json.Unmarshal([]byte(body), &rd); err != nil {
		t.Fatalf("/readyz body %q: %v", body, err)
	}
	return status, rd
}

// TestHistorySharedBetweenInstances: two tasks behind one load balancer
// share Redis, so a visitor whose requests alternate between them has one
// history, and random picks avoid what either task showed them.
func TestHistorySharedBetweenInstances(t *testing.T) {
	redisURL := sessiontest.URL(t)
	const latest = 12
	upstream := xkcdtest.NewServer(latest)
	t.Cleanup(upstream.Stop)
	env := map[string]string{"XKCD_BASE_URL": upstream.URL, "REDIS_URL": redisURL}
	a, b := startApp(t, env), startApp(t, env)
	a.waitUntilSynced(t)
	b.waitUntilSynced(t)
	visitor := newVisitor(t)

	// A repeat that is not consecutive is a new entry; a consecutive one,
	// even on the other task, is not.
	for _, v := range []struct {
		app *testApp
		num int
	}{{a, 3}, {b, 5}, {a, 7}, {b, 3}, {a, 3}} {
		body := view(t, visitor, fmt.Sprintf("%s/comic/%d", v.app.URL, v.num))
		if got := readRecent(t, body); !got.shows(v.num) {
			t.Fatalf("strip on comic %d = %v (current %v), want it first and current", v.num, got.Nums, got.Current)
		}
	}
	// Neither a HEAD nor htmx restoring its history is a view.
	if status, _, _ := send(t, visitor, http.MethodHead, b.URL+"/comic/9"); status != http.StatusOK {
		t.Fatalf("HEAD /comic/9: status %d, want 200", status)
	}
	view(t, visitor, a.URL+"/comic/10", "HX-Request", "true", "HX-History-Restore-Request", "true")

	want := historyPage{Nums: []int{3, 7, 5, 3}, Seen: 3, Total: latest}
	for name, app := range map[string]*testApp{"A": a, "B": b} {
		if got := readHistory(t, visitor, app.URL); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("history on %s = %+v, want %+v", name, got, want)
		}
	}

	// Each random pick, on either task, is a comic not yet seen, until
	// every comic is.
	seen := map[int]bool{3: true, 5: true, 7: true}
	nums := slices.Clone(want.Nums)
	for i := range latest - len(seen) {
		app := []*testApp{a, b}[i%2]
		body := view(t, visitor, app.URL+"/random", "HX-Request", "true")
		n := shownIn(t, body)
		if seen[n] {
			t.Fatalf("random pick #%d = %d, seen already; seen: %v", i, n, seen)
		}
		seen[n] = true
		nums = slices.Insert(nums, 0, n)
		if got := readRecent(t, body); !got.OOB || !got.shows(n) {
			t.Errorf("strip in the /random fragment = %+v, want it out of band with %d first and current", got, n)
		}
	}
	if got := readHistory(t, visitor, b.URL); !slices.Equal(got.Nums, nums) || got.Seen != latest {
		t.Errorf("history after seeing everything = %v (seen %d), want %v (seen %d)", got.Nums, got.Seen, nums, latest)
	}
	// With everything seen, random goes on picking.
	view(t, visitor, a.URL+"/random", "HX-Request", "true")
}

// TestSessionsRedisOutage: with Redis killed mid-run every page is still
// served, fast, and says history is unavailable; changing the history is
// refused; once Redis is back, history works again within seconds.
func TestSessionsRedisOutage(t *testing.T) {
	t.Parallel()
	redis := sessiontest.NewServer(t)
	upstream := xkcdtest.NewServer(60)
	t.Cleanup(upstream.Stop)
	app := startApp(t, map[string]string{"XKCD_BASE_URL": upstream.URL, "REDIS_URL": redis.URL})
	app.waitUntilSynced(t)
	visitor := newVisitor(t)
	view(t, visitor, app.URL+"/comic/3")
	view(t, visitor, app.URL+"/comic/4")
	if got := readHistory(t, visitor, app.URL); !slices.Equal(got.Nums, []int{4, 3}) {
		t.Fatalf("history with Redis up = %v, want [4 3]", got.Nums)
	}

	redis.Stop()
	for _, page := range []struct {
		path   string
		header []string
	}{
		{"/comic/5", nil},
		{"/", nil},
		{"/random", []string{"HX-Request", "true"}},
		{"/latest", []string{"HX-Request", "true"}},
		{"/comic/6", nil},
	} {
		start := time.Now()
		status, header, body := get(t, visitor, app.URL+page.path, page.header...)
		if took := time.Since(start); took > outageBudget {
			t.Errorf("GET %s with Redis down took %v, want under %v", page.path, took, outageBudget)
		}
		if status != http.StatusOK {
			t.Fatalf("GET %s with Redis down: status %d, want 200", page.path, status)
		}
		if got := readRecent(t, body); !got.Unavailable || len(got.Nums) != 0 {
			t.Errorf("strip on %s with Redis down = %+v, want only #history-unavailable", page.path, got)
		}
		if c := header.Get("Set-Cookie"); c != "" {
			t.Errorf("GET %s with Redis down set a cookie %q, want none", page.path, c)
		}
	}
	start := time.Now()
	if got := readHistory(t, visitor, app.URL); !got.Unavailable || len(got.Nums) != 0 {
		t.Errorf("history with Redis down = %+v, want only #history-unavailable", got)
	}
	if took := time.Since(start); took > outageBudget {
		t.Errorf("GET /history with Redis down took %v, want under %v", took, outageBudget)
	}
	status, rd := readSessionsReadiness(t, app.URL)
	if status != http.StatusOK || rd.Sessions.Kind != "redis" || rd.Sessions.OK || rd.Sessions.Error == "" {
		t.Errorf("/readyz with Redis down: status %d sessions %+v, want 200 with kind redis, not ok, and an error", status, rd.Sessions)
	}
	status, _, body := post(t, visitor, app.URL+"/history/clear", "Sec-Fetch-Site", "same-origin", "Origin", app.URL)
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "Your history is out of reach") {
		t.Errorf("POST /history/clear with Redis down: status %d, want 503 saying history is out of reach; body %s", status, body)
	}
	status, header, _ := post(t, visitor, app.URL+"/history/clear", "Sec-Fetch-Site", "same-origin", "HX-Request", "true")
	if status != http.StatusServiceUnavailable || header.Get("HX-Retarget") != "#notice" {
		t.Errorf("htmx POST /history/clear with Redis down: status %d HX-Retarget %q, want 503 into #notice", status, header.Get("HX-Retarget"))
	}

	// The restarted Redis is empty: the old history is gone, new views count.
	redis.Start()
	waitFor(t, 10*time.Second, "comic pages to have history again", func() bool {
		return !readRecent(t, view(t, visitor, app.URL+"/comic/9")).Unavailable
	})
	if got := readHistory(t, visitor, app.URL); !slices.Equal(got.Nums, []int{9}) || got.Seen != 1 {
		t.Errorf("history once Redis is back = %v (seen %d), want [9] (seen 1)", got.Nums, got.Seen)
	}
	if status, rd := readSessionsReadiness(t, app.URL); status != http.StatusOK || !rd.Sessions.OK {
		t.Errorf("/readyz once Redis is back: status %d sessions %+v, want 200 and ok", status, rd.Sessions)
	}
	if status, header, _ := post(t, visitor, app.URL+"/history/clear", "Sec-Fetch-Site", "same-origin"); status != http.StatusSeeOther || header.Get("Location") != "/history" {
		t.Errorf("POST /history/clear once Redis is back: status %d Location %q, want 303 to /history", status, header.Get("Location"))
	}

	// The outage is logged when it starts and when it ends, not per request.
	if got := countLogs(app.logs, "sessions unavailable"); got != 1 {
		t.Errorf(`log lines about "sessions unavailable" = %d, want 1`, got)
	}
	if got := countLogs(app.logs, "sessions available again"); got != 1 {
		t.Errorf(`log lines about "sessions available again" = %d, want 1`, got)
	}
}

// countLogs is how many of the app's log lines have a message starting
// with prefix.
func countLogs(logs *logtest.Buffer, prefix string) int {
	n := 0
	for line := range strings.Lines(logs.String()) {
		var entry struct{ Msg string }
		if json.Unmarshal([]byte(line), &entry) == nil && strings.HasPrefix(entry.Msg, prefix) {
			n++
		}
	}
	return n
}

// TestSessionsRedisStalled: a Redis that accepts connections and never
// answers costs a page the session store's budget at most, and its
// password stays out of the log.
func TestSessionsRedisStalled(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var asks atomic.Int64 // reads of commands: each time the app asked
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { // read and never answer, until the app hangs up
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						asks.Add(1)
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	const password = "hunter4-secret"
	upstream := xkcdtest.NewServer(60)
	t.Cleanup(upstream.Stop)
	app := startApp(t, map[string]string{
		"XKCD_BASE_URL": upstream.URL,
		"REDIS_URL":     "redis://:" + password + "@" + ln.Addr().String() + "/0",
	})
	// A returning visitor: their session must be looked up in Redis.
	visitor := newVisitor(t)
	u, err := url.Parse(app.URL)
	if err != nil {
		t.Fatal(err)
	}
	visitor.Jar.SetCookies(u, []*http.Cookie{{Name: "xkcdapp_session", Value: "returning-visitor-token"}})

	// The first page waits out the store's budget, and no longer.
	start := time.Now()
	body := view(t, visitor, app.URL+"/comic/3")
	if took := time.Since(start); took < askedRedis || took > outageBudget {
		t.Errorf("first GET /comic/3 with Redis stalled took %v, want the session store's budget, under %v", took, outageBudget)
	}
	failed := time.Now()
	if got := readRecent(t, body); !got.Unavailable {
		t.Errorf("strip with Redis stalled = %+v, want #history-unavailable", got)
	}
	// Then Redis rests: pages come at once, until one asks it again.
	var asked time.Duration
	before := asks.Load()
	waitFor(t, 6*time.Second, "a page to ask Redis again after its quiet period", func() bool {
		start := time.Now()
		body := view(t, visitor, app.URL+"/comic/4")
		took := time.Since(start)
		if got := readRecent(t, body); !got.Unavailable {
			t.Fatalf("strip with Redis stalled = %+v, want #history-unavailable", got)
		}
		if took > outageBudget {
			t.Fatalf("GET /comic/4 with Redis stalled took %v, want under %v", took, outageBudget)
		}
		asked = time.Since(failed)
		return asks.Load() > before
	})
	if asked < time.Second {
		t.Errorf("Redis was asked again %v after it failed, want a quiet period of about 2s first", asked)
	}
	start = time.Now()
	if status, _, _ := post(t, visitor, app.URL+"/history/clear", "Sec-Fetch-Site", "same-origin"); status != http.StatusServiceUnavailable {
		t.Errorf("POST /history/clear with Redis stalled: status %d, want 503", status)
	}
	if took := time.Since(start); took > outageBudget {
		t.Errorf("POST /history/clear with Redis stalled took %v, want under %v", took, outageBudget)
	}
	// One outage, one line: not one per failed call.
	if got := countLogs(app.logs, "sessions unavailable"); got != 1 {
		t.Errorf(`log lines about "sessions unavailable" = %d, want 1`, got)
	}
	if err := app.Stop(); err != nil {
		t.Fatal(err)
	}
	if !app.logs.Contains("sessions in redis") {
		t.Fatalf("the log never said sessions are in Redis:\n%s", app.logs)
	}
	if app.logs.Contains(password) {
		t.Errorf("the Redis password is in the log:\n%s", app.logs)
	}
}

// TestSessionCookieBehindLoadBalancer: TLS ends at the load balancer, so
// the cookie is Secure exactly when the visitor's side was HTTPS.
func TestSessionCookieBehindLoadBalancer(t *testing.T) {
	upstream := xkcdtest.NewServer(20)
	t.Cleanup(upstream.Stop)
	app := startApp(t, map[string]string{"XKCD_BASE_URL": upstream.URL})
	tests := []struct {
		proto      string
		wantSecure bool
	}{
		{"", false},
		{"http", false},
		{"https", true},
		{"HTTPS", true},
		{"https, http", true}, // the first proxy saw the visitor
	}
	for _, tt := range tests {
		t.Run("X-Forwarded-Proto="+tt.proto, func(t *testing.T) {
			var header []string
			if tt.proto != "" {
				header = []string{"X-Forwarded-Proto", tt.proto}
			}
			status, h, _ := get(t, noRedirects, app.URL+"/comic/3", header...)
			if status != http.StatusOK {
				t.Fatalf("GET /comic/3: status %d, want 200", status)
			}
			lines := h.Values("Set-Cookie")
			if len(lines) != 1 {
				t.Fatalf("Set-Cookie headers = %q, want exactly one", lines)
			}
			c, err := http.ParseSetCookie(lines[0])
			if err != nil {
				t.Fatalf("Set-Cookie %q: %v", lines[0], err)
			}
			if c.Name != "xkcdapp_session" || c.Value == "" {
				t.Errorf("cookie = %s=%q, want xkcdapp_session with a token", c.Name, c.Value)
			}
			if c.Secure != tt.wantSecure {
				t.Errorf("cookie Secure = %v, want %v (Set-Cookie: %s)", c.Secure, tt.wantSecure, lines[0])
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge <= 0 {
				t.Errorf("cookie HttpOnly=%v SameSite=%v Path=%q MaxAge=%d, want HttpOnly, Lax, / and a lifetime (Set-Cookie: %s)",
					c.HttpOnly, c.SameSite, c.Path, c.MaxAge, lines[0])
			}
		})
	}
}

// TestClearHistoryCrossSite: another site cannot clear a visitor's
// history; this site can, with htmx or with the plain form.
func TestClearHistoryCrossSite(t *testing.T) {
	upstream := xkcdtest.NewServer(20)
	t.Cleanup(upstream.Stop)
	app := startApp(t, map[string]string{"XKCD_BASE_URL": upstream.URL})
	visitor := newVisitor(t)
	view(t, visitor, app.URL+"/comic/3")
	view(t, visitor, app.URL+"/comic/4")

	refused := [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
		{"Sec-Fetch-Site", "cross-site", "HX-Request", "true"},
		{"Origin", "https://evil.example"},
		{"Origin", "http://127.0.0.1.evil.example"},
	}
	for _, header := range refused {
		status, _, body := post(t, visitor, app.URL+"/history/clear", header...)
		if status != http.StatusForbidden || !strings.Contains(body, "another site") {
			t.Errorf("POST /history/clear with %q: status %d, want 403 saying the request came from another site", header, status)
		}
		if got := readHistory(t, visitor, app.URL); !slices.Equal(got.Nums, []int{4, 3}) || got.Seen != 2 {
			t.Fatalf("history after a refused clear with %q = %v (seen %d), want [4 3] (seen 2)", header, got.Nums, got.Seen)
		}
	}

	// htmx from this site: the emptied history, in place, and a notice.
	status, _, body := post(t, visitor, app.URL+"/history/clear", "Origin", app.URL, "HX-Request", "true")
	if status != http.StatusOK {
		t.Fatalf("htmx POST /history/clear from this site: status %d, want 200", status)
	}
	doc := parseHTML(t, body)
	if doc.Find("section#history p.empty").Length() != 1 || doc.Find("#history-list").Length() != 0 {
		t.Errorf("htmx clear answered %s, want section#history with p.empty and no list", body)
	}
	if notice := doc.Find(`#notice[hx-swap-oob]`); !strings.Contains(notice.Text(), "cleared") {
		t.Errorf("htmx clear: out-of-band notice %q, want it to say the history is cleared", notice.Text())
	}
	if got := readHistory(t, visitor, app.URL); len(got.Nums) != 0 || got.Seen != 0 {
		t.Errorf("history after the htmx clear = %v (seen %d), want empty", got.Nums, got.Seen)
	}

	// The form without JavaScript: a redirect back to the emptied page.
	view(t, visitor, app.URL+"/comic/5")
	status, header, _ := post(t, visitor, app.URL+"/history/clear", "Sec-Fetch-Site", "same-origin")
	if status != http.StatusSeeOther || header.Get("Location") != "/history" {
		t.Errorf("POST /history/clear from this site without htmx: status %d Location %q, want 303 to /history", status, header.Get("Location"))
	}
	if got := readHistory(t, visitor, app.URL); len(got.Nums) != 0 || got.Seen != 0 {
		t.Errorf("history after the form's clear = %v (seen %d), want empty", got.Nums, got.Seen)
	}
}
