package handlers

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/xkcdapp/xkcdapp/admin"
	"github.com/xkcdapp/xkcdapp/store"
	"github.com/xkcdapp/xkcdapp/views"
)

// AdminStore is what the admin console changes and reads; both stores are one.
type AdminStore interface {
	SetViews(ctx context.Context, num int, views int64, actor string) (int64, error)
	Audit(ctx context.Context, actor, action, detail string) error
	AuditLog(ctx context.Context, limit, offset int) ([]store.AuditEntry, int, error)
	ViewCounts(ctx context.Context, q store.CountQuery) (store.CountPage, error)
}

// Session keys of the admin console.
const (
	adminUserKey   = "admin_user"
	adminConfigKey = "admin_config" // the Guard's fingerprint at sign-in
	adminSinceKey  = "admin_since"  // Unix seconds of the sign-in
	adminCSRFKey   = "admin_csrf"
	adminNoticeKey = "admin_notice"
)

// adminSignInLifetime bounds a sign-in, however long the session lives.
const adminSignInLifetime = 8 * time.Hour

// signInTimeout bounds the wait for a password check slot.
const signInTimeout = 10 * time.Second

var (
	// errSignedOut is an admin page asked for without a sign-in.
	errSignedOut = errors.New("admin: not signed in")
	// errStaleForm is an admin form whose token is not the session's.
	errStaleForm = errors.New("admin: form token does not match the session")
	// errAdminSessionsDown is a sign-in while sessions cannot be kept.
	errAdminSessionsDown = errors.New("admin: sessions unavailable")
	// errAdminStoreDown wraps a failure of the admin store.
	errAdminStoreDown = errors.New("admin: database unavailable")
)

