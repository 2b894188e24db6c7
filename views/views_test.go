package views

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"

	"github.com/xkcdapp/xkcdapp/xkcd"
)

// render renders c and returns the parsed document and the raw HTML.
func render(t *testing.T, c templ.Component) (*goquery.Document, string) {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		t.Fatalf("render: %v", err)
	}
	raw := buf.String()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(raw))
	if err != nil {
		t.Fatalf("parse rendered HTML: %v", err)
	}
	return doc, raw
}

// comic returns an ordinary comic with an image, numbered num.
func comic(num int) *xkcd.Comic {
	return &xkcd.Comic{
		Num:       num,
		Title:     "Comic number " + strconv.Itoa(num),
		SafeTitle: "Comic number " + strconv.Itoa(num),
		Alt:       "The alt text of comic " + strconv.Itoa(num) + ".",
		Img:       "https://imgs.xkcd.com/comics/comic_" + strconv.Itoa(num) + ".png",
		Published: time.Date(2010, time.March, 4, 0, 0, 0, 0, time.UTC),
	}
}

// view wraps c as a page with a latest of 3000 and 10 views.
func view(c *xkcd.Comic) ComicView {
	return ComicView{Comic: c, Views: 10, Latest: 3000}
}

// one returns the single element sel matches, failing unless there is
// exactly one.
func one(t *testing.T, doc *goquery.Document, sel string) *goquery.Selection {
	t.Helper()
	s := doc.Find(sel)
	if s.Length() != 1 {
		t.Fatalf("%s: got %d elements, want 1", sel, s.Length())
	}
	return s
}

// assertNoMarkupRan fails when hostile markup became elements instead of
// text: a script with inline code, or any element with an event handler.
func assertNoMarkupRan(t *testing.T, doc *goquery.Document) {
	t.Helper()
	doc.Find("script").Each(func(_ int, s *goquery.Selection) {
		if _, ok := s.Attr("src"); !ok || strings.TrimSpace(s.Text()) != "" {
			t.Errorf("inline script in page: got %q, want none", s.Text())
		}
	})
	if n := doc.Find("[onerror], [onload]").Length(); n != 0 {
		t.Errorf("elements with event handlers: got %d, want 0", n)
	}
	if n := doc.Find("b").Length(); n != 0 {
		t.Errorf("<b> elements from comic text: got %d, want 0", n)
	}
}

func TestComicPageHasOneComic(t *testing.T) {
	doc, raw := render(t, ComicPage(view(comic(42))))
	if !strings.Contains(raw, "<html") {
		t.Errorf("ComicPage is not a full document: no <html in %q", raw)
	}
	if got, _ := one(t, doc, "#comic").Attr("data-num"); got != "42" {
		t.Errorf("#comic data-num: got %q, want %q", got, "42")
	}
	if got := doc.Find("title").Text(); !strings.Contains(got, "Comic number 42") {
		t.Errorf("<title>: got %q, want it to contain the comic title", got)
	}
	if got := doc.Find("#notice").Length(); got != 1 {
		t.Errorf("#notice: got %d elements, want 1", got)
	}
}

func TestComicFragment(t *testing.T) {
	doc, raw := render(t, ComicFragment(view(comic(42))))
	if strings.Contains(raw, "<html") {
		t.Errorf("ComicFragment contains <html: %q", raw)
	}
	if got, _ := one(t, doc, "#comic").Attr("data-num"); got != "42" {
		t.Errorf("#comic data-num: got %q, want %q", got, "42")
	}
	if got := one(t, doc, "title").Text(); got != "Comic number 42 · xkcd #42" {
		t.Errorf("<title>: got %q, want %q", got, "Comic number 42 · xkcd #42")
	}
	// The out-of-band notice clears an earlier error above the comic,
	// replacing the live region's content, not the region.
	notice := one(t, doc, "#notice")
	if got, _ := notice.Attr("hx-swap-oob"); got != "innerHTML" {
		t.Errorf("#notice hx-swap-oob: got %q, want %q", got, "innerHTML")
	}
	if got := strings.TrimSpace(notice.Text()); got != "" {
		t.Errorf("#notice text: got %q, want empty", got)
	}
}

