// Package sessiontest gives tests Redis: the shared local server, or a
// server of their own that they can stop and start again.
package sessiontest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
)

// DefaultURL is the local server the tests use when TEST_REDIS_URL is unset.
const DefaultURL = "redis://127.0.0.1:6379/0"

// URL is the shared Redis server's URL. Sessions have random tokens, so
// tests share it safely. Without a reachable server the test is skipped,
// loudly, or fails when CI is set.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TEST_REDIS_URL")
	if u == "" {
		u = DefaultURL
	}
	if err := ping(u); err != nil {
		unavailable(t, "Redis at "+u+": "+err.Error())
	}
	return u
}

func ping(u string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := redis.DialURLContext(ctx, u)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = redis.DoContext(c, ctx, "PING")
	return err
}

func unavailable(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s unavailable (CI is set, so this fails)", what)
	}
	t.Skipf("SKIPPED: %s unavailable; start it to run this test", what)
}

// Server is a redis-server owned by one test, on a port of its own, that
// keeps nothing on disk.
type Server struct {
	URL  string
	t    testing.TB
	port int

	mu  sync.Mutex
	cmd *exec.Cmd
}

// NewServer starts a redis-server for t, stopped when t ends. Without the
// redis-server binary the test is skipped, loudly, or fails when CI is set.
func NewServer(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		unavailable(t, "redis-server binary")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &Server{URL: fmt.Sprintf("redis://127.0.0.1:%d/0", port), t: t, port: port}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start starts the server (again) and waits until it answers.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	cmd := exec.Command("redis-server",
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.t.TempDir(),
	)
	dieWithTest(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	go func() { // drain its log so it never blocks on a full pipe
		sc := bufio.NewScanner(out)
		for sc.Scan() {
		}
	}()
	s.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for ping(s.URL) != nil {
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on port %d did not answer within 10s", s.port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server, as an outage would.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}
