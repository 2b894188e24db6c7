package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xkcdapp/xkcdapp/store"
	"github.com/xkcdapp/xkcdapp/store/storetest"
	"github.com/xkcdapp/xkcdapp/xkcd/xkcdtest"
)

var permalinkRE = regexp.MustCompile(`^/comic/(\d+)$`)

// TestUpstreamStopsMidRun: once comics are cached, the app needs no
// upstream at all. It keeps serving when xkcd goes away.
func TestUpstreamStopsMidRun(t *testing.T) {
	upstream := xkcdtest.NewServer(410)
	app := startApp(t, map[string]string{
		"DATABASE_URL":  storetest.NewDatabase(t),
		"XKCD_BASE_URL": upstream.URL,
	})
	app.waitUntilSynced(t)
	callsWhenWarm := upstream.Calls()
	for range 50 {
		if status, _, _ := get(t, http.DefaultClient, app.URL+"/random", "HX-Request", "true"); status != http.StatusOK {
			t.Fatalf("GET /random while warm: status %d, want 200", status)
		}
	}
	if got := upstream.Calls() - callsWhenWarm; got != 0 {
		t.Errorf("upstream calls for 50 views once warm = %d, want 0", got)
	}

	upstream.Stop()
	for i := range 100 {
		status, header, _ := get(t, noRedirects, app.URL+"/random")
		if status != http.StatusSeeOther || !permalinkRE.MatchString(header.Get("Location")) {
			t.Fatalf("GET /random #%d with upstream down: status %d Location %q, want 303 to a permalink",
				i, status, header.Get("Location"))
		}
		if status, _, body := get(t, http.DefaultClient, app.URL+header.Get("Location")); status != http.StatusOK || !strings.Contains(body, `id="comic"`) {
			t.Fatalf("GET %s with upstream down: status %d, want 200 with the comic", header.Get("Location"), status)
		}
	}
	if status, _, _ := get(t, http.DefaultClient, app.URL+"/readyz"); status != http.StatusOK {
		t.Errorf("/readyz with upstream down and a full cache: status %d, want 200", status)
	}
}

// TestColdStartUpstreamDown: nothing cached and no upstream is the one case
// where a visitor cannot get a comic; they get a friendly 503, not a 500.
func TestColdStartUpstreamDown(t *testing.T) {
	upstream := xkcdtest.NewServer(410)
	upstream.Stop()
	app := startApp(t, map[string]string{"XKCD_BASE_URL": upstream.URL})
	for _, path := range []string{"/", "/comic/5", "/latest"} {
		status, header, body := get(t, noRedirects, app.URL+path)
		if status != http.StatusServiceUnavailable {
			t.Errorf("GET %s cold with upstream down: status %d, want 503", path, status)
		}
		if header.Get("Retry-After") == "" || !strings.Contains(body, "Try again") {
			t.Errorf("GET %s: want a Retry-After header and a retry link; got %q and body %q", path, header.Get("Retry-After"), body)
		}
	}
	if status, _, _ := get(t, http.DefaultClient, app.URL+"/readyz"); status != http.StatusServiceUnavailable {
		t.Errorf("/readyz with nothing cached and upstream down: status %d, want 503", status)
	}
}

