package handlers_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

func TestHome(t *testing.T) {
	a := newWarmApp(t, latest)
	w := a.get(t, "/", nil)
	assertStatus(t, w, http.StatusOK)
	assertFullPage(t, w)
	if n := comicShown(t, w); n < 1 || n > latest {
		t.Errorf("comic shown: got %d, want 1..%d", n, latest)
	}
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control: got %q, want %q", got, "no-store")
	}
	assertVary(t, w, "HX-Request")
}

func TestHomeIsRandom(t *testing.T) {
	a := newWarmApp(t, latest)
	seen := map[int]bool{}
	for range 60 {
		seen[comicShown(t, a.get(t, "/", nil))] = true
	}
	// 60 uniform picks from 20 comics land on fewer than 5 with odds below 1e-20.
	if len(seen) < 5 {
		t.Errorf("distinct comics on 60 home pages: got %d, want at least 5", len(seen))
	}
}

func TestComicPermalink(t *testing.T) {
	tests := []struct {
		name      string
		header    http.Header
		wantFull  bool
		wantPush  string
		wantCount int64
	}{
		{"browser", nil, true, "", 1},
		{"htmx swap", htmx, false, "/comic/5", 1},
		{"htmx history restore", header("HX-Request", "true", "HX-History-Restore-Request", "true"), true, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newWarmApp(t, latest)
			w := a.get(t, "/comic/5", tt.header)
			assertStatus(t, w, http.StatusOK)
			if tt.wantFull {
				assertFullPage(t, w)
			} else {
				assertFragment(t, w)
				if got := parse(t, w).Find("title").Text(); !strings.Contains(got, "#5") {
					t.Errorf("fragment <title>: got %q, want the comic's title", got)
				}
			}
			if n := comicShown(t, w); n != 5 {
				t.Errorf("comic shown: got %d, want 5", n)
			}
			if got := w.Header().Get("HX-Push-Url"); got != tt.wantPush {
				t.Errorf("HX-Push-Url: got %q, want %q", got, tt.wantPush)
			}
			if got := w.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control: got %q, want %q", got, "no-store")
			}
			assertVary(t, w, "HX-Request", "HX-History-Restore-Request")
			if got := a.views(t, 5); got != tt.wantCount {
				t.Errorf("views of 5 stored: got %d, want %d", got, tt.wantCount)
			}
		})
	}
}

func TestHistoryRestoreIsNotOnLeaderboard(t *testing.T) {
	a := newWarmApp(t, latest)
	restore := header("HX-Request", "true", "HX-History-Restore-Request", "true")
	for range 3 {
		assertStatus(t, a.get(t, "/comic/9", restore), http.StatusOK)
	}
	w := a.get(t, "/leaderboard", nil)
	assertStatus(t, w, http.StatusOK)
	if n := parse(t, w).Find(`#leaderboard tr[data-num="9"]`).Length(); n != 0 {
		t.Errorf("leaderboard rows for a comic only restored from history: got %d, want 0", n)
	}
}

func TestRandom(t *testing.T) {
	a := newWarmApp(t, latest)

	t.Run("htmx", func(t *testing.T) {
		w := a.get(t, "/random", htmx)
		assertStatus(t, w, http.StatusOK)
		assertFragment(t, w)
		n := comicShown(t, w)
		if n < 1 || n > latest {
			t.Errorf("comic shown: got %d, want 1..%d", n, latest)
		}
		if got, want := w.Header().Get("HX-Push-Url"), "/comic/"+strconv.Itoa(n); got != want {
			t.Errorf("HX-Push-Url: got %q, want %q", got, want)
		}
		if got := a.views(t, n); got < 1 {
			t.Errorf("views of %d stored: got %d, want at least 1", n, got)
		}
	})

	t.Run("browser", func(t *testing.T) {
		w := a.get(t, "/random", nil)
		assertStatus(t, w, http.StatusSeeOther)
		loc := w.Header().Get("Location")
		num, ok := strings.CutPrefix(loc, "/comic/")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || n < 1 || n > latest {
			t.Fatalf("Location: got %q, want /comic/{1..%d}", loc, latest)
		}
		if got := w.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control: got %q, want %q", got, "no-store")
		}
		// The redirect itself is not a view; the page it leads to is.
		before := a.views(t, n)
		w = a.get(t, loc, nil)
		assertStatus(t, w, http.StatusOK)
		if got := comicShown(t, w); got != n {
			t.Errorf("comic at Location: got %d, want %d", got, n)
		}
		if got := a.views(t, n); got != before+1 {
			t.Errorf("views of %d after following the redirect: got %d, want %d", n, got, before+1)
		}
	})
}

