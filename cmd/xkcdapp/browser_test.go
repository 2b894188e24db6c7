package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/xkcdapp/xkcdapp/store/storetest"
	"github.com/xkcdapp/xkcdapp/xkcd/xkcdtest"
)

// newBrowser starts a headless Chromium for this test. Without one the
// test is skipped, loudly, or fails when CI is set.
func newBrowser(t *testing.T, opts ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Chromium not found at %s and CI is set: %v", path, err)
		}
		t.Skipf("SKIPPING: Chromium not found at %s (apt-get install chromium): %v", path, err)
	}
	all := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 900),
	)
	all = append(all, opts...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), all...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// shownNum is the data-num of the comic on screen.
func shownNum(t *testing.T, ctx context.Context) int {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#comic").dataset.num`))
	if err != nil {
		t.Fatalf("read #comic data-num: %v", err)
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("#comic data-num = %q, not a number", s)
	}
	return n
}

func evaluate[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// swap runs action, which should swap in a comic, waits for the swap and
// returns the comic now shown. The marker attribute set on #comic first is
// gone once htmx has put the new comic's attributes in place.
func swap(t *testing.T, ctx context.Context, action chromedp.Action[chromedp.Void]) int {
	t.Helper()
	evaluate[bool](t, ctx, `(document.querySelector("#comic").dataset.stale = "1") === "1"`)
	if err := chromedp.Do(ctx, action); err != nil {
		t.Fatalf("swap: %v", err)
	}
	expr := `(() => { const c = document.querySelector("#comic"); return !!c && c.dataset.stale === undefined })()`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("no comic was swapped in: %v", err)
	}
	return shownNum(t, ctx)
}

// waitForComicOtherThan waits until the comic on screen is not n.
func waitForComicOtherThan(t *testing.T, ctx context.Context, n int) int {
	t.Helper()
	expr := fmt.Sprintf(`(() => { const c = document.querySelector("#comic"); return !!c && c.dataset.num !== "%d" })()`, n)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("the comic on screen stayed %d: %v", n, err)
	}
	return shownNum(t, ctx)
}

func path(t *testing.T, ctx context.Context) string {
	t.Helper()
	return evaluate[string](t, ctx, "location.pathname")
}

// TestBrowserSwapsComicsInPlace drives a real Chromium against the real app
// on real Postgres: swaps keep the page (a marker on window survives), the
// address follows the comic, Back restores it, and the leaderboard then
// counts exactly the views made.
func TestBrowserSwapsComicsInPlace(t *testing.T) {
	upstream := xkcdtest.NewServer(410)
	t.Cleanup(upstream.Stop)
	app := startApp(t, map[string]string{
		"DATABASE_URL":  storetest.NewDatabase(t),
		"XKCD_BASE_URL": upstream.URL,
	})
	app.waitUntilSynced(t)
	ctx := newBrowser(t)
	views := map[int]int{}

	// A permalink is a full page; loading it twice is two views.
	start := 20
	if err := chromedp.Do(ctx,
		chromedp.Navigate(fmt.Sprintf("%s/comic/%d", app.URL, start)),
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.ID("nav-random")),
	); err != nil {
		t.Fatalf("open comic %d: %v", start, err)
	}
	views[start] += 2
	if got := shownNum(t, ctx); got != start {
		t.Fatalf("comic on screen = %d, want %d", got, start)
	}
	evaluate[bool](t, ctx, `(window.__sameDocument = true)`)
	// htmx must be loaded (CSP allows our own scripts) before we click.
	if v := evaluate[string](t, ctx, `window.htmx ? htmx.version : ""`); v == "" {
		t.Fatal("htmx is not loaded on the page")
	}

	// "Another one" swaps in a random comic without a page load. A random
	// pick may repeat the comic shown, or be the latest (which has no next
	// to press below): every click is still one view, so keep clicking.
	var random int
	for i := 0; random == 0 || random == start || random == 410; i++ {
		if i == 10 {
			t.Fatalf("10 clicks on Another one never left comic %d", start)
		}
		random = swap(t, ctx, chromedp.Click(chromedp.ID("nav-random")))
		views[random]++
	}
	if !evaluate[bool](t, ctx, `window.__sameDocument === true`) {
		t.Fatal("the page reloaded: the marker set on window is gone")
	}
	if got, want := path(t, ctx), fmt.Sprintf("/comic/%d", random); got != want {
		t.Errorf("address after Another one = %s, want %s", got, want)
	}
	if got := evaluate[string](t, ctx, "document.title"); !regexp.MustCompile(`#` + strconv.Itoa(random) + `\b`).MatchString(got) {
		t.Errorf("title after swap = %q, want it to name #%d", got, random)
	}
	if got := evaluate[int](t, ctx, `document.querySelectorAll("#comic").length`); got != 1 {
		t.Errorf("#comic elements after swap = %d, want 1", got)
	}

	// The right arrow key goes to the next comic, in place too.
	next := swap(t, ctx, chromedp.KeyEvent(kb.ArrowRight))
	views[next]++
	wantNext := random + 1
	if wantNext == 404 {
		wantNext = 405
	}
	if next != wantNext {
		t.Errorf("comic after ArrowRight = %d, want %d", next, wantNext)
	}
	if got, want := path(t, ctx), fmt.Sprintf("/comic/%d", next); got != want {
		t.Errorf("address after ArrowRight = %s, want %s", got, want)
	}

	// Back restores the previous comic and its address; still no reload.
	if err := chromedp.Do(ctx, chromedp.NavigateBack()); err != nil {
		t.Fatalf("go back: %v", err)
	}
	if got := waitForComicOtherThan(t, ctx, next); got != random {
		t.Errorf("comic after Back = %d, want %d", got, random)
	}
	if got, want := path(t, ctx), fmt.Sprintf("/comic/%d", random); got != want {
		t.Errorf("address after Back = %s, want %s", got, want)
	}
	if err := chromedp.Do(ctx, chromedp.NavigateBack()); err != nil {
		t.Fatalf("go back again: %v", err)
	}
	if got := waitForComicOtherThan(t, ctx, random); got != start {
		t.Errorf("comic after second Back = %d, want %d", got, start)
	}

	// The leaderboard counts what was viewed, and nothing for the restores.
	_, _, body := get(t, http.DefaultClient, app.URL+"/leaderboard?n=100")
	doc, err := goquery.NewDocumentFromReader(stringsReader(body))
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]int{}
	doc.Find("tr[data-num]").Each(func(_ int, row *goquery.Selection) {
		n, _ := strconv.Atoi(row.AttrOr("data-num", ""))
		v, _ := strconv.Atoi(row.AttrOr("data-views", ""))
		got[n] = v
	})
	if fmt.Sprint(got) != fmt.Sprint(views) {
		t.Errorf("leaderboard = %v, want %v", got, views)
	}
}