func TestComicShowsImage(t *testing.T) {
	c := comic(42)
	doc, _ := render(t, ComicPage(view(c)))
	img := one(t, doc, "#comic img")
	if got, _ := img.Attr("src"); got != c.Img {
		t.Errorf("img src: got %q, want %q", got, c.Img)
	}
	if got, _ := img.Attr("alt"); got != c.Title {
		t.Errorf("img alt: got %q, want %q", got, c.Title)
	}
	if got := doc.Find("#comic time").AttrOr("datetime", ""); got != "2010-03-04" {
		t.Errorf("time datetime: got %q, want %q", got, "2010-03-04")
	}
	if got := doc.Find("#comic time").Text(); got != "4 March 2010" {
		t.Errorf("time text: got %q, want %q", got, "4 March 2010")
	}
}

func TestComicInteractive(t *testing.T) {
	tests := []struct {
		name  string
		setup func(c *xkcd.Comic)
	}{
		{"bare image directory", func(c *xkcd.Comic) { c.Img = "https://imgs.xkcd.com/comics/" }},
		{"no image", func(c *xkcd.Comic) { c.Img = "" }},
		{"extra parts", func(c *xkcd.Comic) { c.ExtraParts = json.RawMessage(`{"inset":"<div>game</div>"}`) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := comic(1608)
			tt.setup(c)
			doc, _ := render(t, ComicPage(view(c)))
			if got := doc.Find("#comic img").Length(); got != 0 {
				t.Errorf("img in #comic: got %d, want 0", got)
			}
			if got := doc.Find(`#comic .interactive a[href="https://xkcd.com/1608/"]`).Length(); got != 1 {
				t.Errorf("link to play on xkcd.com: got %d, want 1", got)
			}
			if got := doc.Find("#comic").Text(); !strings.Contains(got, c.Alt) {
				t.Errorf("#comic text: got %q, want it to contain the alt text %q", got, c.Alt)
			}
			if got := doc.Find("#comic").Text(); strings.Contains(got, "game") {
				t.Errorf("#comic text: got %q, want no extra_parts content", got)
			}
		})
	}
}

func TestComicEscapesMarkup(t *testing.T) {
	const (
		script = `<script>alert(1)</script>`
		img    = `<img src=x onerror=alert(1)>`
		bold   = `<b>Bold</b>`
	)
	tests := []struct {
		name  string
		setup func(c *xkcd.Comic)
		// where the text must appear, as text
		sel  string
		want string
	}{
		{"script in title", func(c *xkcd.Comic) { c.Title = script }, "#comic-title", script},
		{"img in title", func(c *xkcd.Comic) { c.Title = img }, "#comic-title", img},
		{"bold in title", func(c *xkcd.Comic) { c.Title = bold }, "#comic-title", bold},
		{"script in alt", func(c *xkcd.Comic) { c.Alt = script }, "#comic figcaption", script},
		{"img in alt", func(c *xkcd.Comic) { c.Alt = img }, "#comic figcaption", img},
		{"img in interactive alt", func(c *xkcd.Comic) { c.Alt, c.Img = img, "" }, "#comic .alt", img},
		{"script in transcript", func(c *xkcd.Comic) { c.Transcript = script }, "#comic details pre", script},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := comic(4)
			tt.setup(c)
			for name, comp := range map[string]templ.Component{
				"page":     ComicPage(view(c)),
				"fragment": ComicFragment(view(c)),
			} {
				doc, _ := render(t, comp)
				assertNoMarkupRan(t, doc)
				if got := doc.Find(tt.sel).Text(); got != tt.want {
					t.Errorf("%s: %s text: got %q, want %q", name, tt.sel, got, tt.want)
				}
			}
		})
	}
}

func TestComicTitleInDocumentTitleIsText(t *testing.T) {
	c := comic(4)
	c.Title = `</title><script>alert(1)</script>`
	for name, comp := range map[string]templ.Component{
		"page":     ComicPage(view(c)),
		"fragment": ComicFragment(view(c)),
	} {
		doc, _ := render(t, comp)
		assertNoMarkupRan(t, doc)
		want := c.Title + " · xkcd #4"
		if got := one(t, doc, "title").Text(); got != want {
			t.Errorf("%s: <title>: got %q, want %q", name, got, want)
		}
	}
}