func TestLatest(t *testing.T) {
	tests := []struct {
		name string
		warm bool
	}{
		{"warm catalog", true},
		{"cold catalog", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			build := newApp
			if tt.warm {
				build = newWarmApp
			}
			a := build(t, latest)
			w := a.get(t, "/latest", nil)
			assertStatus(t, w, http.StatusSeeOther)
			if got, want := w.Header().Get("Location"), "/comic/"+strconv.Itoa(latest); got != want {
				t.Errorf("Location: got %q, want %q", got, want)
			}

			w = a.get(t, "/latest", htmx)
			assertStatus(t, w, http.StatusOK)
			assertFragment(t, w)
			if n := comicShown(t, w); n != latest {
				t.Errorf("comic shown: got %d, want %d", n, latest)
			}
			if got, want := w.Header().Get("HX-Push-Url"), "/comic/"+strconv.Itoa(latest); got != want {
				t.Errorf("HX-Push-Url: got %q, want %q", got, want)
			}
			if n := parse(t, w).Find(`#comic a[data-nav="next"]`).Length(); n != 0 {
				t.Errorf("next link on the latest comic: got %d, want 0", n)
			}
		})
	}
}

func TestColdCatalogFetchesOnDemand(t *testing.T) {
	a := newApp(t, latest)
	w := a.get(t, "/comic/13", nil)
	assertStatus(t, w, http.StatusOK)
	if n := comicShown(t, w); n != 13 {
		t.Errorf("comic shown: got %d, want 13", n)
	}
	calls := a.upstream.Calls()
	assertStatus(t, a.get(t, "/comic/13", nil), http.StatusOK)
	if got := a.upstream.Calls(); got != calls {
		t.Errorf("upstream calls for a comic already shown: got %d more, want 0", got-calls)
	}
}

func TestBadComicNumbers(t *testing.T) {
	const latest = 410 // past the missing 404, as on xkcd.com
	paths := []string{
		"/comic/0",
		"/comic/-1",
		"/comic/404",
		"/comic/" + strconv.Itoa(latest+1),
		"/comic/" + strconv.Itoa(latest+1000),
		"/comic/999999999999999999999",
		"/comic/abc",
		"/comic/1e3",
		"/comic/0x10",
		"/comic/%201",
		"/comic/1%20",
		"/comic/+5",
		"/comic/%2B5",
		"/comic/%00",
		"/comic/" + strings.Repeat("9", 5000),
		"/comic/" + strings.Repeat("1", 5000),
		"/comic/1.5",
		"/comic/5.",
		"/comic/-0",
		"/comic/%D9%A3", // ٣, an Arabic-Indic digit three
		"/comic/",
		"/comic/5/",
		"/comic/5/extra",
	}
	apps := []struct {
		name string
		new  func(t testing.TB, latest int) *app
	}{
		{"warm", newWarmApp},
		{"cold", newApp},
	}
	for _, ap := range apps {
		t.Run(ap.name, func(t *testing.T) {
			a := ap.new(t, latest)
			for _, path := range paths {
				name := path
				if len(name) > 40 {
					name = name[:40] + "…"
				}
				t.Run(name, func(t *testing.T) {
					assertProblem(t, a.get(t, path, nil), http.StatusNotFound)
				})
			}
			if got, err := a.store.TopComics(t.Context(), 100); err != nil || len(got) != 0 {
				t.Errorf("views counted for missing comics: got %v (err %v), want none", got, err)
			}
		})
	}
}

func TestComicNextToTheMissing404(t *testing.T) {
	const latest = 410
	a := newWarmApp(t, latest)
	tests := []struct {
		num      int
		nav      string
		wantHref string
	}{
		{403, "next", "/comic/405"},
		{405, "prev", "/comic/403"},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.num)+" "+tt.nav, func(t *testing.T) {
			w := a.get(t, "/comic/"+strconv.Itoa(tt.num), nil)
			assertStatus(t, w, http.StatusOK)
			link := parse(t, w).Find(`#comic a[data-nav="` + tt.nav + `"]`)
			if got := link.AttrOr("href", ""); got != tt.wantHref {
				t.Errorf("%s href: got %q, want %q", tt.nav, got, tt.wantHref)
			}
			// The link leads to a comic, not to the missing 404.
			assertStatus(t, a.get(t, tt.wantHref, nil), http.StatusOK)
		})
	}
}

