package handlers

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/xkcdapp/xkcdapp/catalog"
	"github.com/xkcdapp/xkcdapp/history"
	"github.com/xkcdapp/xkcdapp/views"
	"github.com/xkcdapp/xkcdapp/xkcd"
)

// home shows a random comic as a full page.
func (s *server) home(w http.ResponseWriter, r *http.Request) error {
	comic, err := s.random(r)
	if err != nil {
		return err
	}
	return s.showComic(w, r, comic)
}

// random picks a comic the visitor has not seen, while there is one.
func (s *server) random(r *http.Request) (*xkcd.Comic, error) {
	h, _ := s.history(r)
	skip := h.Seen.Has
	if latest := s.Catalog.Status().Latest; latest > 0 && h.Seen.Len() >= published(latest) {
		skip = nil // seen them all: any will do, without looking for one left
	}
	return s.Catalog.Random(r.Context(), skip)
}

func (s *server) latest(r *http.Request) (*xkcd.Comic, error) {
	return s.Catalog.Latest(r.Context())
}

// pick serves /random and /latest: the comic find picks, swapped in for
// htmx; without JavaScript, a 303 to the comic's permalink.
func (s *server) pick(find func(*http.Request) (*xkcd.Comic, error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		comic, err := find(r)
		if err != nil {
			return err
		}
		if !isFragment(r) {
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Add("Vary", "HX-Request")
			http.Redirect(w, r, permalink(comic.Num), http.StatusSeeOther)
			return nil
		}
		return s.showComic(w, r, comic)
	}
}

// comic is the permalink /comic/{num}.
func (s *server) comic(w http.ResponseWriter, r *http.Request) error {
	raw := chi.URLParam(r, "num")
	n, ok := parseNum(raw)
	if !ok {
		return catalog.ErrNotFound
	}
	if canonical := strconv.Itoa(n); raw != canonical {
		// One address per comic: /comic/007 is /comic/7.
		http.Redirect(w, r, permalink(n), http.StatusMovedPermanently)
		return nil
	}
	comic, err := s.Catalog.Comic(r.Context(), n)
	if err != nil {
		return err
	}
	return s.showComic(w, r, comic)
}

// showComic counts the view, adds it to the visitor's history and writes
// the comic: a fragment for htmx (with its permalink pushed into the
// address bar), a full page otherwise.
func (s *server) showComic(w http.ResponseWriter, r *http.Request, comic *xkcd.Comic) error {
	v := views.ComicView{Comic: comic, Latest: s.Catalog.Status().Latest}
	h, ok := s.history(r)
	saved := func(http.ResponseWriter) bool { return ok }
	if ok && countsAsView(r) {
		h.Push(comic.Num, time.Now())
		// The session is saved while the view is counted: the round trips
		// to Redis and to Postgres overlap instead of adding up.
		saved = s.saveHistory(r, h)
	}
	var err error
	if countsAsView(r) {
		v.Views, err = s.Counter.Record(r.Context(), comic.Num)
	} else {
		ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
		v.Views, err = s.Rankings.Views(ctx, comic.Num)
		cancel()
	}
	if err != nil {
		// The page is still worth showing; it just goes without a count.
		s.Log.WarnContext(r.Context(), "view count unavailable", "num", comic.Num, "err", err)
	}
	v.Recent = s.recent(h, saved(w), comic.Num)
	header := w.Header()
	header.Set("Cache-Control", "no-store")
	header.Add("Vary", "HX-Request, HX-History-Restore-Request")
	fragment := isFragment(r)
	if fragment {
		header.Set("HX-Push-Url", permalink(comic.Num))
	}
	s.renderFunc(w, r, http.StatusOK, func(w io.Writer) error {
		return s.pages.Render(r.Context(), w, v, fragment)
	})
	return nil
}

// recent is the strip of the visitor's last few comics, each once.
func (s *server) recent(h history.History, ok bool, current int) views.RecentView {
	if !ok {
		return views.RecentView{Unavailable: true}
	}
	var v views.RecentView
	for _, e := range h.Entries {
		if len(v.Comics) == views.RecentLen {
			break
		}
		if slices.ContainsFunc(v.Comics, func(c views.RecentComic) bool { return c.Num == e.Num }) {
			continue // back and forth between two comics shows each once
		}
		v.Comics = append(v.Comics, views.RecentComic{Num: e.Num, Title: s.title(e.Num), Current: e.Num == current})
	}
	return v
}

// title is a cached comic's title, "" for one not cached.
func (s *server) title(num int) string {
	if c, ok := s.Catalog.Cached(num); ok {
		return c.Title
	}
	return ""
}

func permalink(num int) string { return "/comic/" + strconv.Itoa(num) }

// maxNumDigits bounds a comic number; xkcd will not reach a million soon.
const maxNumDigits = 6

// parseNum accepts a comic number written as plain digits. Signs, spaces,
// hex and absurd lengths are refused before strconv sees them.
func parseNum(s string) (int, bool) {
	if s == "" || len(s) > maxNumDigits {
		return 0, false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n > 0
}
