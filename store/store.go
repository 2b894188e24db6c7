// Package store keeps comics and their view counts: in Postgres for real,
// and in memory for the embedded default. Both pass one contract suite.
package store

import (
	"cmp"
	"slices"
)

// Count is a comic's number of views.
type Count struct {
	Num   int
	Views int64
}

// MaxTop bounds how many comics a leaderboard may ask for.
const MaxTop = 100

// normalize merges duplicate comics and sorts by number, so that concurrent
// writers lock rows in the same order and never deadlock.
func normalize(deltas []Count) []Count {
	out := slices.Clone(deltas)
	slices.SortFunc(out, func(a, b Count) int { return cmp.Compare(a.Num, b.Num) })
	merged := out[:0]
	for _, d := range out {
		if d.Views <= 0 || d.Num < 1 {
			continue // one bad entry must not fail the whole batch
		}
		if n := len(merged); n > 0 && merged[n-1].Num == d.Num {
			merged[n-1].Views += d.Views
			continue
		}
		merged = append(merged, d)
	}
	return merged
}