func TestNoPathIsAServerError(t *testing.T) {
	a := newWarmApp(t, latest)
	paths := []string{
		"/", "//", "///comic/1", "/comic", "/comic/", "/comic//5", "/comic/5/", "/comic/5?x=<script>",
		"/comic/%ff", "/comic/..%2f..%2fetc%2fpasswd", "/comic/%2e%2e", "/comic/5%0a", "/comic/5%3Bx",
		"/comic/00000000000000000000000000000005", "/comic/005", "/comic/9223372036854775808",
		"/comic/-9223372036854775809", "/comic/NaN", "/comic/Infinity", "/comic/%E2%80%8B5",
		"/random?n=1", "/random/", "/latest/", "/latest?x=%00",
		"/leaderboard?n=", "/leaderboard?n=%00", "/leaderboard?n=99999999999999999999999",
		"/leaderboard?n=-1", "/leaderboard?n=1&n=abc", "/leaderboard?n=%ff", "/leaderboard/",
		"/static/", "/static/x", "/static/../go.mod", "/static/%2e%2e/go.mod", "/static/a/b/c",
		"/healthz/", "/readyz/", "/%00", "/index.php", "/.env", "/wp-admin/", "/" + strings.Repeat("a", 8000),
		"/comic/1?" + strings.Repeat("x=1&", 2000),
	}
	headers := []http.Header{
		nil,
		htmx,
		header("HX-Request", "true", "HX-History-Restore-Request", "true"),
		header("HX-Request", "1", "Sec-Purpose", "prefetch", "X-Request-Id", strings.Repeat("x", 500)),
	}
	for _, path := range paths {
		for i, h := range headers {
			for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodHead, http.MethodDelete} {
				w := a.do(t, method, path, h)
				if w.Code >= 500 {
					t.Errorf("%s %.60s (headers %d): got %d, want no 5xx", method, path, i, w.Code)
				}
			}
		}
	}
}

func TestMissingComicForHTMX(t *testing.T) {
	a := newWarmApp(t, latest)
	for _, path := range []string{"/comic/" + strconv.Itoa(latest+5), "/comic/0", "/comic/abc"} {
		t.Run(path, func(t *testing.T) {
			w := a.get(t, path, htmx)
			assertStatus(t, w, http.StatusNotFound)
			assertFragment(t, w)
			if got := w.Header().Get("HX-Retarget"); got != "#notice" {
				t.Errorf("HX-Retarget: got %q, want %q", got, "#notice")
			}
			if got := w.Header().Get("HX-Reswap"); got != "innerHTML" {
				t.Errorf("HX-Reswap: got %q, want %q", got, "innerHTML")
			}
			if got := w.Header().Get("HX-Push-Url"); got != "" {
				t.Errorf("HX-Push-Url: got %q, want none", got)
			}
			doc := parse(t, w)
			if n := doc.Find("#comic").Length(); n != 0 {
				t.Errorf("#comic in the notice: got %d, want 0", n)
			}
			if got := doc.Text(); !strings.Contains(got, "No such comic") {
				t.Errorf("notice: got %q, want it to say there is no such comic", got)
			}
		})
	}
}

func TestViewCounts(t *testing.T) {
	a := newWarmApp(t, latest)
	for i := 1; i <= 3; i++ {
		w := a.get(t, "/comic/5", nil)
		assertStatus(t, w, http.StatusOK)
		if got, want := viewsShown(t, w), strconv.Itoa(i); got != want {
			t.Errorf("view %d: data-views got %q, want %q", i, got, want)
		}
	}
	// Fragments count too, and share the count with full pages.
	w := a.get(t, "/comic/5", htmx)
	if got := viewsShown(t, w); got != "4" {
		t.Errorf("htmx view: data-views got %q, want %q", got, "4")
	}
	if got := a.views(t, 5); got != 4 {
		t.Errorf("views of 5 stored: got %d, want 4", got)
	}
	if got := a.views(t, 6); got != 0 {
		t.Errorf("views of 6 stored: got %d, want 0", got)
	}
}

func TestConcurrentViewsAllCount(t *testing.T) {
	const n = 50
	a := newWarmApp(t, latest)
	shown := make(chan string, n)
	start := make(chan struct{})
	done := make(chan struct{})
	for range n {
		go func() {
			defer func() { done <- struct{}{} }()
			<-start
			r := a.get(t, "/comic/7", nil)
			if r.Code != http.StatusOK {
				t.Errorf("status: got %d, want %d", r.Code, http.StatusOK)
				return
			}
			doc, err := goquery.NewDocumentFromReader(r.Body)
			if err != nil {
				t.Errorf("parse body: %v", err)
				return
			}
			shown <- doc.Find("#comic [data-views]").AttrOr("data-views", "")
		}()
	}
	close(start)
	for range n {
		<-done
	}
	close(shown)
	if got := a.views(t, 7); got != n {
		t.Errorf("views of 7 stored: got %d, want %d", got, n)
	}
	// Each visitor was told a different count: 1 to n, each once.
	seen := map[string]bool{}
	for v := range shown {
		if seen[v] {
			t.Errorf("data-views %q shown twice", v)
		}
		seen[v] = true
	}
	for i := 1; i <= n; i++ {
		if !seen[strconv.Itoa(i)] {
			t.Errorf("data-views %d: never shown, want shown once", i)
		}
	}
}

