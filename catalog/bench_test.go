package catalog_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/xkcdapp/xkcdapp/catalog"
	"github.com/xkcdapp/xkcdapp/store"
	"github.com/xkcdapp/xkcdapp/xkcd"
	"github.com/xkcdapp/xkcdapp/xkcd/xkcdtest"
)

// BenchmarkRandom is the hot path of every page: a pick from a warm
// catalog of 3,000 comics, from all cores at once.
func BenchmarkRandom(b *testing.B) {
	up := xkcdtest.NewServer(3000)
	defer up.Stop()
	cat := catalog.New(xkcd.NewClient(up.URL), store.NewMemory(), slog.New(slog.NewTextHandler(io.Discard, nil)), catalog.WithConcurrency(16))
	if err := cat.Backfill(context.Background(), nil); err != nil {
		b.Fatal(err)
	}
	calls := up.Calls()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := cat.Random(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if got := up.Calls() - calls; got != 0 {
		b.Errorf("upstream calls during warm picks = %d, want 0", got)
	}
}