// TestShutdownFlushesViews: views held in memory while Postgres was
// unreachable are written on SIGTERM, before run returns.
func TestShutdownFlushesViews(t *testing.T) {
	upstream := xkcdtest.NewServer(50)
	t.Cleanup(upstream.Stop)
	direct, proxied, proxy := storetest.NewProxiedDatabase(t)
	app := startApp(t, map[string]string{"DATABASE_URL": proxied, "XKCD_BASE_URL": upstream.URL})
	app.waitUntilSynced(t)

	proxy.Cut()
	const clients, each = 4, 10
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for range each {
				resp, err := http.Get(app.URL + "/comic/9")
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	proxy.Restore()
	start := time.Now()
	if err := app.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if took := time.Since(start); took > shutdownTimeout {
		t.Errorf("shutdown took %v, want under %v", took, shutdownTimeout)
	}

	ctx := context.Background()
	db, err := store.OpenPostgres(ctx, direct, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, err := db.Views(ctx, 9); err != nil || got != clients*each {
		t.Errorf("views of comic 9 after shutdown = %d (err %v), want %d", got, err, clients*each)
	}
}

func TestRunRejectsBadConfiguration(t *testing.T) {
	tests := []struct {
		env      map[string]string
		wantName string
	}{
		{map[string]string{"ADDR": "not-an-address"}, "ADDR"},
		{map[string]string{"DATABASE_URL": "mysql://user:hunter2@db/x"}, "DATABASE_URL"},
		{map[string]string{"DATABASE_HOST": "db", "DATABASE_PORT": "port"}, "DATABASE_PORT"},
		{map[string]string{"XKCD_BASE_URL": "xkcd.com"}, "XKCD_BASE_URL"},
		{map[string]string{"LOG_LEVEL": "chatty"}, "LOG_LEVEL"},
	}
	for _, tt := range tests {
		t.Run(tt.wantName, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), []string{"xkcdapp"}, func(k string) string { return tt.env[k] }, &stdout, &stderr)
			if err == nil {
				t.Fatalf("run with %v: no error, want one naming %s", tt.env, tt.wantName)
			}
			if !strings.Contains(err.Error(), tt.wantName) {
				t.Errorf("error %q does not name %s", err, tt.wantName)
			}
			if strings.Contains(err.Error()+stdout.String()+stderr.String(), "hunter2") {
				t.Errorf("a password reached the output: %q", err)
			}
		})
	}
}

func TestRunCommands(t *testing.T) {
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"xkcdapp", "version"}, func(string) string { return "" }, &stdout, &stdout); err != nil {
		t.Fatalf("version: %v", err)
	}
	if !strings.HasPrefix(stdout.String(), "xkcdapp ") {
		t.Errorf("version printed %q, want it to start with %q", stdout.String(), "xkcdapp ")
	}
	if err := run(context.Background(), []string{"xkcdapp", "frobnicate"}, func(string) string { return "" }, &stdout, &stdout); err == nil {
		t.Error("an unknown command ran without error")
	}
	if err := run(context.Background(), []string{"xkcdapp", "migrate"}, func(string) string { return "" }, &stdout, &stdout); err == nil {
		t.Error("migrate without a database ran without error")
	}
}

func TestHealthcheckCommand(t *testing.T) {
	upstream := xkcdtest.NewServer(20)
	t.Cleanup(upstream.Stop)
	app := startApp(t, map[string]string{"XKCD_BASE_URL": upstream.URL})
	port := strings.TrimPrefix(app.URL, "http://127.0.0.1:")
	env := map[string]string{"ADDR": ":" + port}
	if err := run(context.Background(), []string{"xkcdapp", "healthcheck"}, func(k string) string { return env[k] }, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Errorf("healthcheck against a running app: %v, want success", err)
	}
	env["ADDR"] = "127.0.0.1:1"
	if err := run(context.Background(), []string{"xkcdapp", "healthcheck"}, func(k string) string { return env[k] }, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("healthcheck with nothing listening succeeded, want an error")
	}
}

