package catalog_test

import (
	"testing"

	"github.com/xkcdapp/xkcdapp/store"
)

// BenchmarkRandom is the hot path of every page: a pick from a warm
// catalog of 3,000 comics, from all cores at once.
func BenchmarkRandom(b *testing.B) {
	up := newUpstream(b, 3000)
	cat := newCatalog(b, up, store.NewMemory())
	if err := cat.Backfill(b.Context(), nil); err != nil {
		b.Fatal(err)
	}
	calls := up.Calls()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := cat.Random(b.Context(), nil); err != nil {
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