func TestComicAltText(t *testing.T) {
	c := comic(42)
	c.Alt = `"Quoted" & <escaped> — it’s fine`
	doc, _ := render(t, ComicPage(view(c)))
	if got := one(t, doc, "#comic figcaption").Text(); got != c.Alt {
		t.Errorf("figcaption: got %q, want %q", got, c.Alt)
	}
	if got, _ := one(t, doc, "#comic img").Attr("title"); got != c.Alt {
		t.Errorf("img title: got %q, want %q", got, c.Alt)
	}
}

func TestComicTranscript(t *testing.T) {
	tests := []struct {
		name       string
		transcript string
		want       int // <details> elements in #comic
	}{
		{"with transcript", "[[A person stands.]]\nPerson: Hello & goodbye.", 1},
		{"without transcript", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := comic(42)
			c.Transcript = tt.transcript
			doc, _ := render(t, ComicPage(view(c)))
			details := doc.Find("#comic details")
			if got := details.Length(); got != tt.want {
				t.Fatalf("details: got %d, want %d", got, tt.want)
			}
			if tt.want == 0 {
				return
			}
			if got := details.Find("pre").Text(); got != tt.transcript {
				t.Errorf("transcript: got %q, want %q", got, tt.transcript)
			}
			if _, open := details.Attr("open"); open {
				t.Errorf("details open: got open, want closed")
			}
		})
	}
}

func TestComicLink(t *testing.T) {
	tests := []struct {
		link string
		want bool // rendered as a link
	}{
		{"https://example.com/linked-comic", true},
		{"http://example.com/x", true},
		{"javascript:alert(1)", false},
		{"JavaScript:alert(1)", false},
		{" javascript:alert(1)", false},
		{"data:text/html,<script>alert(1)</script>", false},
		{"//evil.example/x", false},
		{"/relative", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.link, func(t *testing.T) {
			c := comic(42)
			c.Link = tt.link
			doc, _ := render(t, ComicPage(view(c)))
			doc.Find("a[href]").Each(func(_ int, s *goquery.Selection) {
				href := strings.ToLower(strings.TrimSpace(s.AttrOr("href", "")))
				if strings.HasPrefix(href, "javascript:") || strings.HasPrefix(href, "data:") {
					t.Errorf("unsafe href: got %q, want none", href)
				}
			})
			got := doc.Find(`#comic .links a[rel~="nofollow"]`)
			if (got.Length() == 1) != tt.want {
				t.Fatalf("comic link rendered: got %d links, want rendered=%v", got.Length(), tt.want)
			}
			if tt.want && got.AttrOr("href", "") != tt.link {
				t.Errorf("comic link href: got %q, want %q", got.AttrOr("href", ""), tt.link)
			}
		})
	}
}

func TestComicNavigation(t *testing.T) {
	tests := []struct {
		name   string
		num    int
		latest int
		want   map[string]string // nav -> href; navs not listed must be absent
	}{
		{"first comic", 1, 3000, map[string]string{
			"random": "/random", "next": "/comic/2", "latest": "/latest",
		}},
		{"middle comic", 100, 3000, map[string]string{
			"first": "/comic/1", "prev": "/comic/99", "random": "/random", "next": "/comic/101", "latest": "/latest",
		}},
		{"latest comic", 3000, 3000, map[string]string{
			"first": "/comic/1", "prev": "/comic/2999", "random": "/random",
		}},
		{"only comic", 1, 1, map[string]string{
			"random": "/random",
		}},
		{"before the missing 404", 403, 3000, map[string]string{
			"first": "/comic/1", "prev": "/comic/402", "random": "/random", "next": "/comic/405", "latest": "/latest",
		}},
		{"after the missing 404", 405, 3000, map[string]string{
			"first": "/comic/1", "prev": "/comic/403", "random": "/random", "next": "/comic/406", "latest": "/latest",
		}},
		{"latest unknown", 7, 0, map[string]string{
			"first": "/comic/1", "prev": "/comic/6", "random": "/random", "next": "/comic/8", "latest": "/latest",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, _ := render(t, ComicPage(ComicView{Comic: comic(tt.num), Latest: tt.latest}))
			for _, nav := range []string{"first", "prev", "random", "next", "latest"} {
				links := doc.Find(`#comic nav a[data-nav="` + nav + `"]`)
				want, shown := tt.want[nav]
				if !shown {
					if links.Length() != 0 {
						t.Errorf("%s link: got %d, want none", nav, links.Length())
					}
					continue
				}
				if links.Length() != 1 {
					t.Errorf("%s link: got %d, want 1", nav, links.Length())
					continue
				}
				if got := links.AttrOr("href", ""); got != want {
					t.Errorf("%s href: got %q, want %q", nav, got, want)
				}
				if got := links.AttrOr("hx-get", ""); got != want {
					t.Errorf("%s hx-get: got %q, want %q", nav, got, want)
				}
			}
		})
	}
}

