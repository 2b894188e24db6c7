package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xkcdapp/xkcdapp/views"
	"github.com/xkcdapp/xkcdapp/xkcd/xkcdtest"
)

// recentOnScreen is the recently viewed strip as the browser shows it:
// the comics, newest first, the first if it is marked current, and how
// many are.
type recentOnScreen struct {
	Nums    []int
	Current int // the first comic when it is marked current, else 0
	Marked  int // links marked current
	Strips  int // aside#recent elements on the page
}

const readRecentJS = `(() => {
	const items = [...document.querySelectorAll("#recent li[data-num]")];
	const current = document.querySelector('#recent li[data-num]:first-child a[aria-current="page"]');
	return JSON.stringify({
		Nums: items.map((li) => Number(li.dataset.num)),
		Current: current ? Number(current.closest("li").dataset.num) : 0,
		Marked: document.querySelectorAll('#recent a[aria-current="page"]').length,
		Strips: document.querySelectorAll("aside#recent").length,
	});
})()`

// waitForRecent waits until the strip on screen shows the comics viewed
// (newest first), each once, as many as it holds, with the first and only
// the first marked current. The strip is swapped out of band, so it may
// land a moment after the comic.
func waitForRecent(t *testing.T, ctx context.Context, viewed []int) {
	t.Helper()
	var want []int
	for _, n := range viewed {
		if len(want) < views.RecentLen && !slices.Contains(want, n) {
			want = append(want, n)
		}
	}
	var got recentOnScreen
	ok := func() bool {
		got = recentOnScreen{}
		if err := json.Unmarshal([]byte(evaluate[string](t, ctx, readRecentJS)), &got); err != nil {
			t.Fatalf("read the strip: %v", err)
		}
		return slices.Equal(got.Nums, want) && got.Current == want[0] && got.Marked == 1 && got.Strips == 1
	}
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("strip on screen = %+v, want comics %v with only %d marked current, in one strip", got, want, want[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// historyOnScreen lists the comics on the history page, newest first.
func historyOnScreen(t *testing.T, ctx context.Context) []int {
	t.Helper()
	var nums []int
	s := evaluate[string](t, ctx, `JSON.stringify([...document.querySelectorAll("#history-list li[data-num]")].map((li) => Number(li.dataset.num)))`)
	if err := json.Unmarshal([]byte(s), &nums); err != nil {
		t.Fatalf("read the history list %q: %v", s, err)
	}
	return nums
}

// TestBrowserHistory: in a real Chromium, every swap brings the recently
// viewed strip up to date without a reload, the history page lists exactly
// the comics viewed, and clearing it empties it in place.
func TestBrowserHistory(t *testing.T) {
	upstream := xkcdtest.NewServer(410)
	t.Cleanup(upstream.Stop)
	app := startApp(t, map[string]string{"XKCD_BASE_URL": upstream.URL})
	app.waitUntilSynced(t)
	ctx := newBrowser(t)

	start := 20
	if err := chromedp.Do(ctx,
		chromedp.Navigate(fmt.Sprintf("%s/comic/%d", app.URL, start)),
		chromedp.WaitVisible(chromedp.ID("nav-next")),
	); err != nil {
		t.Fatalf("open comic %d: %v", start, err)
	}
	viewed := []int{start} // newest first
	waitForRecent(t, ctx, viewed)
	evaluate[bool](t, ctx, `(window.__sameDocument = true)`)

	// Next twice, then Another one: random picks a comic not seen yet.
	for _, action := range []struct {
		name string
		do   chromedp.Action[chromedp.Void]
	}{
		{"Next", chromedp.Click(chromedp.ID("nav-next"))},
		{"Next", chromedp.Click(chromedp.ID("nav-next"))},
		{"Another one", chromedp.Click(chromedp.ID("nav-random"))},
	} {
		got := swap(t, ctx, action.do)
		if slices.Contains(viewed, got) {
			t.Fatalf("%s showed comic %d, seen already in %v", action.name, got, viewed)
		}
		viewed = slices.Insert(viewed, 0, got)
		waitForRecent(t, ctx, viewed)
	}
	if viewed[1] != start+2 || viewed[2] != start+1 {
		t.Errorf("comics after Next, Next = %d then %d, want %d then %d", viewed[2], viewed[1], start+1, start+2)
	}
	// A comic in the strip is a link that swaps in place too; the strip
	// then shows it once, first.
	clicked := viewed[2]
	if got := swap(t, ctx, chromedp.Click(fmt.Sprintf(`#recent li[data-num="%d"] a`, clicked))); got != clicked {
		t.Fatalf("comic after clicking %d in the strip = %d, want %d", clicked, got, clicked)
	}
	if got, want := path(t, ctx), fmt.Sprintf("/comic/%d", clicked); got != want {
		t.Errorf("address after clicking %d in the strip = %s, want %s", clicked, got, want)
	}
	viewed = slices.Insert(viewed, 0, clicked)
	waitForRecent(t, ctx, viewed)
	if !evaluate[bool](t, ctx, `window.__sameDocument === true`) {
		t.Fatal("the page reloaded: the marker set on window is gone")
	}

	// The history page lists every view, the first page load included.
	if err := chromedp.Do(ctx,
		chromedp.Click(`header.site a[href="/history"]`),
		chromedp.WaitVisible(chromedp.ID("history-clear")),
	); err != nil {
		t.Fatalf("open the history page: %v", err)
	}
	if got := historyOnScreen(t, ctx); !slices.Equal(got, viewed) {
		t.Errorf("history on screen = %v, want %v", got, viewed)
	}
	if got := evaluate[string](t, ctx, `document.getElementById("history-summary").dataset.seen`); got != "4" {
		t.Errorf("history-summary data-seen = %s, want 4", got)
	}
	if got := evaluate[string](t, ctx, `document.getElementById("history-progress").value + "/" + document.getElementById("history-progress").max`); got != "4/409" {
		t.Errorf("history-progress = %s, want 4/409", got)
	}

	// Clearing empties the history in place and says so.
	evaluate[bool](t, ctx, `(window.__sameDocument = true)`)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("history-clear"))); err != nil {
		t.Fatalf("click Clear history: %v", err)
	}
	emptied := `(() => !!document.querySelector("#history p.empty") && !document.getElementById("history-list"))()`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](emptied, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Fatalf("the history on screen was not emptied: %v", err)
	}
	if !evaluate[bool](t, ctx, `window.__sameDocument === true`) {
		t.Error("clearing reloaded the page: the marker set on window is gone")
	}
	if got := path(t, ctx); got != "/history" {
		t.Errorf("address after clearing = %s, want /history", got)
	}
	if got := evaluate[int](t, ctx, `document.querySelectorAll("#history").length`); got != 1 {
		t.Errorf("#history elements after clearing = %d, want 1", got)
	}
	if got := evaluate[string](t, ctx, `document.getElementById("notice").textContent`); got != "Your history is cleared." {
		t.Errorf("notice after clearing = %q, want %q", got, "Your history is cleared.")
	}
	// The button pressed is gone: focus goes to the page's heading, not
	// back to the top of the document.
	if got := evaluate[string](t, ctx, `document.activeElement.id`); got != "page-title" {
		t.Errorf("focus after clearing is on %q, want the heading (page-title)", got)
	}

	// It stays cleared: the server forgot it too, seen comics included.
	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("history-summary"))); err != nil {
		t.Fatalf("reload the history page: %v", err)
	}
	if got := historyOnScreen(t, ctx); len(got) != 0 {
		t.Errorf("history after clearing and reloading = %v, want none", got)
	}
	if got := evaluate[string](t, ctx, `document.getElementById("history-summary").dataset.seen`); got != "0" {
		t.Errorf("history-summary data-seen after clearing = %s, want 0", got)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(app.URL+"/comic/7"), chromedp.WaitVisible(chromedp.ID("nav-next"))); err != nil {
		t.Fatalf("open comic 7: %v", err)
	}
	waitForRecent(t, ctx, []int{7})
}
