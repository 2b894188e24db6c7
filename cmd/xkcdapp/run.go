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
	"github.com/xkcdapp/xkcdapp/paramstore"
	"github.com/xkcdapp/xkcdapp/store"
	"github.com/xkcdapp/xkcdapp/xkcd"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

const usage = `usage: xkcdapp [command] [flags]

commands:
  serve          serve the app (the default)
  migrate        apply database migrations and exit
  sync           fetch every comic missing from the cache and exit
  healthcheck    exit 0 when the local server's /healthz answers
  hash-password  read a password from standard input and print its
                 argon2id hash, for ADMIN_PASSWORD_HASH
  version        print the version

Run "xkcdapp serve -h" for the settings; each flag mirrors an environment
variable, and a flag wins over its variable. With SSM_PREFIX set (e.g.
/xkcdapp/prod/), settings the environment leaves empty are read from the
SSM Parameter Store parameters under it, named by their last path segment.
`

// run is the whole program; main only supplies the process's environment,
// so tests run the real thing on port 0.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	environ := getenv
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
	case "hash-password":
		return hashPassword(os.Stdin, stdout, stderr)
	case "serve", "migrate", "sync", "healthcheck":
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}

	// The container's health check runs every few seconds and needs only
	// ADDR. It reads no SSM parameter, so it must not judge the settings
	// that may need one either: REDIS_PASSWORD in the environment with
	// REDIS_URL in SSM is no reason to call a task unhealthy.
	if cmd == "healthcheck" {
		getenv = only("ADDR", getenv)
	}
	prefix := strings.TrimSpace(getenv("SSM_PREFIX"))
	var params paramstore.Params
	if prefix != "" {
		var err error
		if params, err = readParameters(ctx, prefix, getenv); err != nil {
			return err
		}
		getenv = params.Under(getenv)
	}
	cfg, err := config.Load("xkcdapp "+cmd, rest, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil // -h: usage is printed, and asking for it is no failure
	}
	if err != nil {
		if params != nil {
			// The task's environment does not show these: say where they are.
			used, _, _ := sortParameters(params, environ)
			err = fmt.Errorf("%w\n(settings read from SSM Parameter Store under %s: %s)", err, prefix, strings.Join(used, ", "))
		}
		return err
	}
	log := newLogger(cfg, stdout)
	if params != nil {
		logParameters(log, prefix, params, environ)
	}
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

// only returns a getenv that sees name alone.
func only(name string, getenv func(string) string) func(string) string {
	return func(k string) string {
		if k != name {
			return ""
		}
		return getenv(k)
	}
}

// readParameters reads the settings kept under prefix in SSM Parameter
// Store, with the AWS settings of getenv.
func readParameters(ctx context.Context, prefix string, getenv func(string) string) (paramstore.Params, error) {
	client, err := paramstore.NewClient(ctx, prefix, getenv)
	if err != nil {
		return nil, err
	}
	return paramstore.Load(ctx, client, prefix)
}

// logParameters says which settings came from SSM, by name only: values
// are secrets. A name the app does not know is most likely a typo, and a
// setting the environment also sets is one whose SSM value is unused.
func logParameters(log *slog.Logger, prefix string, params paramstore.Params, getenv func(string) string) {
	used, shadowed, unknown := sortParameters(params, getenv)
	for _, name := range unknown {
		log.Warn("unknown setting in SSM Parameter Store ignored", "prefix", prefix, "name", name)
	}
	if len(params) == 0 {
		// Most likely a typo in the prefix: SSM answers an unknown path
		// with nothing, not with an error.
		log.Warn("no parameter under SSM_PREFIX", "prefix", prefix)
		return
	}
	log.Info("settings read from SSM Parameter Store", "prefix", prefix, "names", used, "environment_wins", shadowed)
}

// sortParameters sorts the parameters' names: settings taken from SSM,
// settings the environment also sets (whose SSM value is unused), and
// names that are no setting at all.
func sortParameters(params paramstore.Params, getenv func(string) string) (used, shadowed, unknown []string) {
	for _, name := range params.Names() {
		switch {
		case !config.Known(name):
			unknown = append(unknown, name)
		case strings.TrimSpace(getenv(name)) != "":
			shadowed = append(shadowed, name)
		default:
			used = append(used, name)
		}
	}
	return used, shadowed, unknown
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
	Listening() error
	Ping(ctx context.Context) error
	Close()
	handlers.AdminStore
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
	log.Info("database configured", "url", config.Redacted(cfg.DatabaseURL), "sslmode", config.SSLMode(cfg.DatabaseURL))
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
