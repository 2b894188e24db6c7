package live_test

import (
	"bytes"
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
// hub's read of the stats, the renders, and the writers handing the
// event to 10,000 streams (half on the leaderboard, half on 100 comics).
// The network writes are not in it: bench/live.sh measures those.
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

	// Round r: every comic has r views, r*comics in all; a stream has had
	// its event once it shows that.
	deltas := make([]store.Count, comics)
	for i := range deltas {
		deltas[i] = store.Count{Num: i + 1, Views: 1}
	}
	r := &rounds{done: make(chan struct{}, 1)}
	r.start(1, streams, comics)
	if _, err := mem.AddViews(ctx, deltas); err != nil {
		b.Fatal(err)
	}
	for i := range streams {
		c := &benchClient{r: r, board: i%2 == 0}
		topic := live.Topic{Top: 10}
		if !c.board {
			topic = live.Topic{Comic: 1 + i%comics}
		}
		if _, err := h.Subscribe(topic, c); err != nil {
			b.Fatal(err)
		}
	}
	<-r.done
	round := int64(1)
	b.ResetTimer()
	for b.Loop() {
		round++
		r.start(round, streams, comics)
		if _, err := mem.AddViews(ctx, deltas); err != nil {
			b.Fatal(err)
		}
		<-r.done
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/streams, "ns/stream")
}

type rounds struct {
	round      atomic.Int64
	remaining  atomic.Int64
	comic, sum atomic.Pointer[[]byte]
	done       chan struct{}
}

func (r *rounds) start(round, streams int64, comics int) {
	comic := []byte(`data-views="` + strconv.FormatInt(round, 10) + `"`)
	sum := []byte(`data-views="` + strconv.FormatInt(round*int64(comics), 10) + `"`)
	r.comic.Store(&comic)
	r.sum.Store(&sum)
	r.remaining.Store(streams)
	r.round.Store(round)
}

// benchClient takes every event and notes when it shows the round.
type benchClient struct {
	r     *rounds
	board bool
	seen  atomic.Int64
}

func (c *benchClient) WriteEvent(frame []byte) error {
	round := c.r.round.Load()
	needle := c.r.comic.Load()
	if c.board {
		needle = c.r.sum.Load()
	}
	if bytes.Contains(frame, *needle) && c.seen.Swap(round) != round && c.r.remaining.Add(-1) == 0 {
		c.r.done <- struct{}{}
	}
	return nil
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
