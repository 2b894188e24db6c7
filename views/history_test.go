package views

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// dataNums is the data-num of every element sel matches, in order.
func dataNums(doc *goquery.Document, sel string) []string {
	var got []string
	doc.Find(sel).Each(func(_ int, s *goquery.Selection) { got = append(got, s.AttrOr("data-num", "")) })
	return got
}

// collapse turns runs of space into one and trims the ends.
func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestRecent(t *testing.T) {
	v := RecentView{Comics: []RecentComic{
		{Num: 7, Title: "Seven", Current: true},
		{Num: 4, Title: `<script>alert(1)</script><b>Bold</b>`},
		{Num: 9}, // not cached: no title
	}}
	for _, oob := range []bool{false, true} {
		doc, _ := render(t, Recent(v, oob))
		assertNoMarkupRan(t, doc)
		aside := one(t, doc, "aside#recent")
		want := "none"
		if oob {
			want = "true"
		}
		if got := aside.AttrOr("hx-swap-oob", "none"); got != want {
			t.Errorf("oob %v: hx-swap-oob: got %q, want %q", oob, got, want)
		}
		if got, want := dataNums(doc, "#recent li"), []string{"7", "4", "9"}; !slices.Equal(got, want) {
			t.Errorf("entries: got %v, want %v", got, want)
		}
		wantText := []string{"#7 Seven", "#4 <script>alert(1)</script><b>Bold</b>", "#9 Comic 9"}
		doc.Find("#recent li a").Each(func(i int, a *goquery.Selection) {
			if got := collapse(a.Text()); got != wantText[i] {
				t.Errorf("entry %d text: got %q, want %q", i, got, wantText[i])
			}
			href := "/comic/" + dataNums(doc, "#recent li")[i]
			if got := a.AttrOr("href", "") + " " + a.AttrOr("hx-get", ""); got != href+" "+href {
				t.Errorf("entry %d href and hx-get: got %q, want %q", i, got, href+" "+href)
			}
			want := ""
			if i == 0 {
				want = "page"
			}
			if got := a.AttrOr("aria-current", ""); got != want {
				t.Errorf("entry %d aria-current: got %q, want %q", i, got, want)
			}
		})
		if got := doc.Find(`#recent a.more[href="/history"]`).Length(); got != 1 {
			t.Errorf("link to the history: got %d, want 1", got)
		}
		if got := doc.Find("#recent .empty, #history-unavailable").Length(); got != 0 {
			t.Errorf("empty or unavailable note with entries: got %d, want 0", got)
		}
	}
}

func TestRecentEmptyAndUnavailable(t *testing.T) {
	tests := []struct {
		name     string
		v        RecentView
		wantSel  string
		wantText string
	}{
		{"empty", RecentView{}, "#recent .empty", "Comics you view will show up here."},
		{"unavailable", RecentView{Unavailable: true}, "#recent #history-unavailable",
			"Your history is unavailable right now. Comics are still here; it will be back soon."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, _ := render(t, Recent(tt.v, true))
			if got := collapse(one(t, doc, tt.wantSel).Text()); got != tt.wantText {
				t.Errorf("%s: got %q, want %q", tt.wantSel, got, tt.wantText)
			}
			if got := doc.Find("#recent li, #recent a.more").Length(); got != 0 {
				t.Errorf("entries or history link: got %d, want 0", got)
			}
		})
	}
}

func TestHistory(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	v := HistoryView{
		Entries: []HistoryEntry{
			{Num: 7, Title: "Seven", At: now.Add(-30 * time.Second)},
			{Num: 4, Title: `<script>alert(1)</script>`, At: now.Add(-5 * time.Hour)},
			{Num: 9, At: time.Date(2026, 9, 1, 8, 30, 0, 0, time.FixedZone("CEST", 2*3600))},
		},
		Seen:  3,
		Total: 2999,
		Now:   now,
	}
	doc, raw := render(t, HistoryPage(v))
	if !strings.Contains(raw, "<html") {
		t.Errorf("HistoryPage is not a full document")
	}
	assertNoMarkupRan(t, doc)
	summary := one(t, doc, "#history-summary")
	if got := summary.AttrOr("data-seen", "") + "/" + summary.AttrOr("data-total", ""); got != "3/2999" {
		t.Errorf("data-seen/data-total: got %q, want %q", got, "3/2999")
	}
	if got, want := collapse(summary.Text()), "You have seen 3 of 2,999 comics (0.1%)."; got != want {
		t.Errorf("summary: got %q, want %q", got, want)
	}
	progress := one(t, doc, "progress#history-progress")
	if got := progress.AttrOr("max", "") + "/" + progress.AttrOr("value", ""); got != "2999/3" {
		t.Errorf("progress max/value: got %q, want %q", got, "2999/3")
	}
	if got, want := dataNums(doc, "#history-list li"), []string{"7", "4", "9"}; !slices.Equal(got, want) {
		t.Errorf("entries: got %v, want %v", got, want)
	}
	want := []struct{ text, datetime, ago string }{
		{"#7 Seven", "2026-11-27T11:59:30Z", "just now"},
		{"#4 <script>alert(1)</script>", "2026-11-27T07:00:00Z", "5 hours ago"},
		{"#9 Comic 9", "2026-09-01T06:30:00Z", "1 September 2026"},
	}
	doc.Find("#history-list li").Each(func(i int, li *goquery.Selection) {
		if got := collapse(li.Find(".num").Text() + " " + li.Find("a").Text()); got != want[i].text {
			t.Errorf("entry %d text: got %q, want %q", i, got, want[i].text)
		}
		tm := li.Find("time")
		if got := tm.AttrOr("datetime", ""); got != want[i].datetime {
			t.Errorf("entry %d datetime: got %q, want %q", i, got, want[i].datetime)
		}
		if got := tm.Text(); got != want[i].ago {
			t.Errorf("entry %d time text: got %q, want %q", i, got, want[i].ago)
		}
	})
	form := one(t, doc, "#history form")
	if got := form.AttrOr("method", "") + " " + form.AttrOr("action", "") + " " + form.AttrOr("hx-post", ""); got != "post /history/clear /history/clear" {
		t.Errorf("clear form method, action, hx-post: got %q, want %q", got, "post /history/clear /history/clear")
	}
	if got := form.AttrOr("hx-target", ""); got != "#history" {
		t.Errorf("clear form hx-target: got %q, want %q", got, "#history")
	}
}

