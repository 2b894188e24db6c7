// Package session opens the visitors' session store: Redis through scs's
// redisstore when REDIS_URL is set, scs's memory store otherwise. A Redis
// in trouble answers fast with ErrUnavailable instead of holding pages up.
package session

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/gomodule/redigo/redis"
)

// ErrUnavailable means the session store did not answer in time; the
// request goes on without the visitor's session.
var ErrUnavailable = errors.New("sessions unavailable")

// Lifetimes of a session: it ends after a month without a visit, or a
// year after it began, whichever comes first. A session holds a reading
// history, so losing it costs more than keeping it; the one thing it may
// grant, an admin sign-in, ends on its own after hours (handlers/admin.go).
const (
	IdleTimeout = 30 * 24 * time.Hour
	Lifetime    = 365 * 24 * time.Hour
)

// FirstVisitLifetime is how long a session lives until its visitor comes
// back with the cookie. Most clients that never do are bots, and each of
// their requests would otherwise leave a session in Redis for a month.
const FirstVisitLifetime = time.Hour

// CookieName is the session cookie's name.
const CookieName = "xkcdapp_session"

// Options tunes the Redis store. The zero value takes the defaults.
type Options struct {
	// MaxConns bounds the connections to Redis; past it, callers wait.
	MaxConns int
	// Budget is how long one request waits for Redis before it goes on
	// without its session.
	Budget time.Duration
	// Quiet is how long after a failure requests skip Redis altogether, so
	// that an outage costs each request nothing, not a timeout.
	Quiet time.Duration
	// ConnectTimeout bounds opening a connection: dial, TLS and AUTH.
	ConnectTimeout time.Duration
	// Timeout bounds each read and write on a connection.
	Timeout time.Duration
	// CAFile holds the PEM certificates that sign a rediss:// server's
	// certificate; empty means the system's roots, which sign
	// ElastiCache's.
	CAFile string
}

func (o Options) withDefaults() Options {
	if o.MaxConns <= 0 {
		o.MaxConns = 32
	}
	if o.Budget <= 0 {
		o.Budget = 250 * time.Millisecond
	}
	if o.Quiet <= 0 {
		o.Quiet = 2 * time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 2 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	return o
}

// Sessions is the session manager and what stands behind it.
type Sessions struct {
	*scs.SessionManager
	Kind  string // "redis" or "memory"
	pool  *redis.Pool
	guard *guard
}

// Open returns sessions in Redis at redisURL (redis:// or rediss://), or in
// memory when redisURL is empty. Redis is not reached here: a Redis that is
// down at start is a Redis that is down, and pages are served without it.
func Open(redisURL string, opts Options, log *slog.Logger) (*Sessions, error) {
	m := scs.New()
	m.Lifetime = Lifetime
	m.IdleTimeout = IdleTimeout
	m.Cookie.Name = CookieName
	m.Cookie.HttpOnly = true
	m.Cookie.SameSite = http.SameSiteLaxMode
	m.Cookie.Persist = true
	m.Codec = Codec{}
	if redisURL == "" {
		// No StopCleanup: in scs v2.9.0 it races with the cleanup
		// goroutine's start, so the cleanup lives as long as the process.
		m.Store = memstore.NewWithCleanupInterval(time.Minute)
		return &Sessions{SessionManager: m, Kind: "memory"}, nil
	}
	if _, err := url.Parse(redisURL); err != nil {
		return nil, errors.New("REDIS_URL: not a URL") // never echo a password
	}
	opts = opts.withDefaults()
	var dialTLS []redis.DialOption
	if opts.CAFile != "" {
		pem, err := os.ReadFile(opts.CAFile)
		if err != nil {
			return nil, fmt.Errorf("REDIS_TLS_CA: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("REDIS_TLS_CA: %s holds no PEM certificate", opts.CAFile)
		}
		dialTLS = append(dialTLS, redis.DialTLSConfig(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}))
	}
	g := &guard{
		budget: opts.Budget,
		quiet:  opts.Quiet,
		log:    log,
		slots:  make(chan struct{}, 4*opts.MaxConns),
	}
	pool := newPool(redisURL, opts, dialTLS, g.failedLately)
	g.store = redisstore.New(pool)
	m.Store = g
	return &Sessions{SessionManager: m, Kind: "redis", pool: pool, guard: g}, nil
}

// newPool is a bounded pool of Redis connections. Timeouts keep a stalled
// Redis from holding a connection for long. An idle connection is checked
// before reuse when it has been idle a while, since a load balancer or
// Redis may have closed it, and after any failure: when Redis restarts,
// every pooled connection is dead, and each would otherwise fail one
// request and start another quiet period.
func newPool(redisURL string, opts Options, dialTLS []redis.DialOption, failedLately func() bool) *redis.Pool {
	dialOpts := append([]redis.DialOption{
		redis.DialConnectTimeout(opts.ConnectTimeout),
		redis.DialTLSHandshakeTimeout(opts.ConnectTimeout),
		redis.DialReadTimeout(opts.Timeout),
		redis.DialWriteTimeout(opts.Timeout),
	}, dialTLS...)
	return &redis.Pool{
		MaxActive:       opts.MaxConns,
		MaxIdle:         opts.MaxConns,
		Wait:            true,
		IdleTimeout:     4 * time.Minute,
		MaxConnLifetime: time.Hour,
		DialContext: func(ctx context.Context) (redis.Conn, error) {
			// The connect timeout bounds AUTH too, which redigo runs on
			// the dial's context.
			ctx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout)
			defer cancel()
			return redis.DialURLContext(ctx, redisURL, dialOpts...)
		},
		TestOnBorrow: func(c redis.Conn, idleSince time.Time) error {
			if time.Since(idleSince) < 30*time.Second && !failedLately() {
				return nil
			}
			_, err := c.Do("PING")
			return err
		},
	}
}

