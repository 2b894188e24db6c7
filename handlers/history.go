package handlers

import (
	"net/http"
	"time"

	"github.com/xkcdapp/xkcdapp/history"
	"github.com/xkcdapp/xkcdapp/views"
	"github.com/xkcdapp/xkcdapp/xkcd"
)

// noticeKey holds a notice for the next page, after a redirect.
const noticeKey = "notice"

// showHistory is the visitor's history page.
func (s *server) showHistory(w http.ResponseWriter, r *http.Request) error {
	h, ok := s.history(r)
	v := s.historyView(h, ok)
	if ok {
		v.Notice = s.takeNotice(r, noticeKey)
	}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, views.HistoryPage(v))
	return nil
}

// clearHistory empties the visitor's history: in place for htmx, and
// without JavaScript with a redirect back to the page, which says so.
func (s *server) clearHistory(w http.ResponseWriter, r *http.Request) error {
	if _, ok := s.history(r); !ok {
		return errHistoryDown
	}
	fragment := isFragment(r)
	if !fragment {
		s.Sessions.Put(r.Context(), noticeKey, views.ClearedNotice)
	}
	if !s.saveHistory(r, history.History{})(w) {
		return errHistoryDown
	}
	w.Header().Set("Cache-Control", "no-store")
	if !fragment {
		http.Redirect(w, r, "/history", http.StatusSeeOther)
		return nil
	}
	s.render(w, r, http.StatusOK, views.HistoryCleared(s.historyView(history.History{}, true)))
	return nil
}

func (s *server) historyView(h history.History, ok bool) views.HistoryView {
	if !ok {
		return views.HistoryView{Unavailable: true}
	}
	v := views.HistoryView{
		Entries: make([]views.HistoryEntry, len(h.Entries)),
		Seen:    h.Seen.Len(),
		Total:   published(s.Catalog.Status().Latest),
		Now:     time.Now(),
	}
	for i, e := range h.Entries {
		v.Entries[i] = views.HistoryEntry{Num: e.Num, Title: s.title(e.Num), At: e.At}
	}
	return v
}

// published is how many comics exist when latest is the newest: all but
// 404, which xkcd never published.
func published(latest int) int {
	if latest >= xkcd.Missing {
		return latest - 1
	}
	return latest
}