// adminOnly answers 404 for everything under /admin when no operator is
// configured, and keeps every admin answer out of caches.
func (s *server) adminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Admin == nil {
			s.writeProblem(w, r, errNoPage)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// operator is who is signed in to the admin console, "" for nobody.
func (s *server) operator(r *http.Request) string {
	if visitOf(r.Context()).down {
		return ""
	}
	ctx := r.Context()
	user := s.Sessions.GetString(ctx, adminUserKey)
	since := time.Unix(s.Sessions.GetInt64(ctx, adminSinceKey), 0)
	// A new username or password in the configuration ends every sign-in.
	if user == "" || user != s.Admin.User() || s.Sessions.GetString(ctx, adminConfigKey) != s.Admin.Fingerprint() ||
		time.Since(since) > adminSignInLifetime {
		return ""
	}
	return user
}

// signedIn lets only the operator through. A page asked for without a
// sign-in leads to the sign-in form; a POST must also carry the session's
// form token, so that a browser that tells neither Sec-Fetch-Site nor
// Origin is still safe from forged forms.
func (s *server) signedIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.operator(r) == "" {
			if (r.Method == http.MethodGet || r.Method == http.MethodHead) && !isFragment(r) {
				http.Redirect(w, r, "/admin/", http.StatusSeeOther)
				return
			}
			s.writeProblem(w, r, errSignedOut)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				s.writeProblem(w, r, badRequest("The form could not be read."))
				return
			}
			if !s.formTokenOK(r) {
				s.writeProblem(w, r, errStaleForm)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// formTokenOK reports whether r's form carries the session's token.
func (s *server) formTokenOK(r *http.Request) bool {
	want := s.Sessions.GetString(r.Context(), adminCSRFKey)
	got := r.PostFormValue("csrf")
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// adminOf is what every signed-in page shows: who, and the form token. A
// notice left by a form sent without JavaScript is taken from the session.
func (s *server) adminOf(r *http.Request) views.Admin {
	return views.Admin{User: s.operator(r), CSRF: s.Sessions.GetString(r.Context(), adminCSRFKey),
		Notice: s.takeNotice(r, adminNoticeKey)}
}

// noticeNext leaves a notice for the page after a redirect.
func (s *server) noticeNext(r *http.Request, notice string) {
	s.Sessions.Put(r.Context(), adminNoticeKey, notice)
	visitOf(r.Context()).changed = true
}

// adminHome is the catalog's status for the operator, the sign-in form
// for anyone else.
func (s *server) adminHome(w http.ResponseWriter, r *http.Request) error {
	if s.operator(r) == "" {
		s.render(w, r, http.StatusOK, views.AdminSignInPage(views.AdminSignInView{Notice: s.takeNotice(r, adminNoticeKey)}))
		return nil
	}
	s.render(w, r, http.StatusOK, views.AdminCatalogPage(s.adminOf(r), s.catalogStatus()))
	return nil
}

// maxFormBytes bounds an admin form's body.
const maxFormBytes = 16 << 10

// adminSignIn checks the form against the configured operator. Every
// failure says the same; too many attempts get a 429 with Retry-After.
func (s *server) adminSignIn(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return badRequest("The sign-in form could not be read.")
	}
	if visitOf(r.Context()).down {
		return errAdminSessionsDown
	}
	user, password := r.PostForm.Get("user"), r.PostForm.Get("password")
	ip := clientIP(r)
	ctx, cancel := context.WithTimeout(r.Context(), signInTimeout)
	defer cancel()
	err := s.Admin.SignIn(ctx, ip, user, password)
	var limited *admin.LimitedError
	switch {
	case errors.As(err, &limited):
		secs := int(limited.RetryAfter.Round(time.Second) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		s.Log.InfoContext(r.Context(), "admin sign-in refused: too many attempts", "ip", ip)
		s.render(w, r, http.StatusTooManyRequests, views.AdminSignInPage(views.AdminSignInView{User: user,
			Error: "Too many sign-in attempts. Please wait " + minutes(limited.RetryAfter) + " and try again."}))
		return nil
	case errors.Is(err, admin.ErrBusy):
		w.Header().Set("Retry-After", "5")
		s.render(w, r, http.StatusServiceUnavailable, views.AdminSignInPage(views.AdminSignInView{User: user,
			Error: "Too many sign-ins at once. Please try again in a moment."}))
		return nil
	case err != nil:
		// Neither the username nor the password is logged: a mistyped
		// username is often a password.
		s.Log.InfoContext(r.Context(), "admin sign-in failed", "ip", ip)
		s.render(w, r, http.StatusUnauthorized, views.AdminSignInPage(views.AdminSignInView{User: user,
			Error: "Wrong username or password."}))
		return nil
	}

	// A new token for the new privilege: a token planted before the
	// sign-in (session fixation) is worth nothing after it.
	if err := s.Sessions.RenewToken(r.Context()); err != nil {
		return errors.Join(errAdminSessionsDown, err)
	}
	token := make([]byte, 32)
	rand.Read(token)
	s.Sessions.Put(r.Context(), adminUserKey, user)
	s.Sessions.Put(r.Context(), adminConfigKey, s.Admin.Fingerprint())
	s.Sessions.Put(r.Context(), adminSinceKey, time.Now().Unix())
	s.Sessions.Put(r.Context(), adminCSRFKey, base64.RawURLEncoding.EncodeToString(token))
	visitOf(r.Context()).changed = true
	if !s.commit(w, r) {
		return errAdminSessionsDown
	}
	s.Log.InfoContext(r.Context(), "admin signed in", "user", user, "ip", ip)
	s.audit(r, user, store.ActionSignIn, "from "+ip)
	http.Redirect(w, r, "/admin/", http.StatusSeeOther)
	return nil
}

// adminSignOut ends the sign-in, with a new session token; the visitor's
// history stays.
func (s *server) adminSignOut(w http.ResponseWriter, r *http.Request) error {
	user := s.operator(r)
	ctx := r.Context()
	s.Sessions.Remove(ctx, adminUserKey)
	s.Sessions.Remove(ctx, adminConfigKey)
	s.Sessions.Remove(ctx, adminSinceKey)
	s.Sessions.Remove(ctx, adminCSRFKey)
	if err := s.Sessions.RenewToken(ctx); err != nil {
		return errors.Join(errAdminSessionsDown, err)
	}
	s.noticeNext(r, "You are signed out.")
	if !s.commit(w, r) {
		return errAdminSessionsDown
	}
	s.Log.InfoContext(ctx, "admin signed out", "user", user)
	s.audit(r, user, store.ActionSignOut, "")
	http.Redirect(w, r, "/admin/", http.StatusSeeOther)
	return nil
}

// audit records an action that changed no count. The action is done
// already: a failure to record it is logged, not shown.
func (s *server) audit(r *http.Request, user, action, detail string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), readTimeout)
	defer cancel()
	if err := s.AdminStore.Audit(ctx, user, action, detail); err != nil {
		s.Log.ErrorContext(r.Context(), "admin action not audited", "user", user, "action", action, "err", err)
	}
}

// clientIP is the address sign-ins and live streams are limited by: the
// connection's, or, when that is a private address (a load balancer in
// front of the app), the last one that balancer added to X-Forwarded-For.
// A client that reaches the app directly cannot choose its address that
// way.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || !(addr.IsPrivate() || addr.IsLoopback()) {
		return host
	}
	forwarded := r.Header.Values("X-Forwarded-For")
	if len(forwarded) == 0 {
		return host
	}
	all := strings.Split(forwarded[len(forwarded)-1], ",")
	if last, err := netip.ParseAddr(strings.TrimSpace(all[len(all)-1])); err == nil {
		return last.String()
	}
	return host
}

// minutes says d rounded up to whole minutes.
func minutes(d time.Duration) string {
	m := int((d + time.Minute - 1) / time.Minute)
	if m <= 1 {
		return "a minute"
	}
	return strconv.Itoa(m) + " minutes"
}
