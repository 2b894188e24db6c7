package session_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/xkcdapp/xkcdapp/logtest"
	"github.com/xkcdapp/xkcdapp/session"
	"github.com/xkcdapp/xkcdapp/session/sessiontest"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func open(t *testing.T, redisURL string, opts session.Options, log *slog.Logger) *session.Sessions {
	t.Helper()
	s, err := session.Open(redisURL, opts, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// save puts value under key in a new session and commits it, returning
// its token.
func save(t *testing.T, s *session.Sessions, key string, value []byte) string {
	t.Helper()
	ctx, err := s.Load(t.Context(), "")
	if err != nil {
		t.Fatalf("load a new session: %v", err)
	}
	s.Put(ctx, key, value)
	token, _, err := s.Commit(ctx)
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	return token
}

// load is what the session with token holds under key; nil for none.
func load(t *testing.T, s *session.Sessions, token, key string) []byte {
	t.Helper()
	ctx, err := s.Load(t.Context(), token)
	if err != nil {
		t.Fatalf("load %q: %v", token, err)
	}
	return s.GetBytes(ctx, key)
}

func TestMemory(t *testing.T) {
	s := open(t, "", session.Options{}, discard)
	if s.Kind != "memory" {
		t.Errorf("Kind: got %q, want %q", s.Kind, "memory")
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: got %v, want nil", err)
	}
	token := save(t, s, "history", []byte{1, 2, 3})
	if got := load(t, s, token, "history"); !bytes.Equal(got, []byte{1, 2, 3}) {
		t.Errorf("loaded: got %v, want [1 2 3]", got)
	}
}

func TestRedis(t *testing.T) {
	u := sessiontest.URL(t)
	s := open(t, u, session.Options{}, discard)
	if s.Kind != "redis" {
		t.Errorf("Kind: got %q, want %q", s.Kind, "redis")
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: got %v, want nil", err)
	}
	value := []byte{1, 0, 255, 7}
	token := save(t, s, "history", value)
	if got := load(t, s, token, "history"); !bytes.Equal(got, value) {
		t.Errorf("loaded from Redis: got %v, want %v", got, value)
	}

	// The key expires when the session would go idle.
	c, err := redis.DialURLContext(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ttl, err := redis.Int64(c.Do("PTTL", "scs:session:"+token))
	if err != nil {
		t.Fatal(err)
	}
	if got := time.Duration(ttl) * time.Millisecond; got > session.IdleTimeout || got < session.IdleTimeout-10*time.Second {
		t.Errorf("TTL in Redis: got %v, want about %v", got, session.IdleTimeout)
	}

	ctx, err := s.Load(t.Context(), token)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Destroy(ctx); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	if got := load(t, s, token, "history"); got != nil {
		t.Errorf("loaded after destroy: got %v, want nothing", got)
	}
}

func TestOpenRefusesBadURL(t *testing.T) {
	_, err := session.Open("redis://:hunter2@[::1", session.Options{}, discard)
	if err == nil {
		t.Fatal("Open with a malformed URL: got no error, want one")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error: got %q, want no password in it", err)
	}
}

// silentRedis accepts connections and never answers, as a Redis that is
// stuck does. It counts the connections.
type silentRedis struct {
	ln       net.Listener
	accepted atomic.Int64
	mu       sync.Mutex
	conns    []net.Conn
}

func newSilentRedis(t *testing.T) *silentRedis {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &silentRedis{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.conns = append(r.conns, c)
			r.mu.Unlock()
			r.accepted.Add(1)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, c := range r.conns {
			c.Close()
		}
	})
	return r
}

func (r *silentRedis) URL() string { return "redis://" + r.ln.Addr().String() + "/0" }

// waitAccepted waits until r has accepted n connections.
func (r *silentRedis) waitAccepted(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for r.accepted.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("connections accepted: got %d, want %d", r.accepted.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestBudget: a Redis that does not answer costs the first call its
// budget, and the calls within the quiet period after it nothing at all.
func TestBudget(t *testing.T) {
	const budget, quiet = 100 * time.Millisecond, 300 * time.Millisecond
	r := newSilentRedis(t)
	s := open(t, r.URL(), session.Options{Budget: budget, Quiet: quiet}, discard)

	start := time.Now()
	_, _, err := s.Store.Find("token")
	failed := time.Now()
	if !errors.Is(err, session.ErrUnavailable) {
		t.Fatalf("Find: got %v, want ErrUnavailable", err)
	}
	if elapsed := failed.Sub(start); elapsed < budget || elapsed > 4*budget {
		t.Errorf("Find took %v, want between %v and %v", elapsed, budget, 4*budget)
	}
	r.waitAccepted(t, 1)

	for name, call := range map[string]func() error{
		"Find":   func() error { _, _, err := s.Store.Find("token"); return err },
		"Commit": func() error { return s.Store.Commit("token", []byte("x"), time.Now().Add(time.Hour)) },
		"Delete": func() error { return s.Store.Delete("token") },
	} {
		start := time.Now()
		err := call()
		if elapsed := time.Since(start); elapsed > budget/4 {
			t.Errorf("%s within the quiet period took %v, want at once", name, elapsed)
		}
		if !errors.Is(err, session.ErrUnavailable) {
			t.Errorf("%s within the quiet period: got %v, want ErrUnavailable", name, err)
		}
	}

	time.Sleep(time.Until(failed.Add(quiet)))
	if got := r.accepted.Load(); got != 1 {
		t.Errorf("connections during the quiet period: got %d, want 1 (the first call's)", got)
	}
	// The quiet period over, the next call tries Redis again.
	start = time.Now()
	_, _, err = s.Store.Find("token")
	if !errors.Is(err, session.ErrUnavailable) {
		t.Errorf("Find after the quiet period: got %v, want ErrUnavailable", err)
	}
	if elapsed := time.Since(start); elapsed < budget || elapsed > 4*budget {
		t.Errorf("Find after the quiet period took %v, want between %v and %v", elapsed, budget, 4*budget)
	}
	r.waitAccepted(t, 2)
	// That failure starts another quiet period.
	start = time.Now()
	if _, _, err := s.Store.Find("token"); !errors.Is(err, session.ErrUnavailable) || time.Since(start) > budget/4 {
		t.Errorf("Find after a second failure: got %v in %v, want ErrUnavailable at once", err, time.Since(start))
	}
}

// TestContextEndsWait: a request that ends stops waiting for Redis.
func TestContextEndsWait(t *testing.T) {
	r := newSilentRedis(t)
	s := open(t, r.URL(), session.Options{Budget: time.Minute}, discard)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Load(ctx, "token")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Load: got %v, want context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("Load took %v, want about 50ms", elapsed)
	}
}

// TestRecovery: once Redis is back and the quiet period is over, sessions
// work again; the outage is logged once, and so is its end.
func TestRecovery(t *testing.T) {
	const budget, quiet = 200 * time.Millisecond, 300 * time.Millisecond
	srv := sessiontest.NewServer(t)
	logs := &logtest.Buffer{}
	s := open(t, srv.URL, session.Options{Budget: budget, Quiet: quiet}, slog.New(slog.NewTextHandler(logs, nil)))
	token := save(t, s, "history", []byte{1})

	srv.Stop()
	for range 3 {
		if _, _, err := s.Store.Find(token); !errors.Is(err, session.ErrUnavailable) {
			t.Fatalf("Find with Redis stopped: got %v, want ErrUnavailable", err)
		}
	}
	failed := time.Now()
	if err := s.Ping(t.Context()); err == nil {
		t.Errorf("Ping with Redis stopped: got nil, want an error")
	}

	srv.Start()
	// Redis is back, but while the quiet period lasts it is not asked.
	if _, _, err := s.Store.Find(token); time.Since(failed) < quiet && !errors.Is(err, session.ErrUnavailable) {
		t.Errorf("Find within the quiet period: got %v, want ErrUnavailable", err)
	}
	time.Sleep(time.Until(failed.Add(quiet)))

	// The restarted server kept nothing: the session is gone, not broken.
	if _, found, err := s.Store.Find(token); err != nil || found {
		t.Fatalf("Find after recovery: got found %v, %v, want not found, nil", found, err)
	}
	token = save(t, s, "history", []byte{2})
	if got := load(t, s, token, "history"); !bytes.Equal(got, []byte{2}) {
		t.Errorf("loaded after recovery: got %v, want [2]", got)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping after recovery: got %v, want nil", err)
	}
	if got := logs.Count("sessions unavailable"); got != 1 {
		t.Errorf(`"sessions unavailable" logged: got %d times, want 1`, got)
	}
	if got := logs.Count("sessions available again"); got != 1 {
		t.Errorf(`"sessions available again" logged: got %d times, want 1`, got)
	}
}

// TestCallsInFlightBounded: calls given up on keep running until the
// connection's own timeouts end them. Past a bound (four per connection),
// new calls are refused at once instead of piling up behind them.
func TestCallsInFlightBounded(t *testing.T) {
	const budget = 50 * time.Millisecond
	r := newSilentRedis(t)
	// A quiet period of a nanosecond: every call tries Redis.
	s := open(t, r.URL(), session.Options{MaxConns: 1, Budget: budget, Quiet: time.Nanosecond}, discard)
	for i := range 4 {
		start := time.Now()
		if _, _, err := s.Store.Find("token"); !errors.Is(err, session.ErrUnavailable) {
			t.Fatalf("Find %d: got %v, want ErrUnavailable", i, err)
		}
		if d := time.Since(start); d < budget {
			t.Fatalf("Find %d returned after %v, before its budget: it did not wait on Redis", i, d)
		}
	}
	// Four calls hang on the silent Redis: the fifth is refused at once.
	start := time.Now()
	_, _, err := s.Store.Find("token")
	if !errors.Is(err, session.ErrUnavailable) || !strings.Contains(err.Error(), "already waiting") {
		t.Fatalf("Find with four calls hanging: got %v, want ErrUnavailable for calls already waiting", err)
	}
	if d := time.Since(start); d >= budget {
		t.Errorf("refused call took %v, want it at once", d)
	}
}