// TestBrowserWithoutJavaScript checks that every control is a real link:
// with scripts off, "Another one" still leads to a comic's permalink.
func TestBrowserWithoutJavaScript(t *testing.T) {
	upstream := xkcdtest.NewServer(410)
	t.Cleanup(upstream.Stop)
	app := startApp(t, map[string]string{"XKCD_BASE_URL": upstream.URL})
	app.waitUntilSynced(t)
	ctx := newBrowser(t, chromedp.Flag("blink-settings", "scriptEnabled=false"))

	if err := chromedp.Do(ctx,
		chromedp.Navigate(app.URL+"/comic/30"),
		chromedp.WaitVisible(chromedp.ID("nav-random")),
	); err != nil {
		t.Fatalf("open comic 30: %v", err)
	}
	if got := evaluate[bool](t, ctx, `typeof window.htmx !== "undefined"`); got {
		t.Fatal("htmx ran although scripts are disabled")
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("nav-next")), chromedp.WaitVisible(chromedp.ID("comic"))); err != nil {
		t.Fatalf("click Next: %v", err)
	}
	waitFor(t, 10*time.Second, "the next comic's page", func() bool { return path(t, ctx) == "/comic/31" })
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("nav-random"))); err != nil {
		t.Fatalf("click Another one: %v", err)
	}
	waitFor(t, 10*time.Second, "a random comic's permalink", func() bool {
		p := path(t, ctx)
		return regexp.MustCompile(`^/comic/\d+$`).MatchString(p) && p != "/comic/31"
	})
	if got, want := path(t, ctx), fmt.Sprintf("/comic/%d", shownNum(t, ctx)); got != want {
		t.Errorf("address = %s, want the permalink of the comic shown, %s", got, want)
	}
}

