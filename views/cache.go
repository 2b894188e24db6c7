package views

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"

	"github.com/a-h/templ"
)

// ComicCache renders each comic's page and fragment once, split where the
// view count and the visitor's recently viewed strip go. A comic never
// changes, so per visit only those two are rendered; the rest is bytes
// copied from memory. The zero value is ready.
type ComicCache struct {
	mu     sync.RWMutex
	latest int // the navigation depends on it; a new latest starts afresh
	pages  map[pageKey]*splitPage
}

type pageKey struct {
	num      int
	fragment bool
}

// splitPage is a rendered comic cut in three: before the view count,
// between it and the strip, and after the strip.
type splitPage struct {
	head, middle, tail []byte
}

// The markers are rendered in place of the slots and cut out again.
const (
	countMarker  = "<!--xkcdapp:views-->"
	recentMarker = "<!--xkcdapp:recent-->"
)

func marker(m string) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		_, err := io.WriteString(w, m)
		return err
	})
}

var countSlot, recentSlot = marker(countMarker), marker(recentMarker)

// Render writes v (ComicPage, or ComicFragment when fragment is set) to w
// with v.Views as its count and v.Recent as its strip; the rest is rendered
// once per comic.
func (p *ComicCache) Render(ctx context.Context, w io.Writer, v ComicView, fragment bool) error {
	page, err := p.get(ctx, v, fragment)
	if err != nil {
		return err
	}
	if _, err := w.Write(page.head); err != nil {
		return err
	}
	if err := ViewCount(v.Views).Render(ctx, w); err != nil {
		return err
	}
	if _, err := w.Write(page.middle); err != nil {
		return err
	}
	if err := Recent(v.Recent, fragment).Render(ctx, w); err != nil {
		return err
	}
	_, err = w.Write(page.tail)
	return err
}

func (p *ComicCache) get(ctx context.Context, v ComicView, fragment bool) (*splitPage, error) {
	key := pageKey{num: v.Comic.Num, fragment: fragment}
	p.mu.RLock()
	page, ok := p.pages[key]
	fresh := p.latest == v.Latest
	p.mu.RUnlock()
	if ok && fresh {
		return page, nil
	}

	v.CountSlot, v.RecentSlot = countSlot, recentSlot
	c := ComicPage(v)
	if fragment {
		c = ComicFragment(v)
	}
	var buf bytes.Buffer
	if err := c.Render(ctx, &buf); err != nil {
		return nil, err
	}
	head, rest, found := bytes.Cut(buf.Bytes(), []byte(countMarker))
	middle, tail, found2 := bytes.Cut(rest, []byte(recentMarker))
	if !found || !found2 {
		return nil, errors.New("views: comic rendered without its view count or recent slot")
	}
	page = &splitPage{head: bytes.Clone(head), middle: bytes.Clone(middle), tail: bytes.Clone(tail)}

	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case v.Latest < p.latest:
		// A request that read the latest number before a new comic came
		// out: serve its page, keep the cache for the new number.
		return page, nil
	case v.Latest > p.latest || p.pages == nil:
		p.latest, p.pages = v.Latest, make(map[pageKey]*splitPage)
	}
	p.pages[key] = page
	return page, nil
}