// TestMigrateAndSyncCommands: migrate builds the schema, several at once
// migrate once, and sync fills the cache so that serve needs no upstream.
func TestMigrateAndSyncCommands(t *testing.T) {
	upstream := xkcdtest.NewServer(120)
	dbURL := storetest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": dbURL, "XKCD_BASE_URL": upstream.URL}
	getenv := func(k string) string { return env[k] }

	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			errs <- run(context.Background(), []string{"xkcdapp", "migrate"}, getenv, &bytes.Buffer{}, &bytes.Buffer{})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent migrate: %v", err)
		}
	}

	var logs bytes.Buffer
	if err := run(context.Background(), []string{"xkcdapp", "sync"}, getenv, &logs, &logs); err != nil {
		t.Fatalf("sync: %v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), "sync progress") {
		t.Errorf("sync logged no progress lines:\n%s", logs.String())
	}
	db, err := store.OpenPostgres(context.Background(), dbURL, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	comics, err := db.Comics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(comics), 120; got != want {
		t.Errorf("comics cached after sync = %d, want %d", got, want)
	}

	upstream.Stop()
	app := startApp(t, env)
	status, _, body := get(t, http.DefaultClient, app.URL+"/comic/"+fmt.Sprint(xkcdtest.DoubleEncoded))
	if status != http.StatusOK || !strings.Contains(body, "Naïve café") {
		t.Errorf("comic %d after sync with upstream down: status %d, want 200 with its repaired title", xkcdtest.DoubleEncoded, status)
	}
}

// TestDatabaseOutage: with Postgres unreachable mid-run, pages keep being
// served, the leaderboard says it is out of reach, and every view made
// meanwhile reaches Postgres once it is back.
func TestDatabaseOutage(t *testing.T) {
	upstream := xkcdtest.NewServer(60)
	t.Cleanup(upstream.Stop)
	direct, proxied, proxy := storetest.NewProxiedDatabase(t)
	app := startApp(t, map[string]string{"DATABASE_URL": proxied, "XKCD_BASE_URL": upstream.URL})
	app.waitUntilSynced(t)
	if status, _, _ := get(t, http.DefaultClient, app.URL+"/comic/11"); status != http.StatusOK {
		t.Fatalf("GET /comic/11 with the database up: status %d, want 200", status)
	}
	waitFor(t, 10*time.Second, "/readyz to report live stats listening", func() bool { return liveReadiness(t, app.URL).OK })

	proxy.Cut()
	waitFor(t, 10*time.Second, "/readyz to report live stats not listening", func() bool {
		live := liveReadiness(t, app.URL)
		return !live.OK && live.Kind == "postgres" && live.Error != ""
	})
	const during = 30
	for i := range during {
		start := time.Now()
		status, _, _ := get(t, http.DefaultClient, app.URL+"/comic/11")
		if status != http.StatusOK {
			t.Fatalf("GET /comic/11 #%d with the database down: status %d, want 200", i, status)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("GET /comic/11 #%d with the database down took %v, want under 3s", i, took)
		}
	}
	if status, _, _ := get(t, http.DefaultClient, app.URL+"/leaderboard"); status != http.StatusServiceUnavailable {
		t.Errorf("GET /leaderboard with the database down: status %d, want 503", status)
	}
	if status, _, _ := get(t, http.DefaultClient, app.URL+"/readyz"); status != http.StatusOK {
		t.Errorf("/readyz with the database down and comics cached: status %d, want 200 (degraded, still serving)", status)
	}

	proxy.Restore()
	waitFor(t, 40*time.Second, "/readyz to report live stats listening again", func() bool { return liveReadiness(t, app.URL).OK })
	db, err := store.OpenPostgres(context.Background(), direct, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	waitFor(t, 40*time.Second, "held views to reach Postgres", func() bool {
		n, err := db.Views(context.Background(), 11)
		return err == nil && n == 1+during
	})
}

// liveState is /readyz's word on the connection on which live stats hear
// of other instances' views.
type liveState struct {
	Kind  string
	OK    bool
	Error string
}

func liveReadiness(t *testing.T, base string) liveState {
	t.Helper()
	status, _, body := get(t, http.DefaultClient, base+"/readyz")
	var rd struct{ Live *liveState }
	if err := json.Unmarshal([]byte(body), &rd); err != nil || rd.Live == nil {
		t.Fatalf("/readyz: status %d, body %q: no live stats state", status, body)
	}
	return *rd.Live
}

// TestPasswordsStayOutOfLogs: the database password reaches Postgres, never
// the log (the local server trusts any password, so the app starts).
func TestPasswordsStayOutOfLogs(t *testing.T) {
	upstream := xkcdtest.NewServer(20)
	t.Cleanup(upstream.Stop)
	u, err := url.Parse(storetest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), "hunter2-secret")
	app := startApp(t, map[string]string{"DATABASE_URL": u.String(), "XKCD_BASE_URL": upstream.URL})
	app.waitUntilSynced(t)
	get(t, http.DefaultClient, app.URL+"/comic/3")
	if err := app.Stop(); err != nil {
		t.Fatal(err)
	}
	if !app.logs.Contains("database configured") {
		t.Fatalf("the log never said which database is used:\n%s", app.logs)
	}
	if app.logs.Contains("hunter2-secret") {
		t.Errorf("the database password is in the log:\n%s", app.logs)
	}
}
