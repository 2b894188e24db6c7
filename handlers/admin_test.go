package handlers_test

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/xkcdapp/xkcdapp/admin"
	"github.com/xkcdapp/xkcdapp/session"
	"github.com/xkcdapp/xkcdapp/session/sessiontest"
	"github.com/xkcdapp/xkcdapp/store"
)

const (
	operator = "operator"
	password = "correct horse battery"
	// wrongCredentials is what every failed sign-in says.
	wrongCredentials = "Wrong username or password."
)

// cheapHash is an argon2id hash of pw with tiny parameters, so that tests
// spend their time on the app, not on the hash.
func cheapHash(pw string) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, 1, 64, 1, 32)
	return fmt.Sprintf("$argon2id$v=19$m=64,t=1,p=1$%s$%s",
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// newAdminApp is a warm app with the admin console for operator.
func newAdminApp(t *testing.T, limits admin.Limits) *app {
	t.Helper()
	guard, err := admin.NewGuard(operator, cheapHash(password), limits)
	if err != nil {
		t.Fatalf("NewGuard: %v", err)
	}
	a := newAppWith(t, latest, nil, guard)
	a.warm(t)
	return a
}

var roomy = admin.Limits{PerIP: 1000, PerUser: 1000, Window: time.Hour, Checks: 2}

// send is visitor.do with a form body and the client address remote
// ("" for httptest's).
func (v *visitor) send(t *testing.T, method, target string, form url.Values, h http.Header, remote string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequestWithContext(t.Context(), method, target, strings.NewReader(form.Encode()))
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range h {
		r.Header[k] = vs
	}
	if v.cookie != nil {
		r.AddCookie(&http.Cookie{Name: v.cookie.Name, Value: v.cookie.Value})
	}
	if remote != "" {
		r.RemoteAddr = remote
	}
	w := httptest.NewRecorder()
	v.a.h.ServeHTTP(w, r)
	if c := sessionCookie(t, w); c != nil {
		v.cookie = c
	}
	return w
}

// post sends a same-origin form, as a browser does from our own page.
func (v *visitor) post(t *testing.T, target string, form url.Values, h ...string) *httptest.ResponseRecorder {
	t.Helper()
	return v.send(t, http.MethodPost, target, form, header(append([]string{"Sec-Fetch-Site", "same-origin"}, h...)...), "")
}

// signIn signs v in as the operator, failing the test unless it works.
func (v *visitor) signIn(t *testing.T) {
	t.Helper()
	w := v.post(t, "/admin/sign-in", url.Values{"user": {operator}, "password": {password}})
	assertStatus(t, w, http.StatusSeeOther)
	if got := w.Header().Get("Location"); got != "/admin/" {
		t.Fatalf("sign-in redirect: got %q, want /admin/", got)
	}
}

// csrf is the form token on the admin page at target.
func (v *visitor) csrf(t *testing.T) string {
	t.Helper()
	w := v.get(t, "/admin/", nil)
	assertStatus(t, w, http.StatusOK)
	token := parse(t, w).Find(`#sign-out ~ input[name=csrf], form[action="/admin/sign-out"] input[name=csrf]`).First().AttrOr("value", "")
	if token == "" {
		t.Fatal("admin page: no form token, want one (signed in?)")
	}
	return token
}

// signedIn reports whether v's session is the operator's.
func (v *visitor) signedIn(t *testing.T) bool {
	t.Helper()
	w := v.get(t, "/admin/views", nil)
	switch w.Code {
	case http.StatusOK:
		return true
	case http.StatusSeeOther:
		return false
	}
	t.Fatalf("GET /admin/views: got %d, want 200 or 303", w.Code)
	return false
}

// auditActions is every action in a's audit log, newest first.
func (a *app) auditActions(t *testing.T) []string {
	t.Helper()
	entries, _, err := a.store.AuditLog(t.Context(), store.MaxPage, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Action)
	}
	return out
}

func TestAdminNotConfigured(t *testing.T) {
	a := newWarmApp(t, latest)
	for _, target := range []string{"/admin/", "/admin", "/admin/views", "/admin/views/3", "/admin/audit", "/admin/nothing"} {
		assertProblem(t, a.get(t, target, nil), http.StatusNotFound)
	}
	v := a.visitor()
	for _, target := range []string{"/admin/sign-in", "/admin/sign-out", "/admin/sync", "/admin/views/3"} {
		w := v.post(t, target, url.Values{"user": {operator}, "password": {password}, "views": {"0"}})
		assertProblem(t, w, http.StatusNotFound)
	}
	if got := a.auditActions(t); len(got) != 0 {
		t.Errorf("audit log: got %v, want nothing", got)
	}
}