// Ping reports whether the store answers; memory always does.
func (s *Sessions) Ping(ctx context.Context) error {
	if s.pool == nil {
		return nil
	}
	c, err := s.pool.GetContext(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = redis.DoContext(c, ctx, "PING")
	return err
}

// Close releases the Redis connections.
func (s *Sessions) Close() error {
	if s.pool == nil {
		return nil
	}
	return s.pool.Close()
}

// guard is the Redis store behind a time budget per call and a quiet
// period after a failure. A call that runs past its budget finishes in the
// background (the connection's own timeouts bound it) and its connection
// goes back to the pool for the next request.
type guard struct {
	store  scs.Store
	budget time.Duration
	quiet  time.Duration
	log    *slog.Logger
	// slots bounds the calls in flight, those given up on included.
	slots chan struct{}

	mu        sync.Mutex
	failedAt  time.Time // the last failure; zero while Redis answers
	downSince time.Time // the first failure of this outage
	lastFail  time.Time // the last failure, kept after recovery
}

var _ scs.CtxStore = (*guard)(nil)

func (g *guard) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	type found struct {
		b  []byte
		ok bool
	}
	f, err := guarded(ctx, g, func() (found, error) {
		b, ok, err := g.store.Find(token)
		return found{b, ok}, err
	})
	return f.b, f.ok, err
}

func (g *guard) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	_, err := guarded(ctx, g, func() (struct{}, error) { return struct{}{}, g.store.Commit(token, b, expiry) })
	return err
}

func (g *guard) DeleteCtx(ctx context.Context, token string) error {
	_, err := guarded(ctx, g, func() (struct{}, error) { return struct{}{}, g.store.Delete(token) })
	return err
}

func (g *guard) Find(token string) ([]byte, bool, error) {
	return g.FindCtx(context.Background(), token)
}

func (g *guard) Commit(token string, b []byte, expiry time.Time) error {
	return g.CommitCtx(context.Background(), token, b, expiry)
}

func (g *guard) Delete(token string) error { return g.DeleteCtx(context.Background(), token) }

// guarded runs call within g's budget, unless Redis failed within the
// quiet period. A call past the budget is left to finish on its own.
func guarded[T any](ctx context.Context, g *guard, call func() (T, error)) (T, error) {
	var zero T
	if g.resting() {
		return zero, ErrUnavailable
	}
	// Calls given up on still hold their goroutine until the connection's
	// own timeouts end them; past a bound, Redis is not keeping up, and
	// waiting in line for it helps nobody.
	select {
	case g.slots <- struct{}{}:
	default:
		err := fmt.Errorf("%d calls already waiting on Redis", cap(g.slots))
		g.record(err)
		return zero, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() { <-g.slots }()
		v, err := call()
		done <- result{v, err}
	}()
	timer := time.NewTimer(g.budget)
	defer timer.Stop()
	var r result
	select {
	case r = <-done:
	case <-timer.C:
		r.err = fmt.Errorf("no answer within %v", g.budget)
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	g.record(r.err)
	if r.err != nil {
		return zero, fmt.Errorf("%w: %w", ErrUnavailable, r.err)
	}
	return r.v, nil
}

// recheck is how long after a failure pooled connections are pinged
// before reuse.
const recheck = time.Minute

func (g *guard) failedLately() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.lastFail.IsZero() && time.Since(g.lastFail) < recheck
}

func (g *guard) resting() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.failedAt.IsZero() && time.Since(g.failedAt) < g.quiet
}

// record notes the outcome of a call, logging only the changes of state.
func (g *guard) record(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil {
		g.lastFail = time.Now()
	}
	switch {
	case err != nil && g.failedAt.IsZero():
		g.log.Warn("sessions unavailable: pages go on without history", "err", err)
		g.failedAt, g.downSince = time.Now(), time.Now()
	case err != nil:
		g.failedAt = time.Now()
	case !g.failedAt.IsZero():
		g.log.Info("sessions available again", "down_for", time.Since(g.downSince).Round(time.Millisecond))
		g.failedAt, g.downSince = time.Time{}, time.Time{}
	}
}
