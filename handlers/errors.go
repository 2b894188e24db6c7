package handlers

import (
	"errors"
	"net/http"

	"github.com/xkcdapp/xkcdapp/catalog"
	"github.com/xkcdapp/xkcdapp/views"
)

// handlerFunc is a handler that returns its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// badRequest is a client mistake with a message that names it.
type badRequest string

func (e badRequest) Error() string { return string(e) }

// methodNotAllowed is a request with a method its address does not answer;
// the value lists those it does.
type methodNotAllowed string

func (e methodNotAllowed) Error() string { return "method not allowed; allowed: " + string(e) }

var (
	errNoPage    = errors.New("no such page")
	errCrossSite = errors.New("cross-site request refused")
	// errHistoryDown is a change to the history while sessions are down.
	errHistoryDown = errors.New("history unavailable")
	// errCountsDown wraps a failure to read view counts from the store.
	errCountsDown = errors.New("view counts unavailable")
)

// handle adapts a handlerFunc: the one place where errors become pages.
func (s *server) handle(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeProblem(w, r, err)
		}
	}
}

// problem maps an error to what the visitor is told.
func problem(r *http.Request, err error) views.Problem {
	var bad badRequest
	var method methodNotAllowed
	switch {
	case errors.As(err, &bad):
		return views.Problem{Status: http.StatusBadRequest, Title: "That request is not right", Message: bad.Error()}
	case errors.Is(err, catalog.ErrNotFound):
		return views.Problem{Status: http.StatusNotFound, Title: "No such comic",
			Message: "xkcd has no comic with that number. Comic numbers are whole numbers from 1 to the latest, and there never was a 404."}
	case errors.Is(err, errNoPage):
		return views.Problem{Status: http.StatusNotFound, Title: "Page not found",
			Message: "There is nothing at this address."}
	case errors.As(err, &method):
		return views.Problem{Status: http.StatusMethodNotAllowed, Title: "Method not allowed",
			Message: "This address only answers " + string(method) + " requests.", Allow: string(method)}
	case errors.Is(err, errCrossSite):
		return views.Problem{Status: http.StatusForbidden, Title: "Request from another site refused",
			Message: "This request came from another site, so it was not carried out. To do this, use the button on this site."}
	case errors.Is(err, errSignedOut):
		return views.Problem{Status: http.StatusUnauthorized, Title: "Please sign in",
			Message: "This needs an admin sign-in, and there is none, or it has ended.", Retry: "/admin/"}
	case errors.Is(err, errStaleForm):
		return views.Problem{Status: http.StatusForbidden, Title: "That form is out of date",
			Message: "The form was not made for this sign-in, so nothing was done. Please reload the page and try again."}
	case errors.Is(err, catalog.ErrSyncRunning):
		return views.Problem{Status: http.StatusConflict, Title: "A sync is already running",
			Message: "The catalog is being synced right now; the page shows the outcome once it is done."}
	case errors.Is(err, errAdminSessionsDown):
		return views.Problem{Status: http.StatusServiceUnavailable, Title: "Sign-in is unavailable",
			Message: "Sessions cannot be kept right now, so signing in or out cannot work. Please try again in a moment.", Retry: "/admin/"}
	case errors.Is(err, errAdminStoreDown):
		return views.Problem{Status: http.StatusServiceUnavailable, Title: "The database is out of reach",
			Message: "View counts and the audit log cannot be read or changed right now. Please try again in a moment.",
			Retry:   retryGet(r, "/admin/")}
	case errors.Is(err, errHistoryDown):
		return views.Problem{Status: http.StatusServiceUnavailable, Title: "Your history is out of reach",
			Message: "Your history cannot be reached right now, so it may not have been cleared. Comics are still being served. Please try again in a moment."}
	case errors.Is(err, catalog.ErrUnavailable):
		return views.Problem{Status: http.StatusServiceUnavailable, Title: "xkcd is out of reach",
			Message: "That comic is not in our cache and xkcd.com is not answering right now. Please try again in a moment.",
			Retry:   r.URL.RequestURI()}
	case errors.Is(err, errCountsDown):
		return views.Problem{Status: http.StatusServiceUnavailable, Title: "The leaderboard is out of reach",
			Message: "The view counts cannot be read right now. Comics are still being served and every view is still counted.",
			Retry:   r.URL.RequestURI()}
	default:
		return views.Problem{Status: http.StatusInternalServerError, Title: "Something went wrong",
			Message: "The error has been logged. Please try again."}
	}
}

// retryGet is the address to try again: r's own when it was a GET,
// otherwise page.
func retryGet(r *http.Request, page string) string {
	if r.Method == http.MethodGet {
		return r.URL.RequestURI()
	}
	return page
}

func (s *server) writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	p := problem(r, err)
	uri := loggable(r.URL.RequestURI())
	switch {
	case r.Context().Err() != nil:
		// The visitor left; nothing went wrong on our side.
		s.Log.DebugContext(r.Context(), "request abandoned", "method", r.Method, "uri", uri, "err", err)
	case p.Status >= 500:
		s.Log.ErrorContext(r.Context(), "request failed", "method", r.Method, "uri", uri, "status", p.Status, "err", err)
	case p.Status != http.StatusNotFound:
		s.Log.InfoContext(r.Context(), "request refused", "method", r.Method, "uri", uri, "status", p.Status, "err", err)
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Add("Vary", "HX-Request")
	if p.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "30")
	}
	if p.Allow != "" {
		h.Set("Allow", p.Allow)
	}
	if isFragment(r) {
		// Keep the comic on screen; show the problem in the notice above it.
		h.Set("HX-Retarget", "#notice")
		h.Set("HX-Reswap", "innerHTML")
		s.render(w, r, p.Status, views.ProblemNotice(p))
		return
	}
	s.render(w, r, p.Status, views.ProblemPage(p))
}