func TestAdminSignInAndOut(t *testing.T) {
	a := newAdminApp(t, roomy)
	v := a.visitor()
	v.view(t, 3) // a visitor with a history, and so a session, already

	w := v.get(t, "/admin/", nil)
	assertStatus(t, w, http.StatusOK)
	assertFullPage(t, w)
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("sign-in page Cache-Control: got %q, want no-store", got)
	}
	one(t, parse(t, w), "form#admin-sign-in")
	if v.signedIn(t) {
		t.Fatal("signed in before signing in")
	}

	before := *v.cookie
	v.signIn(t)
	if v.cookie.Value == before.Value {
		t.Error("session token after sign-in: unchanged, want a new one")
	}
	w = v.get(t, "/admin/", nil)
	assertStatus(t, w, http.StatusOK)
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("admin page Cache-Control: got %q, want no-store", got)
	}
	if got := text(one(t, parse(t, w), "#admin-user")); !strings.Contains(got, operator) {
		t.Errorf("#admin-user: got %q, want it to name %s", got, operator)
	}
	one(t, parse(t, w), "#catalog-status")
	if got := v.historyShown(t); !slices.Equal(got, []int{3}) {
		t.Errorf("history after sign-in: got %v, want [3]: signing in keeps it", got)
	}
	// The token from before the sign-in grants nothing.
	old := &visitor{a: a, cookie: &before}
	if old.signedIn(t) {
		t.Error("the session token from before sign-in: signed in, want not")
	}

	signedIn := *v.cookie
	w = v.post(t, "/admin/sign-out", url.Values{"csrf": {v.csrf(t)}})
	assertStatus(t, w, http.StatusSeeOther)
	if v.cookie.Value == signedIn.Value {
		t.Error("session token after sign-out: unchanged, want a new one")
	}
	if v.signedIn(t) {
		t.Error("signed in after signing out")
	}
	w = v.get(t, "/admin/", nil)
	if got := text(parse(t, w).Find("#notice")); got != "You are signed out." {
		t.Errorf("notice after sign-out: got %q, want %q", got, "You are signed out.")
	}
	if (&visitor{a: a, cookie: &signedIn}).signedIn(t) {
		t.Error("the signed-in session token, after sign-out: still signed in")
	}
	if got := v.historyShown(t); !slices.Equal(got, []int{3}) {
		t.Errorf("history after sign-out: got %v, want [3]", got)
	}
	if got, want := a.auditActions(t), []string{store.ActionSignOut, store.ActionSignIn}; !slices.Equal(got, want) {
		t.Errorf("audit log: got %v, want %v", got, want)
	}
}

func TestAdminSignInRefused(t *testing.T) {
	a := newAdminApp(t, roomy)
	tests := []struct{ name, user, password string }{
		{"wrong password", operator, "correct horse batter"},
		{"unknown user", "root", password},
		{"username in capitals", strings.ToUpper(operator), password},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := a.visitor()
			w := v.post(t, "/admin/sign-in", url.Values{"user": {tt.user}, "password": {tt.password}})
			assertStatus(t, w, http.StatusUnauthorized)
			assertFullPage(t, w)
			doc := parse(t, w)
			if got := text(one(t, doc, "#sign-in-error")); got != wrongCredentials {
				t.Errorf("error: got %q, want %q", got, wrongCredentials)
			}
			if got := one(t, doc, "#sign-in-password").AttrOr("value", ""); got != "" {
				t.Errorf("password field: got %q, want it empty", got)
			}
			if v.signedIn(t) {
				t.Error("signed in after a refused sign-in")
			}
		})
	}
	if got := a.auditActions(t); len(got) != 0 {
		t.Errorf("audit log after refused sign-ins: got %v, want nothing", got)
	}
	v := a.visitor()
	assertStatus(t, v.post(t, "/admin/sign-in", url.Values{"user": {strings.Repeat("x", 100)}, "password": {strings.Repeat("y", 20<<10)}}), http.StatusBadRequest)
}

