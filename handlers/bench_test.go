package handlers_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/alexedwards/scs/v2"

	"github.com/xkcdapp/xkcdapp/catalog"
	"github.com/xkcdapp/xkcdapp/counter"
	"github.com/xkcdapp/xkcdapp/handlers"
	"github.com/xkcdapp/xkcdapp/store"
	"github.com/xkcdapp/xkcdapp/xkcd"
	"github.com/xkcdapp/xkcdapp/xkcd/xkcdtest"
)

// BenchmarkPages runs whole requests through the real router and
// middleware, in process, on the in-memory store: the app's own cost per
// page, without the network or Postgres.
func BenchmarkPages(b *testing.B) {
	up := xkcdtest.NewServer(3000)
	defer up.Stop()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	mem := store.NewMemory()
	cat := catalog.New(xkcd.NewClient(up.URL), mem, log, catalog.WithConcurrency(16))
	if err := cat.Backfill(context.Background(), nil); err != nil {
		b.Fatal(err)
	}
	views := counter.New(mem, log)
	defer views.Close(context.Background())
	h := handlers.New(handlers.Deps{
		Catalog: cat, Counter: views, Rankings: mem, Sessions: scs.New(), Log: log,
		DatabaseKind: "memory", SessionKind: "memory",
	})
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
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Errorf("GET %s: status %d, want 200", tt.path, rec.Code)
						return
					}
				}
			})
		})
	}
}
