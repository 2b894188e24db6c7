package views

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"

	"github.com/xkcdapp/xkcdapp/admin"
	"github.com/xkcdapp/xkcdapp/store"
)

const evil = `<script>alert("x")</script>`

var operator = Admin{User: "ops", CSRF: "token-123"}

func TestAdminSignInPage(t *testing.T) {
	doc, raw := render(t, AdminSignInPage(AdminSignInView{User: evil, Error: "Wrong username or password."}))
	if strings.Contains(raw, evil) {
		t.Error("the username given is not escaped")
	}
	form := one(t, doc, "form#admin-sign-in")
	if form.AttrOr("method", "") != "post" || form.AttrOr("action", "") != "/admin/sign-in" {
		t.Errorf("form: got method %q action %q, want a POST to /admin/sign-in", form.AttrOr("method", ""), form.AttrOr("action", ""))
	}
	if got := one(t, doc, "#sign-in-user").AttrOr("value", ""); got != evil {
		t.Errorf("username kept: got %q, want %q", got, evil)
	}
	if got := one(t, doc, "#sign-in-password").AttrOr("type", ""); got != "password" {
		t.Errorf("password field type: got %q, want password", got)
	}
	if got, want := one(t, doc, "#sign-in-password").AttrOr("maxlength", ""), strconv.Itoa(admin.MaxPasswordLen); got != want {
		t.Errorf("password field maxlength: got %q, want %q, the longest password a hash is made of", got, want)
	}
	if got := one(t, doc, "#sign-in-error").Text(); got != "Wrong username or password." {
		t.Errorf("error: got %q", got)
	}
}

// TestAdminFormsCarryTheToken: every POST form of a signed-in page sends
// the session's token, and works without JavaScript (method and action).
func TestAdminFormsCarryTheToken(t *testing.T) {
	for name, page := range map[string]templ.Component{
		"catalog":           AdminCatalogPage(operator, CatalogStatusView{Cached: 3, Latest: 3, Complete: true}),
		"comic, confirming": AdminComicPage(operator, ComicCountView{Num: 5, Views: 9, Confirm: true, NewViews: 0}),
		"audit":             AdminAuditPage(operator, AuditView{}),
	} {
		t.Run(name, func(t *testing.T) {
			doc, _ := render(t, page)
			forms := doc.Find(`form[method="post"]`)
			if forms.Length() == 0 {
				t.Fatal("no POST form")
			}
			forms.Each(func(i int, f *goquery.Selection) {
				if f.AttrOr("action", "") == "" {
					t.Errorf("form %d: no action, want one that works without JavaScript", i)
				}
				if got := f.Find(`input[name=csrf]`).AttrOr("value", ""); got != operator.CSRF {
					t.Errorf("form %d (%s) token: got %q, want %q", i, f.AttrOr("action", ""), got, operator.CSRF)
				}
			})
		})
	}
}

func TestCatalogStatus(t *testing.T) {
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	v := CatalogStatusView{
		Cached: 2990, Latest: 3000, Syncing: true, Now: now,
		LastSyncAt: now.Add(-5 * time.Minute), LastSyncErr: errors.New("upstream said 503 " + evil).Error(),
		Errors: []UpstreamErrorView{{At: now.Add(-time.Minute), Num: 0, Err: "timeout"}, {At: now.Add(-2 * time.Minute), Num: 1608, Err: evil}},
	}
	doc, raw := render(t, CatalogStatus(operator, v))
	if strings.Contains(raw, evil) {
		t.Error("upstream error text is not escaped")
	}
	if got := collapse(one(t, doc, "#catalog-summary").Text()); got != "2,990 comics cached; the latest is #3000, so 10 or so are still to fetch." {
		t.Errorf("summary: got %q", got)
	}
	last := collapse(one(t, doc, "#catalog-last-sync").Text())
	if !strings.Contains(last, "A sync is running.") || !strings.Contains(last, "5 minutes ago: it failed: upstream said 503") {
		t.Errorf("last sync: got %q", last)
	}
	if _, disabled := one(t, doc, "#sync-now").Attr("disabled"); !disabled {
		t.Error("Sync now while syncing: enabled, want disabled")
	}
	rows := doc.Find("#upstream-errors tbody tr")
	if rows.Length() != 2 || !strings.Contains(rows.Eq(0).Text(), "latest") || !strings.Contains(rows.Eq(1).Text(), "#1608") {
		t.Errorf("errors table: got %q", collapse(rows.Text()))
	}
}

func TestCounts(t *testing.T) {
	v := CountsView{Search: `a&b <c>`, Sort: store.SortNum, Page: 2, Pages: 3, Total: 60,
		Rows: []store.ComicCount{{Num: 4, Title: evil, Views: 12345}, {Num: 40, Views: 1}}}
	doc, raw := render(t, Counts(v))
	if strings.Contains(raw, evil) || strings.Contains(raw, "<c>") {
		t.Error("titles or the search are not escaped")
	}
	rows := doc.Find("#counts tr[data-num]")
	if rows.Length() != 2 || rows.Eq(0).AttrOr("data-views", "") != "12345" || !strings.Contains(rows.Eq(0).Text(), "12,345") {
		t.Errorf("rows: got %q", collapse(rows.Text()))
	}
	if got := collapse(rows.Eq(1).Find("td").Eq(1).Text()); got != "Comic 40" {
		t.Errorf("an uncached comic's title: got %q, want Comic 40", got)
	}
	if got := one(t, doc, "#counts-summary").Text(); got != "60 comics matching “a&b <c>”, page 2 of 3" {
		t.Errorf("summary: got %q", got)
	}
	if got := rows.Eq(0).Find("a").AttrOr("href", ""); got != "/admin/views/4" {
		t.Errorf("change link: got %q", got)
	}
	// The pages keep the search and the sort.
	for id, page := range map[string]string{"#page-prev": "1", "#page-next": "3"} {
		want := "/admin/views?q=a%26b+%3Cc%3E&sort=num&page=" + page
		if got := one(t, doc, id).AttrOr("href", ""); got != want {
			t.Errorf("%s: got %q, want %q", id, got, want)
		}
	}
}

func TestAudit(t *testing.T) {
	now := time.Now()
	v := AuditView{Now: now, Total: 2, Page: 1, Pages: 1, Entries: []store.AuditEntry{
		{ID: 2, At: now, Actor: evil, Action: store.ActionSetViews, Comic: 7, OldViews: 1200, NewViews: 0},
		{ID: 1, At: now, Actor: "ops", Action: store.ActionSignIn, Detail: "from 192.0.2.1"},
	}}
	doc, raw := render(t, Audit(v))
	if strings.Contains(raw, evil) {
		t.Error("the actor is not escaped")
	}
	rows := doc.Find("#audit tbody tr")
	if got := rows.Eq(0); got.AttrOr("data-num", "") != "7" || got.AttrOr("data-old", "") != "1200" || got.AttrOr("data-new", "") != "0" {
		t.Errorf("count change row: got num %q old %q new %q", got.AttrOr("data-num", ""), got.AttrOr("data-old", ""), got.AttrOr("data-new", ""))
	}
	if got := collapse(rows.Eq(0).Find("td").Eq(2).Text()); got != "Set the views of #7 from 1,200 to 0" {
		t.Errorf("count change: got %q", got)
	}
	if got := collapse(rows.Eq(1).Find("td").Eq(2).Text()); got != "Signed in (from 192.0.2.1)" {
		t.Errorf("sign-in: got %q", got)
	}
	if _, ok := rows.Eq(1).Attr("data-num"); ok {
		t.Error("sign-in row: has data-num, want none")
	}
	if n := doc.Find(".pager").Length(); n != 0 {
		t.Errorf("one page: got %d pagers, want none", n)
	}
}
