package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/xkcdapp/xkcdapp/config"
	"github.com/xkcdapp/xkcdapp/handlers"
	"github.com/xkcdapp/xkcdapp/store"
	"github.com/xkcdapp/xkcdapp/xkcd"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

const usage = `usage: xkcdapp [command] [flags]

commands:
  serve        serve the app (the default)
  migrate      apply database migrations and exit
  sync         fetch every comic missing from the cache and exit
  healthcheck  exit 0 when the local server's /healthz answers
  version      print the version

Run "xkcdapp serve -h" for the settings; each flag mirrors an environment
variable, and a flag wins over its variable.
`

// run is the whole program; main only supplies the process's environment,
// so tests run the real thing on port 0.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd, rest := "serve", args[1:]
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		cmd, rest = rest[0], rest[1:]
	}
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "xkcdapp", buildVersion())
		return nil
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	case "serve", "migrate", "sync", "healthcheck":
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}

	cfg, err := config.Load("xkcdapp "+cmd, rest, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil // -h: usage is printed, and asking for it is no failure
	}
	if err != nil {
		return err
	}
	log := newLogger(cfg, stdout)
	switch cmd {
	case "migrate":
		return migrateOnly(ctx, cfg, log)
	case "sync":
		return syncAll(ctx, cfg, log, stderr)
	case "healthcheck":
		return healthcheck(ctx, cfg.Addr)
	}
	return serve(ctx, cfg, log)
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if cfg.LogFormat == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(handlers.LogHandler(h))
}

func buildVersion() string {
	if version != "dev" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return version
}

// Store is what the app keeps: Postgres, or memory without one.
type Store interface {
	Comics(ctx context.Context) ([]xkcd.Comic, error)
	PutComic(ctx context.Context, c xkcd.Comic) error
	AddViews(ctx context.Context, deltas []store.Count) ([]store.Count, error)
	Views(ctx context.Context, num int) (int64, error)
	Snapshot(ctx context.Context, top int, comics []int) (store.Snapshot, error)
	SetWatchers(ctx context.Context, instance string, n int, ttl time.Duration) error
	Listen(ctx context.Context, log *slog.Logger, changed func())
	Ping(ctx context.Context) error
	Close()
}

// openStore opens Postgres when configured, applying migrations if asked,
// and says loudly when it falls back to memory.
func openStore(ctx context.Context, cfg config.Config, log *slog.Logger, migrate bool) (Store, string, error) {
	if cfg.DatabaseURL == "" {
		log.Warn("no database configured (DATABASE_URL or DATABASE_HOST): using the in-memory store; views and cached comics are lost when the process exits")
		return store.NewMemory(), "memory", nil
	}
	db, err := store.OpenPostgres(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		return nil, "", err
	}
	log.Info("database configured", "url", config.Redacted(cfg.DatabaseURL))
	if migrate {
		mctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := db.Migrate(mctx); err != nil {
			db.Close()
			return nil, "", err
		}
		log.Info("database migrated")
	}
	return db, "postgres", nil
}

func migrateOnly(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	if cfg.DatabaseURL == "" {
		return errors.New("migrate: no database configured: set DATABASE_URL or DATABASE_HOST")
	}
	db, _, err := openStore(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	db.Close()
	return nil
}

func upstreamClient(cfg config.Config) *xkcd.Client {
	return xkcd.NewClient(cfg.XKCDBaseURL,
		xkcd.WithUserAgent("xkcdapp/"+buildVersion()+" (a reader for xkcd comics)"),
		// Three short attempts fit in the catalog's 5 s fetch budget.
		xkcd.WithTimeout(1500*time.Millisecond),
		xkcd.WithRetries(3, 250*time.Millisecond))
}

// healthcheck is the container's health check: a static image has no curl.
func healthcheck(ctx context.Context, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("healthcheck: ADDR: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort("127.0.0.1", port)+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: /healthz answered %s", resp.Status)
	}
	return nil
}

// isTerminal reports whether w is a terminal, for the sync progress bar.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