func TestNavLinksHaveHrefAndHxGet(t *testing.T) {
	doc, _ := render(t, ComicPage(view(comic(100))))
	links := doc.Find("#comic nav a")
	if links.Length() != 5 {
		t.Fatalf("nav links: got %d, want 5", links.Length())
	}
	links.Each(func(_ int, s *goquery.Selection) {
		href, hasHref := s.Attr("href")
		get, hasGet := s.Attr("hx-get")
		if !hasHref || !hasGet || href == "" || href != get {
			t.Errorf("nav link %q: got href=%q hx-get=%q, want both, equal and non-empty",
				s.Text(), href, get)
		}
		if got := s.AttrOr("hx-target", ""); got != "#comic" {
			t.Errorf("nav link %q hx-target: got %q, want %q", s.Text(), got, "#comic")
		}
	})
}

// TestComicViewsUnknown: a count of 0 means the count could not be had
// (the database is down); the page says nothing rather than "0 views".
func TestComicViewsUnknown(t *testing.T) {
	doc, _ := render(t, ComicPage(ComicView{Comic: comic(42), Latest: 3000}))
	if n := doc.Find("#comic [data-views]").Length(); n != 0 {
		t.Errorf("#comic [data-views] with the count unknown: got %d elements, want 0", n)
	}
}

func TestComicViews(t *testing.T) {
	tests := []struct {
		views    int64
		wantData string
		wantText string
	}{
		{1, "1", "1 view"},
		{2, "2", "2 views"},
		{999, "999", "999 views"},
		{1000, "1000", "1,000 views"},
		{12345, "12345", "12,345 views"},
		{1234567, "1234567", "1,234,567 views"},
	}
	for _, tt := range tests {
		t.Run(tt.wantText, func(t *testing.T) {
			doc, _ := render(t, ComicPage(ComicView{Comic: comic(42), Views: tt.views, Latest: 3000}))
			views := one(t, doc, "#comic [data-views]")
			if got := views.AttrOr("data-views", ""); got != tt.wantData {
				t.Errorf("data-views: got %q, want %q", got, tt.wantData)
			}
			if got := strings.Join(strings.Fields(views.Text()), " "); got != tt.wantText {
				t.Errorf("views text: got %q, want %q", got, tt.wantText)
			}
		})
	}
}

func TestLeaderboard(t *testing.T) {
	v := LeaderboardView{Limit: 10, Rows: []Ranked{
		{Rank: 1, Num: 7, Title: "Seven", Views: 12345},
		{Rank: 2, Num: 3, Title: `<script>alert(1)</script>`, Views: 40},
		{Rank: 3, Num: 9, Views: 40}, // not cached: no title
	}}
	doc, _ := render(t, LeaderboardPage(v))
	assertNoMarkupRan(t, doc)
	rows := doc.Find("#leaderboard tr[data-num]")
	if rows.Length() != len(v.Rows) {
		t.Fatalf("rows: got %d, want %d", rows.Length(), len(v.Rows))
	}
	wantTitles := []string{"Seven", `<script>alert(1)</script>`, "Comic 9"}
	wantCounts := []string{"12,345", "40", "40"}
	rows.Each(func(i int, s *goquery.Selection) {
		want := v.Rows[i]
		if got := s.AttrOr("data-num", ""); got != strconv.Itoa(want.Num) {
			t.Errorf("row %d data-num: got %q, want %d", i, got, want.Num)
		}
		if got := s.AttrOr("data-views", ""); got != strconv.FormatInt(want.Views, 10) {
			t.Errorf("row %d data-views: got %q, want %d", i, got, want.Views)
		}
		link := s.Find("a")
		if got := link.AttrOr("href", ""); got != "/comic/"+strconv.Itoa(want.Num) {
			t.Errorf("row %d link: got %q, want %q", i, got, "/comic/"+strconv.Itoa(want.Num))
		}
		if got := strings.Join(strings.Fields(link.Text()), " "); got != wantTitles[i] {
			t.Errorf("row %d title: got %q, want %q", i, got, wantTitles[i])
		}
		if got := strings.TrimSpace(s.Find("td.views").Text()); got != wantCounts[i] {
			t.Errorf("row %d views: got %q, want %q", i, got, wantCounts[i])
		}
		if got := strings.TrimSpace(s.Find("td.rank").Text()); got != strconv.Itoa(want.Rank) {
			t.Errorf("row %d rank: got %q, want %d", i, got, want.Rank)
		}
	})
	if got := doc.Find("#leaderboard .empty").Length(); got != 0 {
		t.Errorf("empty message with rows: got %d, want 0", got)
	}
}

