package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/xkcdapp/xkcdapp/admin"
	"github.com/xkcdapp/xkcdapp/catalog"
	"github.com/xkcdapp/xkcdapp/config"
	"github.com/xkcdapp/xkcdapp/counter"
	"github.com/xkcdapp/xkcdapp/handlers"
	"github.com/xkcdapp/xkcdapp/live"
	"github.com/xkcdapp/xkcdapp/session"
)

// shutdownTimeout fits inside Fargate's 30 s between SIGTERM and SIGKILL.
// Requests get most of it; the rest is kept for writing held views.
const (
	shutdownTimeout = 25 * time.Second
	drainTimeout    = 18 * time.Second
)

func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	log.Info("starting", "version", buildVersion(), "addr", cfg.Addr, "upstream", cfg.XKCDBaseURL)
	db, dbKind, err := openStore(ctx, cfg, log, cfg.Migrate)
	if err != nil {
		return err
	}
	defer db.Close()

	cat := catalog.New(upstreamClient(cfg), db, log)
	if err := cat.Load(ctx); err != nil {
		log.Warn("comic cache not loaded; comics will be fetched on demand", "err", err)
	}
	st := cat.Status()
	log.Info("comic cache loaded", "cached", st.Cached, "latest", st.Latest)

	views := counter.New(db, log)

	// Live stats hear of every view batch, on this instance or another.
	hub := live.New(db, cat, log)
	liveCtx, cancelLive := context.WithCancel(context.WithoutCancel(ctx))
	var liveDone sync.WaitGroup
	liveDone.Go(func() { db.Listen(liveCtx, log, hub.Changed) })
	liveDone.Go(func() { hub.Run(liveCtx) })
	// Before the store closes: the hub withdraws this instance's watchers.
	stopLive := func() {
		cancelLive()
		liveDone.Wait()
	}
	defer stopLive()

	sessions, err := session.Open(cfg.RedisURL, session.Options{
		MaxConns:       cfg.RedisMaxConns,
		ConnectTimeout: cfg.RedisConnect,
		Timeout:        cfg.RedisTimeout,
		CAFile:         cfg.RedisTLSCA,
	}, log)
	if err != nil {
		return err
	}
	defer sessions.Close()
	if sessions.Kind == "redis" {
		log.Info("sessions in redis", "redis", config.RedactedRedis(cfg.RedisURL))
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if err := sessions.Ping(pctx); err != nil {
			log.Warn("redis unreachable; pages are served without history until it answers", "err", err)
		}
		cancel()
	} else {
		log.Warn("REDIS_URL not set: sessions live in memory, are lost on restart and are not shared between instances")
	}

	var guard *admin.Guard
	if cfg.AdminUser != "" {
		// The config checked the hash already; the error never quotes it.
		if guard, err = admin.NewGuard(cfg.AdminUser, cfg.AdminPasswordHash, admin.DefaultLimits); err != nil {
			return fmt.Errorf("ADMIN_PASSWORD_HASH: %w", err)
		}
		log.Info("admin console enabled at /admin/", "user", cfg.AdminUser)
	}

	srv := &http.Server{
		Handler: handlers.New(handlers.Deps{
			Catalog:      cat,
			Counter:      views,
			Rankings:     db,
			Live:         hub,
			Sessions:     sessions,
			Log:          log,
			DatabaseKind: dbKind,
			ImageOrigins: imageOrigins(cfg.XKCDBaseURL),
			Admin:        guard,
			AdminStore:   db,
		}),
		ReadHeaderTimeout: 5 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second, // longer than the ALB's 60 s
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on ADDR %s: %w", cfg.Addr, err)
	}
	log.Info("listening", "addr", ln.Addr().String())

	syncCtx, stopSync := context.WithCancel(context.WithoutCancel(ctx))
	synced := make(chan struct{})
	go func() {
		defer close(synced)
		cat.Run(syncCtx, cfg.SyncInterval)
	}()

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	// Either a signal or a server that stopped by itself starts the same
	// shutdown, so that held views are flushed on both paths.
	var serveErr error
	select {
	case serveErr = <-served:
	case <-ctx.Done():
	}

	log.Info("shutting down", "timeout", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	stopSync()
	// Live streams never end by themselves: end them first, so that
	// browsers reconnect to another instance now, not when the drain
	// gives up on them.
	hub.Close()
	dctx, cancelDrain := context.WithTimeout(sctx, drainTimeout)
	defer cancelDrain()
	var errs []error
	if err := srv.Shutdown(dctx); err != nil {
		errs = append(errs, fmt.Errorf("shutdown: %w", err))
	}
	select {
	case <-synced:
	case <-sctx.Done():
	}
	stopLive()
	// A handler still running past the drain finds the counter closed, and
	// its view goes uncounted (it logs so); every view before is flushed.
	if err := views.Close(sctx); err != nil {
		errs = append(errs, fmt.Errorf("flush views: %w", err))
	}
	if serveErr == nil {
		serveErr = <-served
	}
	if !errors.Is(serveErr, http.ErrServerClosed) {
		errs = append(errs, fmt.Errorf("serve: %w", serveErr))
	}
	log.Info("stopped")
	return errors.Join(errs...)
}

// imageOrigins are where comic images come from: xkcd's image host, and
// the upstream itself when it is not xkcd.com (a mirror, or a test fake).
func imageOrigins(upstream string) []string {
	origins := []string{"https://imgs.xkcd.com"}
	if u, err := url.Parse(upstream); err == nil && u.Host != "xkcd.com" {
		origins = append(origins, u.Scheme+"://"+u.Host)
	}
	return origins
}
