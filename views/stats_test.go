package views

import (
	"strings"
	"testing"

	"github.com/xkcdapp/xkcdapp/static"
)

func TestTotals(t *testing.T) {
	doc, _ := render(t, Totals(StatsView{Views: 1234567, LastMinute: 42, Comics: 3001, Watching: 1}))
	for _, tt := range []struct{ attr, value, text string }{
		{"data-views", "1234567", "1,234,567"},
		{"data-last-minute", "42", "42"},
		{"data-comics", "3001", "3,001"},
		{"data-watching", "1", "1"},
	} {
		dd := doc.Find("#live-totals dd[" + tt.attr + "]")
		if got := dd.AttrOr(tt.attr, ""); got != tt.value {
			t.Errorf("%s: got %q, want %q", tt.attr, got, tt.value)
		}
		if got := strings.TrimSpace(dd.Text()); got != tt.text {
			t.Errorf("%s text: got %q, want %q", tt.attr, got, tt.text)
		}
		if !dd.Prev().Is("dt") {
			t.Errorf("%s: no term before its figure", tt.attr)
		}
	}
	if _, ok := doc.Find("#live-totals").Attr("hx-swap-oob"); ok {
		t.Error("totals on a page carry hx-swap-oob")
	}
	oob, _ := render(t, Totals(StatsView{OOB: true}))
	if got := oob.Find("#live-totals").AttrOr("hx-swap-oob", ""); got != "true" {
		t.Errorf("totals for a live update: hx-swap-oob %q, want true", got)
	}
}

func TestSparkline(t *testing.T) {
	minutes := make([]int64, 60)
	minutes[10], minutes[59] = 80, 20
	doc, _ := render(t, Sparkline(StatsView{Minutes: minutes}))
	points := strings.Fields(doc.Find("#sparkline polyline").AttrOr("points", ""))
	if len(points) != 60 {
		t.Fatalf("polyline points: got %d, want 60", len(points))
	}
	// The busiest minute is at the top, the idle ones at the bottom, time
	// runs left to right across the whole box.
	for i, want := range map[int]string{0: "0,59", 10: "101,1", 59: "600,45"} {
		if points[i] != want {
			t.Errorf("point %d: got %s, want %s", i, points[i], want)
		}
	}
	if got := doc.Find("#sparkline svg").AttrOr("aria-hidden", ""); got != "true" {
		t.Errorf("svg aria-hidden: got %q, want true (the caption says it in words)", got)
	}
	if got := strings.Join(strings.Fields(doc.Find("#sparkline figcaption").Text()), " "); got != "Views per minute over the last hour: busiest minute 80, last full minute 20." {
		t.Errorf("caption: got %q", got)
	}
	// No views at all draws a flat line, not a division by zero.
	flat, _ := render(t, Sparkline(StatsView{Minutes: make([]int64, 60)}))
	if got := strings.Fields(flat.Find("#sparkline polyline").AttrOr("points", ""))[30]; got != "305,59" {
		t.Errorf("idle point 30: got %s, want 305,59", got)
	}
}

func TestLeaderboardMarks(t *testing.T) {
	doc, _ := render(t, Leaderboard(LeaderboardView{Limit: 3, OOB: true, Rows: []Ranked{
		{Rank: 1, Num: 5, Views: 9, Changed: true, Rose: 2},
		{Rank: 2, Num: 6, Views: 8},
	}}))
	if got := doc.Find("#leaderboard").AttrOr("hx-swap-oob", ""); got != "true" {
		t.Errorf("hx-swap-oob: got %q, want true", got)
	}
	up := doc.Find(`tr[data-num="5"]`)
	if !up.HasClass("changed") || strings.TrimSpace(up.Find(".rose .visually-hidden").Text()) != "up 2" {
		t.Errorf("row that rose 2: class %q, rose %q; want changed, up 2", up.AttrOr("class", ""), up.Find(".rose").Text())
	}
	still := doc.Find(`tr[data-num="6"]`)
	if _, ok := still.Attr("class"); ok || still.Find(".rose").Length() != 0 {
		t.Errorf("unchanged row: class %q and %d rose marks, want neither", still.AttrOr("class", ""), still.Find(".rose").Length())
	}
}

func TestLayoutLoadsHxSSEAfterHtmx(t *testing.T) {
	_, raw := render(t, LeaderboardPage(LeaderboardView{Limit: 10}))
	htmx, sse := strings.Index(raw, static.URL("htmx.min.js")), strings.Index(raw, static.URL("hx-sse.js"))
	if htmx < 0 || sse < htmx {
		t.Errorf("htmx at %d, hx-sse at %d: want hx-sse loaded, after htmx", htmx, sse)
	}
}
