// Package counter counts comic views with group commit: concurrent Record
// calls join one batch, written by a single writer in one round trip.
package counter

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/xkcdapp/xkcdapp/store"
)

// Store is where counts are kept; store.Postgres and store.Memory are both.
type Store interface {
	AddViews(ctx context.Context, deltas []store.Count) ([]store.Count, error)
}

// ErrClosed is returned by Record after Close.
var ErrClosed = errors.New("counter: closed")

// Counter batches views. Views that cannot be written (the database is down)
// are held in memory, one integer per comic, and written when it is back.
type Counter struct {
	store    Store
	log      *slog.Logger
	timeout  time.Duration // bound on one batch write
	maxBatch int

	requests chan request
	done     chan struct{} // closed when the writer has stopped
	stop     chan struct{} // closed by Close
	stopOnce sync.Once
	closing  sync.RWMutex // held for writing while Close marks closed
	closed   bool

	mu      sync.Mutex
	held    map[int]int64 // views not yet written
	known   map[int]int64 // last count committed, to answer while holding
	failing bool
}

type request struct {
	num   int
	reply chan int64
}

// Option changes a Counter's defaults.
type Option func(*Counter)

// WithWriteTimeout bounds each batch write; a caller waits at most that long.
func WithWriteTimeout(d time.Duration) Option { return func(c *Counter) { c.timeout = d } }

// New starts a counter writing to s. Call Close to flush and stop it.
func New(s Store, log *slog.Logger, opts ...Option) *Counter {
	c := &Counter{
		store:    s,
		log:      log,
		timeout:  2 * time.Second,
		maxBatch: 1024,
		requests: make(chan request, 4096),
		done:     make(chan struct{}),
		stop:     make(chan struct{}),
		held:     make(map[int]int64),
		known:    make(map[int]int64),
	}
	for _, opt := range opts {
		opt(c)
	}
	go c.write()
	return c
}

// Record counts one view of comic num and returns its count once the batch
// holding it has committed. While the database is unreachable the view is
// held and the count returned is the last committed one plus what is held.
func (c *Counter) Record(ctx context.Context, num int) (int64, error) {
	req := request{num: num, reply: make(chan int64, 1)}
	if err := c.enqueue(ctx, req); err != nil {
		return 0, err
	}
	select {
	case n := <-req.reply:
		return n, nil
	case <-ctx.Done():
		// The view is still counted: it is in the batch already.
		return 0, ctx.Err()
	}
}

// enqueue hands req to the writer. Sends happen under the read lock that
// Close takes for writing before it stops the writer, so every request
// sent is one the writer drains and answers.
func (c *Counter) enqueue(ctx context.Context, req request) error {
	c.closing.RLock()
	defer c.closing.RUnlock()
	if c.closed {
		return ErrClosed
	}
	select {
	case c.requests <- req:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Held reports how many views wait in memory for the database.
func (c *Counter) Held() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, v := range c.held {
		n += v
	}
	return n
}

// Close stops taking views, writes every pending and held view, and returns
// when done or when ctx ends; views still held then are reported lost.
func (c *Counter) Close(ctx context.Context) error {
	c.stopOnce.Do(func() {
		c.closing.Lock()
		c.closed = true
		c.closing.Unlock()
		close(c.stop)
	})
	select {
	case <-c.done:
	case <-ctx.Done():
		return c.lost(ctx)
	}
	for {
		if c.flush(ctx, nil) {
			return nil
		}
		select {
		case <-ctx.Done():
			return c.lost(ctx)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// lost reports the views Close could not write before ctx ended.
func (c *Counter) lost(ctx context.Context) error {
	c.log.Error("views lost at shutdown: the store did not take them in time", "views", c.Held())
	return errors.Join(ctx.Err(), errors.New("counter: views not written"))
}

// write is the single writer: it takes whatever requests have queued up
// while the previous batch was in flight and writes them as one batch.
// While the store is failing, batches are held without a write until the
// next retry is due, so pages never wait on a database that is down.
func (c *Counter) write() {
	defer close(c.done)
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	backoff := time.Second
	var nextTry time.Time
	batch := make([]request, 0, c.maxBatch)
	for {
		batch = batch[:0]
		select {
		case req := <-c.requests:
			batch = append(batch, req)
		case <-retry.C:
		case <-c.stop:
			// Answer whoever queued before the stop, then let Close flush.
			for {
				select {
				case req := <-c.requests:
					batch = append(batch, req)
				default:
					c.hold(batch)
					return
				}
			}
		}
	drain:
		for len(batch) < c.maxBatch {
			select {
			case req := <-c.requests:
				batch = append(batch, req)
			default:
				break drain
			}
		}
		if time.Now().Before(nextTry) {
			c.hold(batch)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		ok := c.flush(ctx, batch)
		cancel()
		if ok {
			backoff, nextTry = time.Second, time.Time{}
			retry.Stop()
			continue
		}
		nextTry = time.Now().Add(backoff)
		retry.Reset(backoff)
		backoff = min(2*backoff, 30*time.Second)
	}
}

// hold keeps batch in memory without writing and answers its callers.
func (c *Counter) hold(batch []request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, req := range batch {
		c.held[req.num]++
	}
	c.answer(batch, func(num int) int64 { return c.known[num] + c.held[num] })
}

// flush writes batch plus everything held, answers the batch's callers, and
// reports whether the write committed.
func (c *Counter) flush(ctx context.Context, batch []request) bool {
	c.mu.Lock()
	for _, req := range batch {
		c.held[req.num]++
	}
	deltas := make([]store.Count, 0, len(c.held))
	for num, v := range c.held {
		deltas = append(deltas, store.Count{Num: num, Views: v})
	}
	c.mu.Unlock()
	if len(deltas) == 0 {
		return true
	}

	counts, err := c.store.AddViews(ctx, deltas)

	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if !c.failing {
			c.log.Error("views held in memory: cannot write to the store", "err", err)
			c.failing = true
		}
		c.answer(batch, func(num int) int64 { return c.known[num] + c.held[num] })
		return false
	}
	if c.failing {
		c.log.Info("held views written: the store is back", "comics", len(deltas))
		c.failing = false
	}
	for _, d := range deltas {
		c.held[d.Num] -= d.Views
		if c.held[d.Num] == 0 {
			delete(c.held, d.Num)
		}
	}
	for _, cnt := range counts {
		c.known[cnt.Num] = cnt.Views
	}
	c.answer(batch, func(num int) int64 { return c.known[num] })
	return true
}

// answer replies to every caller in batch. Callers in one batch share a
// commit; each gets the count it would have seen had they been written one
// after another. c.mu must be held.
func (c *Counter) answer(batch []request, total func(num int) int64) {
	later := make(map[int]int64, len(batch))
	for i := len(batch) - 1; i >= 0; i-- {
		num := batch[i].num
		batch[i].reply <- total(num) - later[num]
		later[num]++
	}
}
