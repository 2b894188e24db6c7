package views

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

// TestComicCacheMatchesRender: what the cache writes is, byte for byte,
// what rendering the component afresh writes, whatever the count and the
// visitor's strip, for pages and fragments, and after the latest comic
// changes.
func TestComicCacheMatchesRender(t *testing.T) {
	var cache ComicCache
	mine := RecentView{Comics: []RecentComic{{Num: 42, Title: "Comic number 42", Current: true}, {Num: 7}}}
	theirs := RecentView{Comics: []RecentComic{{Num: 42, Current: true}, {Num: 9, Title: "<b>Nine</b>"}}}
	for _, tt := range []struct {
		num, latest int
		views       int64
		recent      RecentView
	}{
		{42, 3000, 1, mine}, {42, 3000, 12345, theirs}, {42, 3000, 0, RecentView{}},
		{42, 3000, 3, RecentView{Unavailable: true}}, {7, 3000, 2, mine},
		{3000, 3000, 5, theirs}, {3000, 3001, 6, mine},
	} {
		for _, fragment := range []bool{false, true} {
			v := ComicView{Comic: comic(tt.num), Views: tt.views, Latest: tt.latest, Recent: tt.recent}
			want := new(bytes.Buffer)
			c := ComicPage(v)
			if fragment {
				c = ComicFragment(v)
			}
			if err := c.Render(context.Background(), want); err != nil {
				t.Fatal(err)
			}
			got := new(bytes.Buffer)
			if err := cache.Render(context.Background(), got, v, fragment); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("comic %d, %d views, latest %d, fragment %v: cached render differs:\ngot  %s\nwant %s",
					tt.num, tt.views, tt.latest, fragment, got, want)
			}
		}
	}
}

// TestComicCacheStrip: the cached page carries the visitor's strip, in
// place; the cached fragment carries it out of band.
func TestComicCacheStrip(t *testing.T) {
	var cache ComicCache
	recent := RecentView{Comics: []RecentComic{{Num: 42, Current: true}, {Num: 7}}}
	for _, fragment := range []bool{false, true} {
		var buf bytes.Buffer
		v := ComicView{Comic: comic(42), Views: 1, Latest: 3000, Recent: recent}
		if err := cache.Render(context.Background(), &buf, v, fragment); err != nil {
			t.Fatal(err)
		}
		doc, err := goquery.NewDocumentFromReader(&buf)
		if err != nil {
			t.Fatal(err)
		}
		aside := one(t, doc, "aside#recent")
		want := "none"
		if fragment {
			want = "true"
		}
		if got := aside.AttrOr("hx-swap-oob", "none"); got != want {
			t.Errorf("fragment %v: strip hx-swap-oob: got %q, want %q", fragment, got, want)
		}
		if got := strings.Join(dataNums(doc, "#recent li"), ","); got != "42,7" {
			t.Errorf("fragment %v: strip: got %q, want %q", fragment, got, "42,7")
		}
		if got := doc.Find("#comic #recent").Length(); got != 0 {
			t.Errorf("fragment %v: strip inside #comic: got %d, want 0, so that a swap of #comic keeps it", fragment, got)
		}
	}
}