func TestLeaderboardEmpty(t *testing.T) {
	doc, _ := render(t, LeaderboardPage(LeaderboardView{Limit: 10}))
	if got := doc.Find("#leaderboard tr[data-num]").Length(); got != 0 {
		t.Errorf("rows: got %d, want 0", got)
	}
	msg := one(t, doc, "#leaderboard .empty")
	if got := msg.Text(); !strings.Contains(got, "No comic has been viewed yet") {
		t.Errorf("empty message: got %q, want it to say no comic has been viewed", got)
	}
	if got := msg.Find("a").AttrOr("href", ""); got != "/random" {
		t.Errorf("empty message link: got %q, want %q", got, "/random")
	}
}

func TestProblemPage(t *testing.T) {
	tests := []struct {
		name      string
		p         Problem
		wantRetry bool
	}{
		{"unavailable with retry", Problem{Status: 503, Title: "xkcd is out of reach", Message: "Try again.", Retry: "/comic/5"}, true},
		{"not found", Problem{Status: 404, Title: "No such comic", Message: "Nope."}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, raw := render(t, ProblemPage(tt.p))
			if !strings.Contains(raw, "<html") {
				t.Errorf("ProblemPage is not a full document")
			}
			problem := one(t, doc, "#problem")
			if got := problem.AttrOr("data-status", ""); got != strconv.Itoa(tt.p.Status) {
				t.Errorf("data-status: got %q, want %d", got, tt.p.Status)
			}
			if got := problem.Find(".code").Text(); got != strconv.Itoa(tt.p.Status) {
				t.Errorf("status shown: got %q, want %d", got, tt.p.Status)
			}
			if got := problem.Find("h1").Text(); got != tt.p.Title {
				t.Errorf("title: got %q, want %q", got, tt.p.Title)
			}
			if got := problem.Text(); !strings.Contains(got, tt.p.Message) {
				t.Errorf("message: got %q, want it to contain %q", got, tt.p.Message)
			}
			retry := problem.Find(`a[href="` + tt.p.Retry + `"]`)
			if tt.wantRetry && (retry.Length() != 1 || !strings.Contains(retry.Text(), "Try again")) {
				t.Errorf("retry link to %q: got %d, want 1 saying Try again", tt.p.Retry, retry.Length())
			}
			if !tt.wantRetry && strings.Contains(problem.Text(), "Try again") {
				t.Errorf("retry link without Retry: got one, want none")
			}
		})
	}
}

func TestProblemNotice(t *testing.T) {
	p := Problem{Status: 503, Title: "xkcd is out of reach", Message: "Try later.", Retry: "/comic/5"}
	doc, raw := render(t, ProblemNotice(p))
	if strings.Contains(raw, "<html") {
		t.Errorf("ProblemNotice contains <html: %q", raw)
	}
	if got := doc.Find("#comic").Length(); got != 0 {
		t.Errorf("#comic in notice: got %d, want 0", got)
	}
	if got := doc.Find("strong").Text(); !strings.Contains(got, p.Title) {
		t.Errorf("notice title: got %q, want it to contain %q", got, p.Title)
	}
	if got := doc.Find(`a[href="/comic/5"]`).Length(); got != 1 {
		t.Errorf("retry link: got %d, want 1", got)
	}
}
