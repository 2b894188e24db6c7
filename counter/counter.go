// Package counter counts comic views with group commit: concurrent Record
// calls join one batch, written in one round trip by one of a few writers.
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
	writers  int           // batches in flight at once
	maxBatch int

	requests chan request
	done     chan struct{} // closed when every writer has stopped
	stop     chan struct{} // closed by Close
	stopOnce sync.Once
	closing  sync.RWMutex // held for writing while Close marks closed
	closed   bool

	mu       sync.Mutex
	held     map[int]int64 // views no write has taken yet
	inFlight int64         // views in writes not yet committed
	known    map[int]int64 // highest count committed, to answer while holding
	failing  bool
	backoff  time.Duration // doubles with each failed write, up to maxBackoff
	nextTry  time.Time     // while failing, no write before this
}

type request struct {
	num   int
	reply chan int64
}

// Option changes a Counter's defaults.
type Option func(*Counter)

// WithWriteTimeout bounds each batch write; a caller waits at most that long.
func WithWriteTimeout(d time.Duration) Option { return func(c *Counter) { c.timeout = d } }

// WithWriters sets how many batches may be in flight at once. One (the
// default) makes the fewest, largest commits, which served the most pages
// on a busy two-core host (bench/load.sh); more cut the wait of a view that
// arrives mid-commit when the database is far away. Each busy writer holds
// a database connection.
func WithWriters(n int) Option { return func(c *Counter) { c.writers = max(n, 1) } }

// New starts a counter writing to s. Call Close to flush and stop it.
func New(s Store, log *slog.Logger, opts ...Option) *Counter {
	c := &Counter{
		store:    s,
		log:      log,
		timeout:  2 * time.Second,
		writers:  1,
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
	go c.dispatch()
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
		// The view is still counted: it is in a batch already.
		return 0, ctx.Err()
	}
}

// enqueue hands req to the dispatcher. Sends happen under the read lock
// that Close takes for writing before it stops the dispatcher, so every
// request sent is one the dispatcher drains and answers.
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

// Held reports how many views are not yet committed: held in memory for
// the database, or in a write that has not committed yet.
func (c *Counter) Held() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.inFlight
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

// dispatch gathers requests into batches: it waits for a view and a free
// writer, then takes every view that queued up meanwhile as one batch.
// While the store is failing, batches are held without a write until the
// next retry is due, so pages never wait on a database that is down.
func (c *Counter) dispatch() {
	slots := make(chan struct{}, c.writers)
	var writes sync.WaitGroup
	defer func() {
		writes.Wait()
		close(c.done)
	}()
	retry := time.NewTicker(time.Second)
	defer retry.Stop()
	for {
		var batch []request
		select {
		case req := <-c.requests:
			batch = append(make([]request, 0, 64), req)
		case <-retry.C:
			// Held views are written even when no new view comes along.
			if c.Held() == 0 || !c.due() {
				continue
			}
		case <-c.stop:
			// Answer whoever queued before the stop; Close flushes the rest.
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
		slots <- struct{}{}
	drain:
		for len(batch) < c.maxBatch {
			select {
			case req := <-c.requests:
				batch = append(batch, req)
			default:
				break drain
			}
		}
		if !c.due() {
			c.hold(batch)
			<-slots
			continue
		}
		writes.Go(func() {
			defer func() { <-slots }()
			ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
			defer cancel()
			c.flush(ctx, batch)
		})
	}
}

// due reports whether a write may be tried: always, unless the store failed
// lately and its backoff has not run out.
func (c *Counter) due() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.failing || !time.Now().Before(c.nextTry)
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

// backoff bounds the wait between writes while the store is failing.
const (
	firstBackoff = time.Second
	maxBackoff   = 30 * time.Second
)

// flush writes batch plus everything held, answers the batch's callers,
// and reports whether the write committed. The held views it takes are its
// own until it commits or gives them back, so concurrent writers never
// write the same view twice.
func (c *Counter) flush(ctx context.Context, batch []request) bool {
	c.mu.Lock()
	for _, req := range batch {
		c.held[req.num]++
	}
	deltas := make([]store.Count, 0, len(c.held))
	for num, v := range c.held {
		deltas = append(deltas, store.Count{Num: num, Views: v})
		c.inFlight += v
	}
	clear(c.held)
	c.mu.Unlock()
	if len(deltas) == 0 {
		return true
	}

	counts, err := c.store.AddViews(ctx, deltas)

	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range deltas {
		c.inFlight -= d.Views
	}
	if err != nil {
		for _, d := range deltas {
			c.held[d.Num] += d.Views
		}
		if c.failing {
			c.backoff = min(2*c.backoff, maxBackoff)
		} else {
			c.log.Error("views held in memory: cannot write to the store", "err", err)
			c.backoff = firstBackoff
		}
		c.failing, c.nextTry = true, time.Now().Add(c.backoff)
		c.answer(batch, func(num int) int64 { return c.known[num] + c.held[num] })
		return false
	}
	if c.failing {
		c.log.Info("held views written: the store is back", "comics", len(deltas))
		c.failing = false
	}
	for _, cnt := range counts {
		// Concurrent commits may report out of order; counts only grow.
		c.known[cnt.Num] = max(c.known[cnt.Num], cnt.Views)
	}
	byNum := make(map[int]int64, len(counts))
	for _, cnt := range counts {
		byNum[cnt.Num] = cnt.Views
	}
	c.answer(batch, func(num int) int64 { return byNum[num] })
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