// TestBrowserHomeAndFocus: the home page's random comic gets its permalink
// in the address bar, Back returns to it (not to a new random comic), focus
// survives a swap that removes the pressed link, and an error shows in the
// notice while the comic stays.
func TestBrowserHomeAndFocus(t *testing.T) {
	upstream := xkcdtest.NewServer(410)
	t.Cleanup(upstream.Stop)
	app := startApp(t, map[string]string{"XKCD_BASE_URL": upstream.URL})
	app.waitUntilSynced(t)
	ctx := newBrowser(t)

	if err := chromedp.Do(ctx, chromedp.Navigate(app.URL+"/"), chromedp.WaitVisible(chromedp.ID("nav-random"))); err != nil {
		t.Fatalf("open /: %v", err)
	}
	home := shownNum(t, ctx)
	if got, want := path(t, ctx), fmt.Sprintf("/comic/%d", home); got != want {
		t.Errorf("address of the home page = %s, want its comic's permalink %s", got, want)
	}
	other := home
	for i := 0; other == home; i++ {
		if i == 10 {
			t.Fatalf("10 clicks on Another one never left comic %d", home)
		}
		other = swap(t, ctx, chromedp.Click(chromedp.ID("nav-random")))
	}
	if err := chromedp.Do(ctx, chromedp.NavigateBack()); err != nil {
		t.Fatalf("go back: %v", err)
	}
	if got := waitForComicOtherThan(t, ctx, other); got != home {
		t.Errorf("comic after Back to the home page = %d, want %d", got, home)
	}

	// On comic 2, "Previous" leads to comic 1, which has no "Previous":
	// focus moves to the new comic's title instead of being lost.
	if err := chromedp.Do(ctx, chromedp.Navigate(app.URL+"/comic/2"), chromedp.WaitVisible(chromedp.ID("nav-prev")), chromedp.Focus(chromedp.ID("nav-prev"))); err != nil {
		t.Fatalf("open comic 2: %v", err)
	}
	if got := swap(t, ctx, chromedp.KeyEvent(kb.Enter)); got != 1 {
		t.Fatalf("comic after Enter on Previous = %d, want 1", got)
	}
	waitFor(t, 5*time.Second, "focus on the new comic's title", func() bool {
		return evaluate[string](t, ctx, "document.activeElement.id") == "comic-title"
	})
	if got := evaluate[string](t, ctx, `document.getElementById("announce").textContent`); !strings.HasPrefix(got, "Comic 1:") {
		t.Errorf("screen reader announcement = %q, want it to name comic 1", got)
	}

	// A comic that does not exist, asked for by htmx: the notice says so and
	// the comic on screen stays.
	evaluate[bool](t, ctx, `(htmx.ajax("GET", "/comic/9999", {target: "#comic", swap: "outerMorph"}), true)`)
	waitFor(t, 5*time.Second, "the notice", func() bool {
		return strings.Contains(evaluate[string](t, ctx, `document.getElementById("notice").textContent`), "No such comic")
	})
	if got := shownNum(t, ctx); got != 1 {
		t.Errorf("comic after a failed swap = %d, want 1 (unchanged)", got)
	}
}

// TestBrowserRKeyCanBeTurnedOff: the single-letter shortcut r can be
// turned off, stays off across pages and swaps, and on again.
func TestBrowserRKeyCanBeTurnedOff(t *testing.T) {
	upstream := xkcdtest.NewServer(30)
	t.Cleanup(upstream.Stop)
	app := startApp(t, map[string]string{"XKCD_BASE_URL": upstream.URL})
	ctx := newBrowser(t)

	open := func() {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(app.URL+"/comic/5"), chromedp.WaitVisible(chromedp.ID("keys-toggle"))); err != nil {
			t.Fatalf("open comic 5: %v", err)
		}
		// Count clicks on "Another one": r works by clicking it.
		evaluate[bool](t, ctx, `(window.__randomClicks = 0, document.addEventListener("click", (e) => {
			if (e.target instanceof Element && e.target.closest('a[data-nav="random"]')) window.__randomClicks++
		}, true), true)`)
	}
	toggle := func() string {
		t.Helper()
		return evaluate[string](t, ctx, `document.getElementById("keys-toggle").textContent`)
	}
	pressR := func() int {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.KeyEvent("r")); err != nil {
			t.Fatalf("press r: %v", err)
		}
		return evaluate[int](t, ctx, "window.__randomClicks")
	}

	open()
	if got := toggle(); got != "Turn off the r key" {
		t.Errorf("toggle = %q, want %q", got, "Turn off the r key")
	}
	if got := pressR(); got != 1 {
		t.Fatalf("clicks on Another one after r = %d, want 1", got)
	}
	waitForComicOtherThan(t, ctx, 5)

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("keys-toggle"))); err != nil {
		t.Fatalf("click the toggle: %v", err)
	}
	if got := toggle(); got != "Turn on the r key" {
		t.Errorf("toggle after turning r off = %q, want %q", got, "Turn on the r key")
	}
	if got := pressR(); got != 1 {
		t.Errorf("clicks on Another one after r, turned off = %d, want still 1", got)
	}

	// Off stays off on the next page, and the arrows still work.
	open()
	if got := toggle(); got != "Turn on the r key" {
		t.Errorf("toggle on the next page = %q, want %q", got, "Turn on the r key")
	}
	if got := pressR(); got != 0 {
		t.Errorf("clicks on Another one after r, turned off = %d, want 0", got)
	}
	if got := swap(t, ctx, chromedp.KeyEvent(kb.ArrowRight)); got != 6 {
		t.Errorf("comic after ArrowRight = %d, want 6", got)
	}
	if got := toggle(); got != "Turn on the r key" {
		t.Errorf("toggle after a swap = %q, want %q", got, "Turn on the r key")
	}

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("keys-toggle"))); err != nil {
		t.Fatalf("click the toggle: %v", err)
	}
	if got := pressR(); got != 1 {
		t.Errorf("clicks on Another one after r, turned on again = %d, want 1", got)
	}
}
