package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
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