func TestAdminSignInRateLimited(t *testing.T) {
	t.Run("per client address", func(t *testing.T) {
		a := newAdminApp(t, admin.Limits{PerIP: 3, PerUser: 100, Window: time.Hour, Checks: 2})
		v := a.visitor()
		wrong := url.Values{"user": {operator}, "password": {"guess"}}
		right := url.Values{"user": {operator}, "password": {password}}
		for range 3 {
			assertStatus(t, v.send(t, http.MethodPost, "/admin/sign-in", wrong, sameOrigin, "203.0.113.9:5000"), http.StatusUnauthorized)
		}
		w := v.send(t, http.MethodPost, "/admin/sign-in", right, sameOrigin, "203.0.113.9:5001")
		assertStatus(t, w, http.StatusTooManyRequests)
		retry, err := strconv.Atoi(w.Header().Get("Retry-After"))
		if err != nil || retry < 1 || retry > 3600 {
			t.Errorf("Retry-After: got %q, want seconds within the hour", w.Header().Get("Retry-After"))
		}
		if got := text(one(t, parse(t, w), "#sign-in-error")); !strings.Contains(got, "Too many sign-in attempts") {
			t.Errorf("error: got %q, want it to say too many attempts", got)
		}
		if got := w.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control: got %q, want no-store", got)
		}
		if v.signedIn(t) {
			t.Error("signed in with the right password past the limit")
		}
		// A forged X-Forwarded-For from a public address changes nothing.
		w = v.send(t, http.MethodPost, "/admin/sign-in", right, header("Sec-Fetch-Site", "same-origin", "X-Forwarded-For", "198.51.100.1"), "203.0.113.9:5002")
		assertStatus(t, w, http.StatusTooManyRequests)
		// Another address is not limited.
		assertStatus(t, v.send(t, http.MethodPost, "/admin/sign-in", right, sameOrigin, "203.0.113.10:5000"), http.StatusSeeOther)
	})

	t.Run("behind a load balancer, by X-Forwarded-For", func(t *testing.T) {
		a := newAdminApp(t, admin.Limits{PerIP: 2, PerUser: 100, Window: time.Hour, Checks: 2})
		wrong := url.Values{"user": {operator}, "password": {"guess"}}
		from := func(client string) http.Header {
			return header("Sec-Fetch-Site", "same-origin", "X-Forwarded-For", "198.51.100.77, "+client)
		}
		v := a.visitor()
		for range 2 {
			assertStatus(t, v.send(t, http.MethodPost, "/admin/sign-in", wrong, from("203.0.113.1"), "10.0.1.5:4000"), http.StatusUnauthorized)
		}
		assertStatus(t, v.send(t, http.MethodPost, "/admin/sign-in", wrong, from("203.0.113.1"), "10.0.2.9:4000"), http.StatusTooManyRequests)
		assertStatus(t, v.send(t, http.MethodPost, "/admin/sign-in", wrong, from("203.0.113.2"), "10.0.1.5:4000"), http.StatusUnauthorized)
	})

	t.Run("per username", func(t *testing.T) {
		a := newAdminApp(t, admin.Limits{PerIP: 100, PerUser: 2, Window: time.Hour, Checks: 2})
		v := a.visitor()
		for i, remote := range []string{"203.0.113.1:1", "203.0.113.2:1"} {
			w := v.send(t, http.MethodPost, "/admin/sign-in", url.Values{"user": {operator}, "password": {"guess"}}, sameOrigin, remote)
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("attempt %d: got %d, want 401", i+1, w.Code)
			}
		}
		w := v.send(t, http.MethodPost, "/admin/sign-in", url.Values{"user": {operator}, "password": {password}}, sameOrigin, "203.0.113.3:1")
		assertStatus(t, w, http.StatusTooManyRequests)
	})
}

func TestAdminSignedOut(t *testing.T) {
	a := newAdminApp(t, roomy)
	v := a.visitor()
	for _, target := range []string{"/admin/views", "/admin/views/3", "/admin/audit"} {
		w := v.get(t, target, nil)
		assertStatus(t, w, http.StatusSeeOther)
		if got := w.Header().Get("Location"); got != "/admin/" {
			t.Errorf("GET %s signed out: Location %q, want /admin/", target, got)
		}
	}
	for _, target := range []string{"/admin/sign-out", "/admin/sync", "/admin/views/3"} {
		assertProblem(t, v.post(t, target, url.Values{"views": {"0"}}), http.StatusUnauthorized)
	}
	// HEAD answers as GET does, as on every other page.
	assertStatus(t, v.send(t, http.MethodHead, "/admin/", nil, nil, ""), http.StatusOK)
	w := v.send(t, http.MethodHead, "/admin/audit", nil, nil, "")
	assertStatus(t, w, http.StatusSeeOther)
	if got := w.Header().Get("Location"); got != "/admin/" {
		t.Errorf("HEAD /admin/audit signed out: Location %q, want /admin/", got)
	}
	w = v.get(t, "/admin/views", htmx)
	assertStatus(t, w, http.StatusUnauthorized)
	assertFragment(t, w)
	if got := a.auditActions(t); len(got) != 0 {
		t.Errorf("audit log: got %v, want nothing", got)
	}
}