func TestViewsNotCounted(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		header     http.Header
		wantStatus int
	}{
		{"Sec-Purpose prefetch", http.MethodGet, header("Sec-Purpose", "prefetch"), http.StatusOK},
		{"Sec-Purpose prefetch;prerender", http.MethodGet, header("Sec-Purpose", "prefetch;prerender"), http.StatusOK},
		{"Purpose prefetch", http.MethodGet, header("Purpose", "prefetch"), http.StatusOK},
		{"htmx history restore", http.MethodGet, header("HX-Request", "true", "HX-History-Restore-Request", "true"), http.StatusOK},
		{"HEAD", http.MethodHead, nil, http.StatusOK},
		{"POST", http.MethodPost, nil, 0},
		{"POST from htmx", http.MethodPost, htmx, 0},
		{"PUT", http.MethodPut, nil, 0},
		{"DELETE", http.MethodDelete, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newWarmApp(t, latest)
			w := a.do(t, tt.method, "/comic/5", tt.header)
			switch {
			case tt.method == http.MethodHead:
				assertStatus(t, w, tt.wantStatus)
			case tt.wantStatus != 0:
				assertStatus(t, w, tt.wantStatus)
				if n := comicShown(t, w); n != 5 {
					t.Errorf("comic shown: got %d, want 5", n)
				}
			case w.Code >= 200 && w.Code < 300:
				t.Errorf("status: got %d, want not 2xx", w.Code)
			case w.Code >= 500:
				t.Errorf("status: got %d, want no 5xx", w.Code)
			}
			if got := a.views(t, 5); got != 0 {
				t.Errorf("views of 5 stored: got %d, want 0", got)
			}
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	a := newWarmApp(t, latest)
	for _, path := range []string{"/", "/comic/5", "/random", "/latest", "/leaderboard"} {
		t.Run(path, func(t *testing.T) {
			w := a.do(t, http.MethodPost, path, nil)
			assertProblem(t, w, http.StatusMethodNotAllowed)
			if got := w.Header().Get("Allow"); got != "GET, HEAD" {
				t.Errorf("Allow: got %q, want %q", got, "GET, HEAD")
			}
		})
	}
}

// TestUncountedPageShowsCount: a page that is not a view (a history
// restore) still shows the comic's count, read from the store.
func TestUncountedPageShowsCount(t *testing.T) {
	a := newWarmApp(t, latest)
	a.view(t, 5, 3)
	w := a.get(t, "/comic/5", header("HX-Request", "true", "HX-History-Restore-Request", "true"))
	assertStatus(t, w, http.StatusOK)
	if got := parse(t, w).Find("#comic [data-views]").AttrOr("data-views", ""); got != "3" {
		t.Errorf("data-views on a history restore after 3 views: got %q, want %q", got, "3")
	}
	if got := a.views(t, 5); got != 3 {
		t.Errorf("views of 5 stored: got %d, want 3", got)
	}
}

// TestLeadingZerosRedirect: each comic has one address; /comic/007 moves
// to /comic/7 without counting a view.
func TestLeadingZerosRedirect(t *testing.T) {
	a := newWarmApp(t, latest)
	w := a.get(t, "/comic/007", nil)
	assertStatus(t, w, http.StatusMovedPermanently)
	if got := w.Header().Get("Location"); got != "/comic/7" {
		t.Errorf("Location: got %q, want %q", got, "/comic/7")
	}
	if got := a.views(t, 7); got != 0 {
		t.Errorf("views of 7 after a redirect: got %d, want 0", got)
	}
}

// TestNewComicUpdatesNavigation: pages are cached per comic, yet once a new
// comic is published the old latest gets its "Next" link, in full pages
// and fragments alike.
func TestNewComicUpdatesNavigation(t *testing.T) {
	a := newWarmApp(t, latest)
	for _, h := range []http.Header{nil, htmx} {
		if n := parse(t, a.get(t, "/comic/20", h)).Find("#comic a[data-nav=next]").Length(); n != 0 {
			t.Fatalf("next links on the latest comic: got %d, want 0", n)
		}
	}
	a.upstream.SetLatest(latest + 1)
	if err := a.catalog.RefreshLatest(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, h := range []http.Header{nil, htmx} {
		next := parse(t, a.get(t, "/comic/20", h)).Find("#comic a[data-nav=next]")
		if got := next.AttrOr("href", ""); got != "/comic/21" {
			t.Errorf("next link of comic 20 once 21 is out (htmx %v): got %q, want %q", h != nil, got, "/comic/21")
		}
	}
}
