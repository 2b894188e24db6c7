package handlers

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/xkcdapp/xkcdapp/history"
	"github.com/xkcdapp/xkcdapp/session"
)

// Session keys: the visitor's history, and the mark of a session that its
// visitor has not come back to yet.
const (
	historyKey    = "history"
	firstVisitKey = "first"
)

// visit is one request's hold on the visitor's session.
type visit struct {
	// down is set when the store did not answer: the request goes on with
	// an empty session that is never saved, so that it cannot overwrite
	// the visitor's real one.
	down bool
	// changed is set by what changes the session. Only then is it saved:
	// scs would save every session it loads (to push its idle timeout on),
	// and a page that only reads, in one tab, would undo a view in another.
	changed bool
	saved   bool
	// pending, while a save runs, waits for it.
	pending func(http.ResponseWriter) bool
	decoded bool
	history history.History
}

type visitKey struct{}

func visitOf(ctx context.Context) *visit {
	v, _ := ctx.Value(visitKey{}).(*visit)
	if v == nil {
		return &visit{down: true}
	}
	return v
}

// takeNotice returns the notice left under key for this page, and
// forgets it: it is shown once. "" when there is none, or no session.
func (s *server) takeNotice(r *http.Request, key string) string {
	ctx := r.Context()
	v := visitOf(ctx)
	if v.down || !s.Sessions.Exists(ctx, key) {
		return ""
	}
	v.changed = true
	return s.Sessions.PopString(ctx, key)
}

// loadSession is scs's LoadAndSave, except that a session store in trouble
// never fails the page: the request goes on without the session, and the
// page says history is unavailable.
func (s *server) loadSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Cookie")
		var token string
		if c, err := r.Cookie(s.Sessions.Cookie.Name); err == nil {
			token = c.Value
		}
		v := &visit{}
		ctx, err := s.Sessions.Load(r.Context(), token)
		if err != nil {
			if errors.Is(err, session.ErrUnavailable) || r.Context().Err() != nil {
				v.down = true
			} else {
				// Data we cannot decode: the visitor starts afresh.
				s.Log.WarnContext(r.Context(), "session unreadable; starting a new one", "err", err)
			}
			ctx, _ = s.Sessions.Load(r.Context(), "") // no token: no store call
		}
		r = r.WithContext(context.WithValue(ctx, visitKey{}, v))
		sw := &sessionWriter{ResponseWriter: w, s: s, r: r}
		next.ServeHTTP(sw, r)
		sw.save()
	})
}

// history is the visitor's history; ok is false when sessions are down.
func (s *server) history(r *http.Request) (h history.History, ok bool) {
	v := visitOf(r.Context())
	if v.down {
		return history.History{}, false
	}
	if !v.decoded {
		v.decoded = true
		if err := v.history.UnmarshalBinary(s.Sessions.GetBytes(r.Context(), historyKey)); err != nil {
			s.Log.WarnContext(r.Context(), "history unreadable; starting afresh", "err", err)
		}
	}
	return v.history, true
}

// saveHistory puts h in the session (an empty h removes it) and starts
// saving the session, so that the caller can count the view meanwhile. The
// returned wait reports whether it was saved and adds the cookie to w; call
// it before the page is written, so that the page can say when history was
// not saved. (The response writer calls it too, in case.)
func (s *server) saveHistory(r *http.Request, h history.History) (wait func(w http.ResponseWriter) bool) {
	v := visitOf(r.Context())
	if v.down {
		return func(http.ResponseWriter) bool { return false }
	}
	v.history, v.decoded, v.changed = h, true, true
	if len(h.Entries) == 0 && h.Seen.Len() == 0 {
		s.Sessions.Remove(r.Context(), historyKey)
	} else {
		b, _ := h.MarshalBinary()
		s.Sessions.Put(r.Context(), historyKey, b)
	}
	type result struct {
		cookie *http.Cookie
		ok     bool
	}
	done := make(chan result, 1)
	go func() {
		cookie, ok := s.commitSession(r)
		done <- result{cookie, ok}
	}()
	var res *result
	v.pending = func(w http.ResponseWriter) bool {
		if res == nil {
			got := <-done
			res, v.pending = &got, nil
			if got.cookie != nil {
				w.Header().Add("Set-Cookie", got.cookie.String())
			}
		}
		return res.ok
	}
	return v.pending
}

// commit saves the session if it changed, and sets its cookie, once per
// request.
func (s *server) commit(w http.ResponseWriter, r *http.Request) bool {
	if wait := visitOf(r.Context()).pending; wait != nil {
		return wait(w)
	}
	cookie, ok := s.commitSession(r)
	if cookie != nil {
		w.Header().Add("Set-Cookie", cookie.String())
	}
	return ok
}

// commitSession saves the session, once per request, and returns the
// cookie that names it (nil when there was nothing to save).
func (s *server) commitSession(r *http.Request) (*http.Cookie, bool) {
	v := visitOf(r.Context())
	if v.down {
		return nil, false
	}
	if v.saved || !v.changed || s.Sessions.Status(r.Context()) != scs.Modified {
		return nil, true
	}
	ctx := r.Context()
	switch {
	case s.Sessions.Token(ctx) == "":
		s.Sessions.Put(ctx, firstVisitKey, true)
		s.Sessions.SetDeadline(ctx, time.Now().Add(session.FirstVisitLifetime))
	case s.Sessions.GetBool(ctx, firstVisitKey):
		// The visitor came back: the session now lives its full life.
		s.Sessions.Remove(ctx, firstVisitKey)
		s.Sessions.SetDeadline(ctx, time.Now().Add(s.Sessions.Lifetime))
	}
	token, expiry, err := s.Sessions.Commit(ctx)
	if err != nil {
		if errors.Is(err, session.ErrUnavailable) {
			// The store logs outages once; this is the request's share.
			s.Log.DebugContext(r.Context(), "session not saved", "err", err)
		} else {
			s.Log.ErrorContext(r.Context(), "session not saved", "err", err)
		}
		v.down = true
		return nil, false
	}
	v.saved = true
	c := s.Sessions.Cookie
	return &http.Cookie{
		Name:     c.Name,
		Value:    token,
		Path:     c.Path,
		Domain:   c.Domain,
		Expires:  time.Unix(expiry.Unix()+1, 0),
		MaxAge:   int(time.Until(expiry).Seconds() + 1),
		HttpOnly: c.HttpOnly,
		SameSite: c.SameSite,
		Secure:   isHTTPS(r),
	}, true
}

// isHTTPS reports whether the visitor's connection is HTTPS, to us or to
// the load balancer in front of us.
func isHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}

// sessionWriter makes sure a changed session is saved, or its save in
// flight waited for, before the response's header goes out.
type sessionWriter struct {
	http.ResponseWriter
	s       *server
	r       *http.Request
	written bool
}

func (sw *sessionWriter) save() {
	if !sw.written {
		sw.written = true
		sw.s.commit(sw.ResponseWriter, sw.r)
	}
}

func (sw *sessionWriter) WriteHeader(code int) {
	sw.save()
	sw.ResponseWriter.WriteHeader(code)
}

func (sw *sessionWriter) Write(b []byte) (int, error) {
	sw.save()
	return sw.ResponseWriter.Write(b)
}

func (sw *sessionWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }
