package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/argon2"

	"github.com/xkcdapp/xkcdapp/store/storetest"
	"github.com/xkcdapp/xkcdapp/xkcd/xkcdtest"
)

const adminPassword = "correct horse battery"

// cheapHash is an argon2id hash of pw with tiny parameters, so that tests
// spend their time on the app, not on the hash.
func cheapHash(pw string) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, 1, 64, 1, 32)
	return fmt.Sprintf("$argon2id$v=19$m=64,t=1,p=1$%s$%s",
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// TestBrowserAdmin: an operator signs in, finds a comic, resets its count
// after confirming, and sees the change on the leaderboard and in the
// audit log; with JavaScript (htmx swaps) and without (plain forms).
func TestBrowserAdmin(t *testing.T) {
	for _, js := range []bool{true, false} {
		name := "with JavaScript"
		var opts []chromedp.ExecAllocatorOption
		if !js {
			name = "without JavaScript"
			opts = append(opts, chromedp.Flag("blink-settings", "scriptEnabled=false"))
		}
		t.Run(name, func(t *testing.T) {
			upstream := xkcdtest.NewServer(50)
			t.Cleanup(upstream.Stop)
			app := startApp(t, map[string]string{
				"DATABASE_URL":        storetest.NewDatabase(t),
				"XKCD_BASE_URL":       upstream.URL,
				"ADMIN_USER":          "operator",
				"ADMIN_PASSWORD_HASH": cheapHash(adminPassword),
			})
			app.waitUntilSynced(t)
			for _, n := range []int{12, 12, 12, 13, 13} {
				if code, _, _ := get(t, noRedirects, fmt.Sprintf("%s/comic/%d", app.URL, n)); code != 200 {
					t.Fatalf("view comic %d: got %d, want 200", n, code)
				}
			}
			ctx := newBrowser(t, opts...)
			adminResetsComic12(t, ctx, app, js)
		})
	}
}

func adminResetsComic12(t *testing.T, ctx context.Context, app *testApp, js bool) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(app.URL+"/admin/"),
		chromedp.WaitVisible(chromedp.ID("admin-sign-in")),
		chromedp.SendKeys(chromedp.ID("sign-in-user"), "operator"),
		chromedp.SendKeys(chromedp.ID("sign-in-password"), adminPassword),
		chromedp.Click(chromedp.ID("sign-in-submit")),
		chromedp.WaitVisible(chromedp.ID("admin-user")),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if got := evaluate[string](t, ctx, `document.getElementById("admin-user").textContent`); !strings.Contains(got, "operator") {
		t.Errorf("signed in as: got %q, want operator", got)
	}

	// Search the counts for comic 12.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("admin-nav-views")),
		chromedp.WaitVisible(chromedp.ID("counts-q")),
		chromedp.SendKeys(chromedp.ID("counts-q"), "12"),
		chromedp.Click(chromedp.CSS(`#counts-search button[type=submit]`)),
	); err != nil {
		t.Fatalf("search the counts: %v", err)
	}
	waitFor(t, 10*time.Second, "the search for 12", func() bool {
		return strings.Contains(evaluate[string](t, ctx, "location.search"), "q=12") &&
			evaluate[bool](t, ctx, `!!document.querySelector('#counts tr[data-num="12"]')`)
	})
	if got := evaluate[string](t, ctx, `document.querySelector('#counts tr[data-num="12"]').dataset.views`); got != "3" {
		t.Errorf("comic 12's count in the list: got %s, want 3", got)
	}

	// Change it: the reset asks first, and only the confirmation sets it.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#counts tr[data-num="12"] a`)),
		chromedp.WaitVisible(chromedp.ID("reset-views")),
		chromedp.Click(chromedp.ID("reset-views")),
		chromedp.WaitVisible(chromedp.ID("confirm-yes")),
	); err != nil {
		t.Fatalf("reset comic 12: %v", err)
	}
	if got := evaluate[string](t, ctx, `document.getElementById("confirm-question").textContent`); !strings.Contains(strings.Join(strings.Fields(got), " "), "from 3 to 0") {
		t.Errorf("confirmation: got %q, want it to say from 3 to 0", got)
	}
	if js {
		// The button pressed is gone: focus goes to the question asked.
		waitFor(t, 10*time.Second, "focus on the question", func() bool {
			return evaluate[string](t, ctx, `document.activeElement.id`) == "confirm-question"
		})
		evaluate[bool](t, ctx, `(window.__samePage = true)`)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("confirm-yes")), chromedp.WaitVisible(chromedp.ID("new-views"))); err != nil {
		t.Fatalf("confirm: %v", err)
	}
	if got := evaluate[string](t, ctx, `document.getElementById("notice").textContent`); got != "The views of comic #12 are now 0 (they were 3)." {
		t.Errorf("notice: got %q", got)
	}
	if got := evaluate[string](t, ctx, `document.getElementById("admin-change").dataset.views`); got != "0" {
		t.Errorf("comic 12's count on its page: got %s, want 0", got)
	}
	if js && !evaluate[bool](t, ctx, `window.__samePage === true`) {
		t.Error("the confirmation reloaded the page; want an htmx swap")
	}

	// The leaderboard: 12 is gone from it, 13 leads.
	if err := chromedp.Do(ctx, chromedp.Navigate(app.URL+"/leaderboard"), chromedp.WaitVisible(chromedp.ID("leaderboard"))); err != nil {
		t.Fatalf("open the leaderboard: %v", err)
	}
	rows := evaluate[[]string](t, ctx, `[...document.querySelectorAll("#leaderboard tr[data-num]")].map(r => r.dataset.num + ":" + r.dataset.views)`)
	if strings.Join(rows, " ") != "13:2" {
		t.Errorf("leaderboard: got %v, want [13:2]", rows)
	}

	// The audit log records who changed what, from what to what.
	if err := chromedp.Do(ctx, chromedp.Navigate(app.URL+"/admin/audit"), chromedp.WaitVisible(chromedp.ID("audit"))); err != nil {
		t.Fatalf("open the audit log: %v", err)
	}
	entry := evaluate[string](t, ctx, `(() => {
		const r = document.querySelector('#audit tr[data-action="set views"]');
		return r ? [r.dataset.num, r.dataset.old, r.dataset.new, r.cells[1].textContent].join(" ") : "";
	})()`)
	if entry != "12 3 0 operator" {
		t.Errorf("audit entry: got %q, want %q", entry, "12 3 0 operator")
	}
}
