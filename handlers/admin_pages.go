package handlers

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/xkcdapp/xkcdapp/catalog"
	"github.com/xkcdapp/xkcdapp/store"
	"github.com/xkcdapp/xkcdapp/views"
)

// Page sizes of the admin lists, and the deepest page asked for.
const (
	countsPerPage = 25
	auditPerPage  = 50
	maxPageNum    = 10_000
	maxSearchLen  = 100
)

func (s *server) catalogStatus() views.CatalogStatusView {
	st := s.Catalog.Status()
	v := views.CatalogStatusView{
		Cached:     st.Cached,
		Latest:     st.Latest,
		Complete:   st.Complete,
		Syncing:    st.Syncing,
		LastSyncAt: st.LastRun.Finished,
		Now:        time.Now(),
	}
	if st.LastRun.Err != nil {
		v.LastSyncErr = st.LastRun.Err.Error()
	}
	for _, e := range s.Catalog.RecentErrors() {
		v.Errors = append(v.Errors, views.UpstreamErrorView{At: e.At, Num: e.Num, Err: e.Err})
	}
	return v
}

// syncNow starts a catalog sync, unless one runs (409).
func (s *server) syncNow(w http.ResponseWriter, r *http.Request) error {
	user := s.operator(r)
	if err := s.Catalog.SyncNow(); err != nil {
		return err
	}
	s.Log.InfoContext(r.Context(), "admin asked for a catalog sync", "user", user)
	s.audit(r, user, store.ActionSync, "")
	const notice = "A sync has started. This page shows how it went once it is done."
	if !isFragment(r) {
		s.noticeNext(r, notice)
		http.Redirect(w, r, "/admin/", http.StatusSeeOther)
		return nil
	}
	s.render(w, r, http.StatusOK, views.CatalogStatusSwap(s.adminOf(r), s.catalogStatus(), notice))
	return nil
}

// pageParam reads ?page=, 1 when absent.
func pageParam(r *http.Request) (int, error) {
	raw := r.URL.Query().Get("page")
	if raw == "" {
		return 1, nil
	}
	n, ok := parseNum(raw)
	if !ok || n > maxPageNum {
		return 0, badRequest(fmt.Sprintf("page must be a whole number from 1 to %d.", maxPageNum))
	}
	return n, nil
}

// printable reports whether s is UTF-8 text without control characters:
// nothing typed in a search box is otherwise.
func printable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

// pages is how many pages total rows make, at least one.
func pages(total, per int) int { return max(1, (total+per-1)/per) }

