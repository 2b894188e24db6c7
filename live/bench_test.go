package live_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/xkcdapp/xkcdapp/catalog"
	"github.com/xkcdapp/xkcdapp/live"
	"github.com/xkcdapp/xkcdapp/store"
	"github.com/xkcdapp/xkcdapp/xkcd"
)

// BenchmarkFanOut is one change reaching every stream in process: the
// hub's read of the stats, the renders, and the hand-off to 10,000
// streams (half on the leaderboard, half on 100 comics), each drained by
// its own goroutine as the HTTP handler does. Network writes are not in it.
func BenchmarkFanOut(b *testing.B) {
	const streams, comics = 10000, 100
	mem := store.NewMemory()
	h := live.New(mem, benchCatalog{}, quiet, live.WithInterval(0), live.WithMaxStreams(streams))
	ctx, cancel := context.WithCancel(context.Background())
	var running sync.WaitGroup
	running.Go(func() { mem.Listen(ctx, quiet, h.Changed) })
	running.Go(func() { h.Run(ctx) })
	defer func() {
		cancel()
		running.Wait()
	}()

	counter := &countingClient{streams: streams, round: make(chan struct{}, 1)}
	for i := range streams {
		topic := live.Topic{Top: 10}
		if i%2 == 1 {
			topic = live.Topic{Comic: 1 + i%comics}
		}
		if _, err := h.Subscribe(topic, counter); err != nil {
			b.Fatal(err)
		}
	}
	round := counter.round
	<-round // every stream has its first state
	deltas := make([]store.Count, comics)
	for i := range deltas {
		deltas[i] = store.Count{Num: i + 1, Views: 1}
	}
	b.ResetTimer()
	for b.Loop() {
		// Every comic changes, so every stream gets one event.
		if _, err := mem.AddViews(ctx, deltas); err != nil {
			b.Fatal(err)
		}
		<-round
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/streams, "ns/stream")
}

// benchCatalog is a catalog of 3,000 comics with titles, without an
// upstream: the fan-out is what is measured.
type benchCatalog struct{}

func (benchCatalog) Cached(n int) (*xkcd.Comic, bool) {
	return &xkcd.Comic{Num: n, Title: "Comic " + strconv.Itoa(n)}, true
}

func (benchCatalog) Status() catalog.Status {
	return catalog.Status{Cached: 3000, Latest: 3000, Complete: true}
}

// countingClient takes every event, and signals each time every stream
// has had one more. Comments (the first write to a stream) do not count.
type countingClient struct {
	streams   int64
	delivered atomic.Int64
	round     chan struct{}
}

func (c *countingClient) WriteEvent(frame []byte) error {
	if frame[0] == ':' {
		return nil
	}
	if c.delivered.Add(1)%c.streams == 0 {
		c.round <- struct{}{}
	}
	return nil
}