// TestAdminNeverCached: every admin answer, refusals and redirects too, is
// kept out of caches, signed in or not.
func TestAdminNeverCached(t *testing.T) {
	a := newAdminApp(t, roomy)
	out := a.visitor()
	in := a.visitor()
	in.view(t, 4)
	in.signIn(t)
	token := in.csrf(t)
	tests := []struct {
		name   string
		v      *visitor
		method string
		target string
		form   url.Values
		h      http.Header
		want   int
	}{
		{"sign-in page", out, http.MethodGet, "/admin/", nil, nil, http.StatusOK},
		{"HEAD", out, http.MethodHead, "/admin/", nil, nil, http.StatusOK},
		{"to the sign-in", out, http.MethodGet, "/admin/audit", nil, nil, http.StatusSeeOther},
		{"signed out, htmx", out, http.MethodGet, "/admin/views", nil, htmx, http.StatusUnauthorized},
		{"wrong password", out, http.MethodPost, "/admin/sign-in", url.Values{"user": {operator}, "password": {"guess"}}, sameOrigin, http.StatusUnauthorized},
		{"signed in", out, http.MethodPost, "/admin/sign-in", url.Values{"user": {operator}, "password": {password}}, sameOrigin, http.StatusSeeOther},
		{"cross-site", in, http.MethodPost, "/admin/sync", url.Values{"csrf": {token}}, header("Sec-Fetch-Site", "cross-site"), http.StatusForbidden},
		{"no form token", in, http.MethodPost, "/admin/views/4", url.Values{"views": {"1"}}, sameOrigin, http.StatusForbidden},
		{"bad count", in, http.MethodPost, "/admin/views/4", url.Values{"csrf": {token}, "views": {"x"}}, sameOrigin, http.StatusBadRequest},
		{"count set", in, http.MethodPost, "/admin/views/4", url.Values{"csrf": {token}, "views": {"1"}}, sameOrigin, http.StatusSeeOther},
		{"count set, htmx", in, http.MethodPost, "/admin/views/4", url.Values{"csrf": {token}, "views": {"2"}}, htmxSameOrigin, http.StatusOK},
		{"confirmation", in, http.MethodGet, "/admin/views/4?views=0", nil, nil, http.StatusOK},
		{"no such comic", in, http.MethodGet, "/admin/views/99999", nil, nil, http.StatusNotFound},
		{"no such page", in, http.MethodGet, "/admin/nothing", nil, nil, http.StatusNotFound},
		{"wrong method", in, http.MethodPut, "/admin/views", nil, nil, http.StatusMethodNotAllowed},
		{"counts", in, http.MethodGet, "/admin/views?q=4", nil, htmx, http.StatusOK},
		{"audit", in, http.MethodGet, "/admin/audit", nil, nil, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := tt.v.send(t, tt.method, tt.target, tt.form, tt.h, "")
			assertStatus(t, w, tt.want)
			if got := w.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("%s %s: Cache-Control %q, want no-store", tt.method, tt.target, got)
			}
		})
	}
}

