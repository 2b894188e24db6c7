package session

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/xkcdapp/xkcdapp/session/sessiontest"
)

// TestRestartWithPooledConnections: after Redis restarts, every pooled
// connection is dead. One request fails and starts a quiet period; the
// next finds the dead connections out before use, instead of each failing
// a request of its own and starting another quiet period.
func TestRestartWithPooledConnections(t *testing.T) {
	const budget, quiet = 200 * time.Millisecond, 300 * time.Millisecond
	srv := sessiontest.NewServer(t)
	s, err := Open(srv.URL, Options{Budget: budget, Quiet: quiet}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	// Eight connections in the pool, idle.
	var conns []redis.Conn
	for range 8 {
		c := s.pool.Get()
		if _, err := c.Do("PING"); err != nil {
			t.Fatalf("PING: %v", err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.Close()
	}
	if got := s.pool.Stats().IdleCount; got != 8 {
		t.Fatalf("idle connections: got %d, want 8", got)
	}

	srv.Stop()
	srv.Start()

	start := time.Now()
	failures := 0
	for {
		_, _, err := s.Store.Find("no-such-token")
		if err == nil {
			break
		}
		failures++
		if time.Since(start) > 10*quiet {
			t.Fatalf("sessions still unavailable %v after Redis restarted (%d failures): %v", time.Since(start), failures, err)
		}
		time.Sleep(quiet / 10)
	}
	if failures > 0 && time.Since(start) > 3*quiet {
		t.Errorf("recovery after a restart took %v, want about one quiet period (%v)", time.Since(start), quiet)
	}
	t.Logf("recovered after %v and %d refused calls", time.Since(start), failures)
}
