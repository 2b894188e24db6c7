package counter_test

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/xkcdapp/xkcdapp/counter"
	"github.com/xkcdapp/xkcdapp/store"
	"github.com/xkcdapp/xkcdapp/store/storetest"
)

// BenchmarkRecord measures Record under parallel load, on memory and on
// real Postgres, and reports how many views each batch write carried.
func BenchmarkRecord(b *testing.B) {
	ctx := context.Background()
	pg := func(b *testing.B) counter.Store { return storetest.NewPostgres(b, storetest.NewDatabase(b)) }
	for _, tt := range []struct {
		name    string
		store   func(*testing.B) counter.Store
		writers int
	}{
		{"memory", func(*testing.B) counter.Store { return store.NewMemory() }, 1},
		{"postgres/writers=1", pg, 1},
		{"postgres/writers=2", pg, 2},
	} {
		b.Run(tt.name, func(b *testing.B) {
			s := &countingStore{Store: tt.store(b)}
			c := counter.New(s, slog.New(slog.NewTextHandler(io.Discard, nil)), counter.WithWriters(tt.writers))
			b.SetParallelism(32)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Record(ctx, 1+rand.IntN(3000)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			if err := c.Close(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/float64(max(s.writes, 1)), "views/write")
		})
	}
}

// countingStore counts batch writes.
type countingStore struct {
	counter.Store
	mu     sync.Mutex
	writes int
}

func (s *countingStore) AddViews(ctx context.Context, d []store.Count) ([]store.Count, error) {
	s.mu.Lock()
	s.writes++
	s.mu.Unlock()
	return s.Store.AddViews(ctx, d)
}