func TestHistorySummary(t *testing.T) {
	tests := []struct {
		name         string
		seen, total  int
		wantText     string
		wantProgress string // max/value; "" for none
	}{
		{"total unknown", 3, 0, "You have seen 3 comics.", ""},
		{"one, total unknown", 1, 0, "You have seen 1 comic.", ""},
		{"none", 0, 2999, "You have seen 0 of 2,999 comics (0.0%).", "2999/0"},
		{"all", 2999, 2999, "You have seen 2,999 of 2,999 comics (100.0%).", "2999/2999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, _ := render(t, History(HistoryView{Seen: tt.seen, Total: tt.total, Now: time.Now()}))
			if got := collapse(one(t, doc, "#history-summary").Text()); got != tt.wantText {
				t.Errorf("summary: got %q, want %q", got, tt.wantText)
			}
			p := doc.Find("#history-progress")
			got := ""
			if p.Length() > 0 {
				got = p.AttrOr("max", "") + "/" + p.AttrOr("value", "")
			}
			if got != tt.wantProgress {
				t.Errorf("progress max/value: got %q, want %q", got, tt.wantProgress)
			}
			// No entries: an invitation, and nothing to clear.
			if got := doc.Find("#history .empty a[href='/random']").Length(); got != 1 {
				t.Errorf("link to a random comic: got %d, want 1", got)
			}
			if got := doc.Find("#history form, #history-list").Length(); got != 0 {
				t.Errorf("clear form or list without entries: got %d, want 0", got)
			}
		})
	}
}

func TestHistoryUnavailable(t *testing.T) {
	doc, _ := render(t, History(HistoryView{Unavailable: true}))
	one(t, doc, "#history #history-unavailable")
	if got := doc.Find("#history-summary, #history-progress, #history form, #history .empty").Length(); got != 0 {
		t.Errorf("summary, progress, form or empty note while unavailable: got %d, want 0", got)
	}
}

func TestHistoryCleared(t *testing.T) {
	doc, raw := render(t, HistoryCleared(HistoryView{Total: 20, Now: time.Now()}))
	if strings.Contains(raw, "<html") {
		t.Errorf("HistoryCleared contains <html: %q", raw)
	}
	if got := one(t, doc, "#history-summary").AttrOr("data-seen", ""); got != "0" {
		t.Errorf("data-seen: got %q, want %q", got, "0")
	}
	notice := one(t, doc, "#notice")
	if got := notice.AttrOr("hx-swap-oob", ""); got != "innerHTML" {
		t.Errorf("#notice hx-swap-oob: got %q, want %q", got, "innerHTML")
	}
	if got := collapse(notice.Text()); got != "Your history is cleared." {
		t.Errorf("#notice: got %q, want %q", got, "Your history is cleared.")
	}
}

func TestPercent(t *testing.T) {
	tests := []struct {
		part, whole int
		want        string
	}{
		{0, 20, "0.0%"},
		{1, 3, "33.3%"},
		{2, 3, "66.6%"}, // rounded down
		{3, 20, "15.0%"},
		{2, 2, "100.0%"},
		{1999, 2000, "99.9%"},
		{2999, 3000, "99.9%"}, // never 100% until it is
		{1, 1000, "0.1%"},
		{1, 1001, "0.0%"},
		{3100, 3100, "100.0%"},
	}
	for _, tt := range tests {
		if got := percent(tt.part, tt.whole); got != tt.want {
			t.Errorf("percent(%d, %d): got %q, want %q", tt.part, tt.whole, got, tt.want)
		}
	}
}

func TestAgo(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		before time.Duration
		want   string
	}{
		{-time.Minute, "just now"}, // a clock a little ahead
		{0, "just now"},
		{59 * time.Second, "just now"},
		{time.Minute, "1 minute ago"},
		{119 * time.Second, "1 minute ago"},
		{2 * time.Minute, "2 minutes ago"},
		{59 * time.Minute, "59 minutes ago"},
		{time.Hour, "1 hour ago"},
		{5 * time.Hour, "5 hours ago"},
		{24*time.Hour - time.Second, "23 hours ago"},
		{24 * time.Hour, "1 day ago"},
		{2 * 24 * time.Hour, "2 days ago"},
		{30*24*time.Hour - time.Second, "29 days ago"},
		{30 * 24 * time.Hour, "28 October 2026"},
		{400 * 24 * time.Hour, "23 October 2025"},
	}
	for _, tt := range tests {
		if got := ago(now, now.Add(-tt.before)); got != tt.want {
			t.Errorf("ago(%v before): got %q, want %q", tt.before, got, tt.want)
		}
	}
}
