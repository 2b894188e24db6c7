package views

import (
	"bytes"
	"context"
	"testing"
)

// TestComicCacheMatchesRender: what the cache writes is, byte for byte,
// what rendering the component afresh writes, whatever the count, for
// pages and fragments, and after the latest comic changes.
func TestComicCacheMatchesRender(t *testing.T) {
	var cache ComicCache
	for _, tt := range []struct {
		num, latest int
		views       int64
	}{
		{42, 3000, 1}, {42, 3000, 12345}, {42, 3000, 0}, {7, 3000, 2}, {3000, 3000, 5}, {3000, 3001, 6},
	} {
		for _, fragment := range []bool{false, true} {
			v := ComicView{Comic: comic(tt.num), Views: tt.views, Latest: tt.latest}
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
