package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/chromedp/chromedp"

	"github.com/xkcdapp/xkcdapp/store/storetest"
	"github.com/xkcdapp/xkcdapp/xkcd/xkcdtest"
)

// waitOnScreen polls expr in the page until it is true.
func waitOnScreen(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("waiting for %s (%s): %v", what, expr, err)
	}
}

// TestBrowserLiveStats: with /leaderboard open in a real browser, views
// made by others over HTTP change its counts and totals without a reload;
// on a comic's page its own count follows, and after an in-place swap to
// another comic the count follows that one.
func TestBrowserLiveStats(t *testing.T) {
	upstream := xkcdtest.NewServer(40)
	t.Cleanup(upstream.Stop)
	app := startApp(t, map[string]string{
		"DATABASE_URL":  storetest.NewDatabase(t),
		"XKCD_BASE_URL": upstream.URL,
	})
	app.waitUntilSynced(t)
	view(t, http.DefaultClient, app.URL+"/comic/3")
	ctx := newBrowser(t)

	if err := chromedp.Do(ctx, chromedp.Navigate(app.URL+"/leaderboard"), chromedp.WaitVisible(chromedp.ID("leaderboard"))); err != nil {
		t.Fatalf("open the leaderboard: %v", err)
	}
	evaluate[bool](t, ctx, `(window.__sameDocument = true)`)
	// The stream is open once the page counts its own visitor watching.
	waitOnScreen(t, ctx, "the page's own stream to count", `document.querySelector("#live-totals [data-watching]").dataset.watching === "1"`)

	for range 3 {
		view(t, http.DefaultClient, app.URL+"/comic/5")
	}
	waitOnScreen(t, ctx, "comic 5 to lead with 3 views",
		`(() => { const r = document.querySelector("#leaderboard tbody tr"); return !!r && r.dataset.num === "5" && r.dataset.views === "3" })()`)
	waitOnScreen(t, ctx, "4 views in all", `document.querySelector("#live-totals [data-views]").dataset.views === "4"`)
	if got := evaluate[string](t, ctx, `document.querySelector('#leaderboard tr[data-num="5"] td.views').textContent`); got != "3" {
		t.Errorf("comic 5's views on screen = %q, want 3", got)
	}
	if got := evaluate[bool](t, ctx, `document.querySelector('#leaderboard tr[data-num="5"]').classList.contains("changed")`); !got {
		t.Error("comic 5's row is not highlighted after its views")
	}
	if got := evaluate[int](t, ctx, `document.querySelectorAll("#leaderboard tbody tr").length`); got != 2 {
		t.Errorf("rows on screen = %d, want 2", got)
	}
	if !evaluate[bool](t, ctx, `window.__sameDocument === true`) {
		t.Fatal("the page reloaded: the marker set on window is gone")
	}

	// A comic's page follows its own count.
	if err := chromedp.Do(ctx, chromedp.Navigate(app.URL+"/comic/7"), chromedp.WaitVisible(chromedp.ID("nav-next"))); err != nil {
		t.Fatalf("open comic 7: %v", err)
	}
	evaluate[bool](t, ctx, `(window.__sameDocument = true)`)
	waitOnScreen(t, ctx, "the browser's own view of 7", `document.querySelector("#comic-views").dataset.views === "1"`)
	view(t, http.DefaultClient, app.URL+"/comic/7")
	view(t, http.DefaultClient, app.URL+"/comic/7")
	waitOnScreen(t, ctx, "comic 7's count to reach 3", `document.querySelector("#comic-views").dataset.views === "3"`)
	// A count changing is no news to announce, nor a reason to move focus.
	if got := evaluate[string](t, ctx, `document.getElementById("announce").textContent`); got != "" {
		t.Errorf("screen reader announcement after a live count = %q, want none", got)
	}
	if got := evaluate[string](t, ctx, `document.activeElement.id`); got == "comic-title" {
		t.Error("a live count moved focus to the comic's title")
	}

	// After a swap to comic 8, views of 8 show, and views of 7 no longer do.
	if got := swap(t, ctx, chromedp.Click(chromedp.ID("nav-next"))); got != 8 {
		t.Fatalf("comic after Next = %d, want 8", got)
	}
	waitOnScreen(t, ctx, "comic 8's stream", `document.querySelector("#comic-live").getAttribute("hx-sse:connect") === "/stats/stream?comic=8"`)
	view(t, http.DefaultClient, app.URL+"/comic/7")
	for range 4 {
		view(t, http.DefaultClient, app.URL+"/comic/8")
	}
	// The count on screen comes to the stored one: the browser's own view
	// and these four at least. Read from the database each time, since
	// a view answered before its commit lands a moment later.
	var onScreen string
	var stored int
	deadline := time.Now().Add(15 * time.Second)
	for {
		onScreen = evaluate[string](t, ctx, `document.querySelector("#comic-views").dataset.views`)
		stored = storedViews(t, app.URL, 8)
		if stored >= 5 && onScreen == strconv.Itoa(stored) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("comic 8's count on screen = %s, stored %d (want at least 5, the same on screen)", onScreen, stored)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := evaluate[string](t, ctx, `document.querySelector("#comic").dataset.num`); got != "8" {
		t.Errorf("comic on screen = %s, want 8", got)
	}
	if !evaluate[bool](t, ctx, `window.__sameDocument === true`) {
		t.Fatal("the comic page reloaded")
	}
}

// storedViews is comic num's count as the leaderboard page reads it from
// the database.
func storedViews(t *testing.T, base string, num int) int {
	t.Helper()
	_, _, body := get(t, http.DefaultClient, base+"/leaderboard?n=100")
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := strconv.Atoi(doc.Find(fmt.Sprintf(`tr[data-num="%d"]`, num)).AttrOr("data-views", "0"))
	return v
}
