package handlers_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/xkcdapp/xkcdapp/session"
	"github.com/xkcdapp/xkcdapp/session/sessiontest"
)

// BenchmarkPages runs whole requests through the real router and
// middleware, in process, on the in-memory store: the app's own cost per
// page, without the network or Postgres.
func BenchmarkPages(b *testing.B) {
	a := newWarmApp(b, 3000)
	for _, tt := range []struct {
		name, path string
		htmx       bool
	}{
		{"home", "/", false},
		{"random-htmx", "/random", true},
		{"permalink", "/comic/1234", false},
		{"leaderboard", "/leaderboard?n=100", false},
	} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest(http.MethodGet, tt.path, nil)
					if tt.htmx {
						req.Header.Set("HX-Request", "true")
					}
					rec := httptest.NewRecorder()
					a.h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Errorf("GET %s: status %d, want 200", tt.path, rec.Code)
						return
					}
				}
			})
		})
	}
}

// BenchmarkSessions is a returning visitor's "Another one" (htmx /random
// with a session cookie) with sessions in memory and in Redis (the local
// server, or TEST_REDIS_URL): what a session costs per page, in process.
func BenchmarkSessions(b *testing.B) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, kind := range []string{"memory", "redis"} {
		b.Run(kind, func(b *testing.B) {
			url := ""
			if kind == "redis" {
				url = sessiontest.URL(b)
			}
			sessions, err := session.Open(url, session.Options{}, log)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { sessions.Close() })
			a := newAppWithSessions(b, 3000, sessions)
			a.warm(b)

			// A visitor who has read a while: a full history.
			var cookie string
			for n := 1; n <= 400; n++ {
				req := httptest.NewRequest(http.MethodGet, "/comic/"+strconv.Itoa(n), nil)
				if cookie != "" {
					req.Header.Set("Cookie", cookie)
				}
				rec := httptest.NewRecorder()
				a.h.ServeHTTP(rec, req)
				if c := rec.Result().Cookies(); len(c) > 0 {
					cookie = c[0].Name + "=" + c[0].Value
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			// Many requests in flight, as on a server: Redis's round trips
			// overlap instead of adding up.
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest(http.MethodGet, "/random", nil)
					req.Header.Set("HX-Request", "true")
					req.Header.Set("Cookie", cookie)
					rec := httptest.NewRecorder()
					a.h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "history-unavailable") {
						b.Errorf("GET /random: status %d or history unavailable", rec.Code)
						return
					}
				}
			})
		})
	}
}