// TestAdminCrossSite: every admin action sent by another site is refused
// and changes nothing; the same request from our own page works and is
// audited.
func TestAdminCrossSite(t *testing.T) {
	a := newAdminApp(t, roomy)
	v := a.visitor()
	v.view(t, 5, 5, 5, 6)
	v.signIn(t)
	token := v.csrf(t)

	actions := []struct {
		name   string
		target string
		form   url.Values
		action string
		done   func() bool
	}{
		{"set views", "/admin/views/5", url.Values{"csrf": {token}, "views": {"1"}}, store.ActionSetViews,
			func() bool { return a.views(t, 5) == 1 }},
		{"reset views", "/admin/views/6", url.Values{"csrf": {token}, "views": {"0"}}, store.ActionSetViews,
			func() bool { return a.views(t, 6) == 0 }},
		{"sync now", "/admin/sync", url.Values{"csrf": {token}}, store.ActionSync,
			func() bool { return a.catalog.Status().Syncing }},
		{"sign out", "/admin/sign-out", url.Values{"csrf": {token}}, store.ActionSignOut,
			func() bool { return !v.signedIn(t) }},
		{"sign in", "/admin/sign-in", url.Values{"user": {operator}, "password": {password}}, store.ActionSignIn,
			func() bool { return v.signedIn(t) }},
	}
	foreign := []http.Header{
		header("Sec-Fetch-Site", "cross-site"),
		header("Sec-Fetch-Site", "same-site"),
		header("Origin", "https://evil.example"),
		header("Sec-Fetch-Site", "cross-site", "HX-Request", "true"),
	}
	for _, act := range actions {
		t.Run(act.name, func(t *testing.T) {
			before := a.auditActions(t)
			if act.done() {
				t.Fatalf("%s: done before it was asked for", act.name)
			}
			for _, h := range foreign {
				w := v.send(t, http.MethodPost, act.target, act.form, h, "")
				assertStatus(t, w, http.StatusForbidden)
			}
			if act.done() {
				t.Fatalf("%s: done by a cross-site request", act.name)
			}
			if got := a.auditActions(t); !slices.Equal(got, before) {
				t.Fatalf("audit log after cross-site requests: got %v, want %v", got, before)
			}

			w := v.send(t, http.MethodPost, act.target, act.form, header("Sec-Fetch-Site", "same-origin", "Origin", "http://example.com"), "")
			if w.Code != http.StatusOK && w.Code != http.StatusSeeOther {
				t.Fatalf("same-origin %s: got %d, want success; body %.300s", act.name, w.Code, w.Body.String())
			}
			if !act.done() {
				t.Errorf("same-origin %s: not done", act.name)
			}
			if got := a.auditActions(t); len(got) != len(before)+1 || got[0] != act.action {
				t.Errorf("audit log after same-origin %s: got %v, want %q added", act.name, got, act.action)
			}
		})
	}
}

// TestAdminFormToken: a signed-in POST without the session's form token
// is refused even when the browser says it is same-origin.
func TestAdminFormToken(t *testing.T) {
	a := newAdminApp(t, roomy)
	v := a.visitor()
	v.view(t, 5)
	v.signIn(t)
	other := a.visitor()
	other.signIn(t)
	for _, token := range []string{"", "nonsense", other.csrf(t)} {
		for _, target := range []string{"/admin/views/5", "/admin/sync", "/admin/sign-out"} {
			assertProblem(t, v.post(t, target, url.Values{"csrf": {token}, "views": {"0"}}), http.StatusForbidden)
		}
	}
	if got := a.views(t, 5); got != 1 {
		t.Errorf("views of 5: got %d, want 1 (unchanged)", got)
	}
	if !v.signedIn(t) {
		t.Error("signed out by a POST without the token")
	}
}