// adminCounts lists comics and their counts: searched, sorted, paged.
func (s *server) adminCounts(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	v := views.CountsView{Search: q.Get("q"), Sort: q.Get("sort")}
	if len(v.Search) > maxSearchLen {
		return badRequest(fmt.Sprintf("A search may be up to %d characters.", maxSearchLen))
	}
	if !printable(v.Search) {
		return badRequest("A search may hold only printable text.")
	}
	switch v.Sort {
	case "":
		v.Sort = store.SortViews
	case store.SortViews, store.SortNum:
	default:
		return badRequest("sort must be views or num.")
	}
	page, err := pageParam(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	res, err := s.AdminStore.ViewCounts(ctx, store.CountQuery{
		Search: v.Search, Sort: v.Sort, Limit: countsPerPage, Offset: (page - 1) * countsPerPage,
	})
	if err != nil {
		return fmt.Errorf("admin counts: %w: %w", errAdminStoreDown, err)
	}
	v.Rows, v.Total, v.Page, v.Pages = res.Rows, res.Total, page, pages(res.Total, countsPerPage)
	w.Header().Add("Vary", "HX-Request")
	if isFragment(r) {
		w.Header().Set("HX-Push-Url", r.URL.RequestURI())
		s.render(w, r, http.StatusOK, views.Counts(v))
		return nil
	}
	s.render(w, r, http.StatusOK, views.AdminCountsPage(s.adminOf(r), v))
	return nil
}

// comicCount is the comic at {num} with its count. Only comics the app
// knows (cached, or counted) have one.
func (s *server) comicCount(r *http.Request) (views.ComicCountView, error) {
	num, ok := parseNum(chi.URLParam(r, "num"))
	if !ok {
		return views.ComicCountView{}, catalog.ErrNotFound
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	n, err := s.Rankings.Views(ctx, num)
	if err != nil {
		return views.ComicCountView{}, fmt.Errorf("admin comic %d: %w: %w", num, errAdminStoreDown, err)
	}
	v := views.ComicCountView{Num: num, Title: s.title(num), Views: n}
	if v.Title == "" && n == 0 {
		return views.ComicCountView{}, catalog.ErrNotFound
	}
	return v, nil
}

// viewsParam reads a new count from the form value named views.
func viewsParam(raw string) (int64, error) {
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 0 || n > views.MaxViews || len(raw) > 13 {
		return 0, badRequest(fmt.Sprintf("views must be a whole number from 0 to %d.", int64(views.MaxViews)))
	}
	return n, nil
}

// adminComic shows a comic's count and the form to change it; with
// ?views=, the change to confirm.
func (s *server) adminComic(w http.ResponseWriter, r *http.Request) error {
	v, err := s.comicCount(r)
	if err != nil {
		return err
	}
	if r.URL.Query().Has("views") {
		if v.NewViews, err = viewsParam(r.URL.Query().Get("views")); err != nil {
			return err
		}
		v.Confirm = true
	}
	w.Header().Add("Vary", "HX-Request")
	if isFragment(r) {
		s.render(w, r, http.StatusOK, views.ComicCount(s.adminOf(r), v))
		return nil
	}
	s.render(w, r, http.StatusOK, views.AdminComicPage(s.adminOf(r), v))
	return nil
}

// setComicViews sets a comic's count, confirmed, with its audit row.
func (s *server) setComicViews(w http.ResponseWriter, r *http.Request) error {
	v, err := s.comicCount(r)
	if err != nil {
		return err
	}
	n, err := viewsParam(r.PostFormValue("views"))
	if err != nil {
		return err
	}
	user := s.operator(r)
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	old, err := s.AdminStore.SetViews(ctx, v.Num, n, user)
	if err != nil {
		return fmt.Errorf("admin set views: %w: %w", errAdminStoreDown, err)
	}
	// Counts this instance hands out before a commit must follow the new one.
	s.Counter.Forget(v.Num)
	s.Log.InfoContext(r.Context(), "admin set a comic's views", "user", user, "num", v.Num, "old", old, "new", n)
	notice := fmt.Sprintf("The views of comic #%d are now %d (they were %d).", v.Num, n, old)
	if !isFragment(r) {
		s.noticeNext(r, notice)
		http.Redirect(w, r, "/admin/views/"+strconv.Itoa(v.Num), http.StatusSeeOther)
		return nil
	}
	v.Views = n
	s.render(w, r, http.StatusOK, views.ComicCountSwap(s.adminOf(r), v, notice))
	return nil
}

// adminAudit lists the audit log, newest first.
func (s *server) adminAudit(w http.ResponseWriter, r *http.Request) error {
	page, err := pageParam(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	entries, total, err := s.AdminStore.AuditLog(ctx, auditPerPage, (page-1)*auditPerPage)
	if err != nil {
		return fmt.Errorf("admin audit: %w: %w", errAdminStoreDown, err)
	}
	v := views.AuditView{Entries: entries, Total: total, Page: page, Pages: pages(total, auditPerPage), Now: time.Now()}
	w.Header().Add("Vary", "HX-Request")
	if isFragment(r) {
		w.Header().Set("HX-Push-Url", r.URL.RequestURI())
		s.render(w, r, http.StatusOK, views.Audit(v))
		return nil
	}
	s.render(w, r, http.StatusOK, views.AdminAuditPage(s.adminOf(r), v))
	return nil
}
