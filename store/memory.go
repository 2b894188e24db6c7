package store

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/xkcdapp/xkcdapp/xkcd"
)

// Memory is the in-process twin of Postgres, used when no database is
// configured. Everything in it is lost when the process ends.
type Memory struct {
	mu       sync.Mutex
	comics   map[int]xkcd.Comic
	views    map[int]int64
	audit    []AuditEntry
	minutes  map[int64]int64 // views per minute (Unix minutes), the last hour's
	watchers map[string]watcherRow
	// listeners hear of every change; see Listen.
	listeners map[chan struct{}]struct{}
	now       func() time.Time
}

// NewMemory returns an empty store.
func NewMemory() *Memory {
	return &Memory{
		comics:    make(map[int]xkcd.Comic),
		views:     make(map[int]int64),
		minutes:   make(map[int64]int64),
		watchers:  make(map[string]watcherRow),
		listeners: make(map[chan struct{}]struct{}),
		now:       time.Now,
	}
}

// Comics returns every cached comic, in number order.
func (m *Memory) Comics(context.Context) ([]xkcd.Comic, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Collect(maps.Values(m.comics))
	slices.SortFunc(out, func(a, b xkcd.Comic) int { return cmp.Compare(a.Num, b.Num) })
	return out, nil
}

// PutComic caches a comic, replacing any earlier copy.
func (m *Memory) PutComic(_ context.Context, c xkcd.Comic) error {
	m.mu.Lock()
	m.comics[c.Num] = c
	m.mu.Unlock()
	return nil
}

// AddViews adds each delta to its comic's count and to the current
// minute, tells every listener, and returns the new counts.
func (m *Memory) AddViews(_ context.Context, deltas []Count) ([]Count, error) {
	deltas = normalize(deltas)
	if len(deltas) == 0 {
		return nil, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var total int64
	for i, d := range deltas {
		m.views[d.Num] += d.Views
		deltas[i].Views = m.views[d.Num]
		total += d.Views
	}
	minute := m.now().Unix() / 60
	m.minutes[minute] += total
	for t := range m.minutes {
		if t < minute-SparklineMinutes {
			delete(m.minutes, t)
		}
	}
	m.announce()
	return deltas, nil
}

// Views returns one comic's count, 0 for a comic never viewed.
func (m *Memory) Views(_ context.Context, num int) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.views[num], nil
}

// TopComics returns up to limit (at most MaxTop) viewed comics, most viewed first and ties
// broken by the lower number.
func (m *Memory) TopComics(_ context.Context, limit int) ([]Count, error) {
	m.mu.Lock()
	top := make([]Count, 0, len(m.views))
	for num, v := range m.views {
		if v > 0 {
			top = append(top, Count{num, v})
		}
	}
	m.mu.Unlock()
	slices.SortFunc(top, func(a, b Count) int {
		return cmp.Or(cmp.Compare(b.Views, a.Views), cmp.Compare(a.Num, b.Num))
	})
	return top[:min(len(top), max(limit, 0), MaxTop)], nil
}

// Ping always succeeds: memory is always there.
func (m *Memory) Ping(context.Context) error { return nil }

// Close does nothing; it completes the contract.
func (m *Memory) Close() {}