func TestAdminSetViews(t *testing.T) {
	a := newAdminApp(t, roomy)
	v := a.visitor()
	v.view(t, 7, 7, 7)
	v.signIn(t)
	token := v.csrf(t)

	// The first step only asks.
	w := v.get(t, "/admin/views/7?views=0", nil)
	assertStatus(t, w, http.StatusOK)
	doc := parse(t, w)
	if got := text(one(t, doc, "#confirm-question")); !strings.Contains(got, "from 3 to 0") {
		t.Errorf("confirmation: got %q, want it to say from 3 to 0", got)
	}
	if got := one(t, doc, `#confirm-change input[name=views]`).AttrOr("value", ""); got != "0" {
		t.Errorf("confirmation form views: got %q, want 0", got)
	}
	if got := a.views(t, 7); got != 3 {
		t.Fatalf("views after the question: got %d, want 3 (unchanged)", got)
	}

	// Without JavaScript: a redirect to the comic's page, which says so.
	w = v.post(t, "/admin/views/7", url.Values{"csrf": {token}, "views": {"0"}})
	assertStatus(t, w, http.StatusSeeOther)
	w = v.get(t, w.Header().Get("Location"), nil)
	if got := text(parse(t, w).Find("#notice")); got != "The views of comic #7 are now 0 (they were 3)." {
		t.Errorf("notice: got %q", got)
	}
	if got := parse(t, w).Find("#admin-change").AttrOr("data-views", ""); got != "0" {
		t.Errorf("comic page data-views: got %q, want 0", got)
	}

	// With htmx: the part swapped, and the notice out of band.
	w = v.post(t, "/admin/views/7", url.Values{"csrf": {token}, "views": {"42"}}, "HX-Request", "true")
	assertStatus(t, w, http.StatusOK)
	assertFragment(t, w)
	doc = parse(t, w)
	if got := one(t, doc, "#admin-change").AttrOr("data-views", ""); got != "42" {
		t.Errorf("swapped data-views: got %q, want 42", got)
	}
	if got := one(t, doc, "#notice").AttrOr("hx-swap-oob", ""); got == "" {
		t.Error("#notice: not out of band")
	}
	// The next view counts on from the count set.
	if got := viewsShown(t, a.get(t, "/comic/7", nil)); got != "43" {
		t.Errorf("views shown on the next view of 7: got %s, want 43", got)
	}
	w = a.get(t, "/leaderboard", nil)
	if got := parse(t, w).Find(`tr[data-num="7"]`).AttrOr("data-views", ""); got != "43" {
		t.Errorf("leaderboard views of 7: got %q, want 43", got)
	}

	entries, _, _ := a.store.AuditLog(t.Context(), 10, 0)
	if len(entries) < 2 || entries[0].Comic != 7 || entries[0].OldViews != 0 || entries[0].NewViews != 42 || entries[0].Actor != operator ||
		entries[1].OldViews != 3 || entries[1].NewViews != 0 {
		t.Errorf("audit entries: got %+v, want 3→0 then 0→42 by %s", entries, operator)
	}
	w = v.get(t, "/admin/audit", nil)
	assertStatus(t, w, http.StatusOK)
	row := parse(t, w).Find(`#audit tr[data-action="set views"]`).First()
	if row.AttrOr("data-num", "") != "7" || row.AttrOr("data-old", "") != "0" || row.AttrOr("data-new", "") != "42" {
		t.Errorf("newest audit row: got num %s old %s new %s, want 7, 0, 42", row.AttrOr("data-num", ""), row.AttrOr("data-old", ""), row.AttrOr("data-new", ""))
	}

	t.Run("bad requests", func(t *testing.T) {
		for target, want := range map[string]int{
			"/admin/views/7?views=-1":                   http.StatusBadRequest,
			"/admin/views/7?views=x":                    http.StatusBadRequest,
			"/admin/views/7?views=":                     http.StatusBadRequest,
			"/admin/views/7?views=1e3":                  http.StatusBadRequest,
			"/admin/views/7?views=99999999999999999999": http.StatusBadRequest,
			"/admin/views/0":                            http.StatusNotFound,
			"/admin/views/abc":                          http.StatusNotFound,
			"/admin/views/99999":                        http.StatusNotFound,
			"/admin/views/404":                          http.StatusNotFound,
		} {
			assertProblem(t, v.get(t, target, nil), want)
		}
		for _, form := range []url.Values{{"views": {"-3"}}, {"views": {""}}, {"views": {"ten"}}, {}} {
			form.Set("csrf", token)
			assertProblem(t, v.post(t, "/admin/views/7", form), http.StatusBadRequest)
		}
		assertProblem(t, v.post(t, "/admin/views/99999", url.Values{"csrf": {token}, "views": {"1"}}), http.StatusNotFound)
		huge := url.Values{"csrf": {token}, "views": {"1"}, "pad": {strings.Repeat("x", 20<<10)}}
		assertProblem(t, v.post(t, "/admin/views/7", huge), http.StatusBadRequest)
		if got := a.views(t, 7); got != 43 {
			t.Errorf("views of 7 after bad requests: got %d, want 43", got)
		}
	})
}

func TestAdminCounts(t *testing.T) {
	a := newAdminApp(t, roomy)
	v := a.visitor()
	v.view(t, 3, 3, 9, 12)
	v.signIn(t)

	rowNums := func(w *httptest.ResponseRecorder) []int { return nums(t, parse(t, w), "#counts tr[data-num]") }

	w := v.get(t, "/admin/views", nil)
	assertStatus(t, w, http.StatusOK)
	assertFullPage(t, w)
	if got := rowNums(w); len(got) != 20 || !slices.Equal(got[:3], []int{3, 9, 12}) {
		t.Errorf("counts by views: got %v, want 20 comics led by 3, 9, 12", got)
	}
	if got := one(t, parse(t, w), "#admin-counts").AttrOr("data-total", ""); got != "20" {
		t.Errorf("data-total: got %q, want 20", got)
	}
	w = v.get(t, "/admin/views?sort=num&q=1", nil)
	if got := rowNums(w); !slices.Equal(got, []int{1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}) {
		t.Errorf("search 1 by number: got %v", got)
	}
	w = v.get(t, "/admin/views?q=%233", nil)
	if got := rowNums(w); !slices.Contains(got, 3) {
		t.Errorf("search #3: got %v, want 3 among them", got)
	}

	// htmx: the table alone, and its address pushed.
	w = v.get(t, "/admin/views?sort=num&q=1", htmx)
	assertStatus(t, w, http.StatusOK)
	assertFragment(t, w)
	if got := w.Header().Get("HX-Push-Url"); got != "/admin/views?sort=num&q=1" {
		t.Errorf("HX-Push-Url: got %q", got)
	}
	assertVary(t, w, "HX-Request", "Cookie")

	t.Run("pages", func(t *testing.T) {
		guard, err := admin.NewGuard(operator, cheapHash(password), roomy)
		if err != nil {
			t.Fatal(err)
		}
		b := newAppWith(t, 60, nil, guard)
		b.warm(t)
		bv := b.visitor()
		bv.signIn(t)
		w := bv.get(t, "/admin/views?sort=num", nil)
		doc := parse(t, w)
		if got := nums(t, doc, "#counts tr[data-num]"); len(got) != 25 || got[0] != 1 || got[24] != 25 {
			t.Errorf("page 1: got %v, want 1..25", got)
		}
		if n := doc.Find("#page-prev").Length(); n != 0 {
			t.Errorf("page 1: got %d links to a previous page, want none", n)
		}
		next := one(t, doc, "#page-next").AttrOr("href", "")
		if next != "/admin/views?sort=num&page=2" {
			t.Errorf("next page link: got %q, want the sort kept", next)
		}
		w = bv.get(t, "/admin/views?sort=num&page=3", nil)
		doc = parse(t, w)
		if got := nums(t, doc, "#counts tr[data-num]"); len(got) != 10 || got[0] != 51 || got[9] != 60 {
			t.Errorf("page 3: got %v, want 51..60", got)
		}
		if n := doc.Find("#page-next").Length(); n != 0 {
			t.Errorf("last page: got %d links to a next page, want none", n)
		}
		w = bv.get(t, "/admin/views?page=9", nil)
		assertStatus(t, w, http.StatusOK)
		doc = parse(t, w)
		if got := doc.Find("#counts tr[data-num]").Length(); got != 0 {
			t.Errorf("page 9 of 3: got %d rows, want none", got)
		}
		if got := one(t, doc, "#page-prev").AttrOr("href", ""); got != "/admin/views?page=3" {
			t.Errorf("page 9 of 3: previous page link %q, want the last page, /admin/views?page=3", got)
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		for _, target := range []string{
			"/admin/views?page=0", "/admin/views?page=-1", "/admin/views?page=x", "/admin/views?page=10001",
			"/admin/views?page=1.5", "/admin/views?sort=title", "/admin/views?q=" + strings.Repeat("a", 101),
			"/admin/views?q=Pi%00", "/admin/views?q=%FF", "/admin/views?q=a%0Ab",
			"/admin/audit?page=0", "/admin/audit?page=abc",
		} {
			assertProblem(t, v.get(t, target, nil), http.StatusBadRequest)
		}
	})
}

func TestAdminAuditPages(t *testing.T) {
	a := newAdminApp(t, roomy)
	v := a.visitor()
	v.view(t, 2)
	v.signIn(t)
	for i := range 60 {
		if _, err := a.store.SetViews(t.Context(), 2, int64(i), operator); err != nil {
			t.Fatal(err)
		}
	}
	w := v.get(t, "/admin/audit", nil)
	assertStatus(t, w, http.StatusOK)
	doc := parse(t, w)
	if got := doc.Find("#audit tbody tr").Length(); got != 50 {
		t.Errorf("page 1 rows: got %d, want 50", got)
	}
	if got := doc.Find("#audit tbody tr").First().AttrOr("data-new", ""); got != "59" {
		t.Errorf("newest row data-new: got %q, want 59", got)
	}
	next := one(t, doc, "#page-next").AttrOr("href", "")
	w = v.get(t, next, htmx)
	assertFragment(t, w)
	doc = parse(t, w)
	// 60 changes and the sign-in: 11 on page 2, the sign-in last.
	if got := doc.Find("#audit tbody tr").Length(); got != 11 {
		t.Errorf("page 2 rows: got %d, want 11", got)
	}
	if got := doc.Find("#audit tbody tr").Last().AttrOr("data-action", ""); got != store.ActionSignIn {
		t.Errorf("oldest row: got %q, want %q", got, store.ActionSignIn)
	}
	one(t, doc, "#page-prev")
}

func TestAdminSyncNow(t *testing.T) {
	a := newAdminApp(t, roomy)
	v := a.visitor()
	v.signIn(t)
	token := v.csrf(t)
	w := v.post(t, "/admin/sync", url.Values{"csrf": {token}}, "HX-Request", "true")
	assertStatus(t, w, http.StatusOK)
	assertFragment(t, w)
	doc := parse(t, w)
	one(t, doc, "#catalog-status")
	if _, disabled := one(t, doc, "#sync-now").Attr("disabled"); !disabled {
		t.Error("Sync now while a sync runs: enabled, want disabled")
	}
	// Nothing runs the sync in this test: a second one is refused.
	w = v.post(t, "/admin/sync", url.Values{"csrf": {token}}, "HX-Request", "true")
	assertStatus(t, w, http.StatusConflict)
	if got := w.Header().Get("HX-Retarget"); got != "#notice" {
		t.Errorf("HX-Retarget: got %q, want #notice", got)
	}
	assertProblem(t, v.post(t, "/admin/sync", url.Values{"csrf": {token}}), http.StatusConflict)
	if got, want := a.auditActions(t), []string{store.ActionSync, store.ActionSignIn}; !slices.Equal(got, want) {
		t.Errorf("audit log: got %v, want %v", got, want)
	}
}

// TestAdminSessionsInRedis: a sign-in on one instance holds on another
// (the session is in Redis); with Redis down nobody is signed in, and
// signing in says it cannot work rather than pretending; with Redis back,
// signing in works again.
func TestAdminSessionsInRedis(t *testing.T) {
	redis := sessiontest.NewServer(t)
	guard, err := admin.NewGuard(operator, cheapHash(password), roomy)
	if err != nil {
		t.Fatal(err)
	}
	opts := session.Options{Budget: 200 * time.Millisecond, Quiet: 100 * time.Millisecond}
	one := newAppWith(t, latest, openSessions(t, redis.URL, opts), guard)
	other := newAppWith(t, latest, openSessions(t, redis.URL, opts), guard)
	v := one.visitor()
	v.signIn(t)
	there := &visitor{a: other, cookie: v.cookie}
	if !there.signedIn(t) {
		t.Fatal("signed in on one instance: not on the other")
	}

	redis.Stop()
	if v.signedIn(t) {
		t.Error("with Redis down: signed in, want not (the session cannot be read)")
	}
	w := one.visitor().post(t, "/admin/sign-in", url.Values{"user": {operator}, "password": {password}})
	assertProblem(t, w, http.StatusServiceUnavailable)
	if got := w.Header().Values("Set-Cookie"); len(got) != 0 {
		t.Errorf("Set-Cookie with Redis down: got %q, want none", got)
	}

	// Redis restarted empty: signing in works again, once its quiet
	// period after the failure is over.
	redis.Start()
	v = one.visitor()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		w := v.post(t, "/admin/sign-in", url.Values{"user": {operator}, "password": {password}})
		if w.Code == http.StatusSeeOther {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sign-in with Redis back for 10s: got %d, want 303", w.Code)
		}
	}
	if !v.signedIn(t) {
		t.Error("signed in with Redis back: not signed in")
	}
}

// TestAdminNewPasswordEndsSignIns: instances started with a new password
// hash do not honour sign-ins made under the old one.
func TestAdminNewPasswordEndsSignIns(t *testing.T) {
	sessions := openSessions(t, sessiontest.URL(t), session.Options{})
	guard := func(pw string) *admin.Guard {
		g, err := admin.NewGuard(operator, cheapHash(pw), roomy)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	before := newAppWith(t, latest, sessions, guard(password))
	v := before.visitor()
	v.signIn(t)
	after := newAppWith(t, latest, sessions, guard("a new password"))
	if (&visitor{a: after, cookie: v.cookie}).signedIn(t) {
		t.Error("a sign-in under the old password: honoured after the password changed")
	}
	if !v.signedIn(t) {
		t.Error("the same sign-in on an instance with the old password: not honoured")
	}
}
