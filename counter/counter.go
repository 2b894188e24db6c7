// Package counter counts comic views with group commit: concurrent Record
// calls join one batch, written in one round trip.
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

// Counter batches views. A visitor waits for the commit of their view, but
// never longer than the counter's wait: views that cannot be written in
// time (the database is slow or down) are held in memory, one integer per
// comic, and written when it is back.
type Counter struct {
	store    Store
	log      *slog.Logger
	wait     time.Duration // longest a Record waits for its commit
	timeout  time.Duration // bound on one batch write
	writers  int           // batches in flight at once
	maxBatch int

	requests chan request
	done     chan struct{} // closed when every writer has stopped
	stop     chan struct{} // closed by Close
	stopOnce sync.Once
	closing  sync.RWMutex // held for writing while Close marks closed
	closed   bool
	// writeCtx is the parent of every write; Close cancels it when its own
	// time is up, so that no write outlives the shutdown.
	writeCtx    context.Context
	abortWrites context.CancelFunc

	mu       sync.Mutex
	held     map[int]int64 // views no write has taken yet
	inFlight map[int]int64 // views in writes not yet committed
	known    map[int]int64 // highest count committed by this process
	promised map[int]int64 // highest estimate handed out, see ticket
	// forgotten is when each comic's count was last set elsewhere, in
	// flushes begun: a write begun before that reports a stale count.
	forgotten map[int]uint64
	flushes   uint64 // flushes begun
	failing   bool
	backoff   time.Duration // doubles with each failed write, up to maxBackoff
	nextTry   time.Time     // while failing, no write before this
}

type request struct {
	num    int
	queued time.Time
	reply  chan int64
	// ticket is the count this view is told if it must be answered before
	// its commit: 0 when the comic's count is unknown here.
	ticket int64
}

// Option changes a Counter's defaults.
type Option func(*Counter)

// WithWait bounds how long Record waits for its batch to commit before it
// answers with an estimate and leaves the view to be written later.
func WithWait(d time.Duration) Option { return func(c *Counter) { c.wait = d } }

// WithWriteTimeout bounds each batch write. It is longer than the wait, so
// that a slow commit finishes rather than being cut off after the database
// may already have committed it (which would count its views twice).
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
		wait:     time.Second,
		timeout:  10 * time.Second,
		writers:  1,
		maxBatch: 1024,
		requests: make(chan request, 4096),
		done:     make(chan struct{}),
		stop:     make(chan struct{}),
		held:     make(map[int]int64),
		inFlight: make(map[int]int64),
		known:    make(map[int]int64),
		promised: make(map[int]int64),
	}
	c.forgotten = make(map[int]uint64)
	c.writeCtx, c.abortWrites = context.WithCancel(context.Background())
	for _, opt := range opts {
		opt(c)
	}
	c.wait = min(c.wait, c.timeout)
	go c.dispatch()
	return c
}

// Record counts one view of comic num and returns its count once the batch
// holding it has committed. When that takes longer than the counter's wait,
// or the database is down, the view is held and Record returns an estimate:
// the next count after the last one committed or estimated here, or 0 when
// this process has not seen the comic's count yet.
func (c *Counter) Record(ctx context.Context, num int) (int64, error) {
	req := request{num: num, queued: time.Now(), reply: make(chan int64, 1)}
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

// Forget drops what the counter knows of comic num's count, after it was
// set in the store (the admin console). Until a write begun after this
// commits, views answered early get no estimate (0) rather than one made
// from the old count; views held meanwhile are added to the count set.
func (c *Counter) Forget(num int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.known, num)
	delete(c.promised, num)
	c.forgotten[num] = c.flushes
}

// Held reports how many views are not yet committed: held in memory for
// the database, or in a write that has not committed yet.
func (c *Counter) Held() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, v := range c.held {
		n += v
	}
	for _, v := range c.inFlight {
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

// lost reports the views Close could not write before ctx ended, and
// stops the writes still going.
func (c *Counter) lost(ctx context.Context) error {
	c.abortWrites()
	c.log.Error("views lost at shutdown: the store did not take them in time",
		"views", c.Held(), "queued", len(c.requests))
	return errors.Join(ctx.Err(), errors.New("counter: views not written"))
}

// dispatch gathers requests into batches: it waits for a view and a free
// writer, then takes every view that queued up meanwhile as one batch.
// A batch that finds no free writer within the wait is held, and while the
// store is failing every batch is held at once and only held views are
// retried, in the background: pages never wait on a database that is down.
func (c *Counter) dispatch() {
	slots := make(chan struct{}, c.writers)
	var writes sync.WaitGroup
	defer func() {
		writes.Wait()
		close(c.done)
	}()
	write := func(batch []request) {
		writes.Go(func() {
			defer func() { <-slots }()
			ctx, cancel := context.WithTimeout(c.writeCtx, c.timeout)
			defer cancel()
			c.flush(ctx, batch)
		})
	}
	retry := time.NewTicker(time.Second)
	defer retry.Stop()
	stuck := false
	for {
		var batch []request
		select {
		case req := <-c.requests:
			batch = append(make([]request, 0, 64), req)
		case <-retry.C:
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

		failing, due := c.state()
		if failing || len(batch) == 0 {
			// Held views are retried in the background, even when no new
			// view comes along; a new batch waits for none of it.
			c.hold(batch)
			if due && c.holding() {
				select {
				case slots <- struct{}{}:
					write(nil)
				default:
				}
			}
			continue
		}

		// Wait for a writer, but once one batch has waited the whole wait in
		// vain, the writers are stuck on a slow commit: hold at once until
		// one is free again.
		if stuck = !c.acquire(slots, stuck, batch[0].queued); stuck {
			c.hold(c.drain(batch))
			continue
		}
		write(c.drain(batch))
	}
}

// acquire takes a writer slot, waiting for one until the wait of a view
// queued at queued runs out, or not at all when the writers were stuck
// last time.
func (c *Counter) acquire(slots chan struct{}, stuck bool, queued time.Time) bool {
	select {
	case slots <- struct{}{}:
		return true
	default:
		if stuck {
			return false
		}
	}
	t := time.NewTimer(c.wait - time.Since(queued))
	defer t.Stop()
	select {
	case slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	}
}

// drain adds to batch whatever requests are queued, up to maxBatch.
func (c *Counter) drain(batch []request) []request {
	for len(batch) < c.maxBatch {
		select {
		case req := <-c.requests:
			batch = append(batch, req)
		default:
			return batch
		}
	}
	return batch
}

// state reports whether the store is failing, and whether a write may be
// tried: always, unless a failure's backoff has not run out.
func (c *Counter) state() (failing, due bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failing, !c.failing || !time.Now().Before(c.nextTry)
}

// holding reports whether views wait in memory for a write to take them.
func (c *Counter) holding() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.held) > 0
}

// hold keeps batch in memory without writing and answers its callers.
func (c *Counter) hold(batch []request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.take(batch)
	answerEarly(batch)
}

// answerEarly replies to every caller in batch before its commit, with
// their tickets.
func answerEarly(batch []request) {
	for _, req := range batch {
		req.reply <- req.ticket
	}
}

// take adds batch's views to the held ones and gives each its ticket: the
// next count after the highest committed or promised, in arrival order,
// so that visitors answered early are never told the same count twice.
// c.mu must be held.
func (c *Counter) take(batch []request) {
	for i, req := range batch {
		c.held[req.num]++
		known, ok := c.known[req.num]
		if !ok {
			continue
		}
		batch[i].ticket = max(known, c.promised[req.num]) + 1
		c.promised[req.num] = batch[i].ticket
	}
}

// backoff bounds the wait between writes while the store is failing.
const (
	firstBackoff = time.Second
	maxBackoff   = 30 * time.Second
)

// flush writes batch plus everything held and reports whether the write
// committed. The batch's callers get their committed counts, or estimates
// once the wait runs out while the write goes on. The held views a flush
// takes are its own until it commits or gives them back, so concurrent
// writers never write the same view twice.
func (c *Counter) flush(ctx context.Context, batch []request) bool {
	c.mu.Lock()
	c.flushes++
	begun := c.flushes
	c.take(batch)
	deltas := make([]store.Count, 0, len(c.held))
	for num, v := range c.held {
		deltas = append(deltas, store.Count{Num: num, Views: v})
		c.inFlight[num] += v
	}
	clear(c.held)
	c.mu.Unlock()
	if len(deltas) == 0 {
		return true
	}

	// The oldest caller has waited since it was queued; the wait is theirs.
	wait := c.wait
	if len(batch) > 0 {
		wait -= time.Since(batch[0].queued)
	}
	answered := false // guarded by c.mu
	slow := time.AfterFunc(max(wait, 0), func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if !answered {
			answered = true
			answerEarly(batch)
		}
	})
	counts, err := c.store.AddViews(ctx, deltas)
	slow.Stop()

	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range deltas {
		if c.inFlight[d.Num] -= d.Views; c.inFlight[d.Num] == 0 {
			delete(c.inFlight, d.Num)
		}
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
		if !answered {
			answered = true
			answerEarly(batch)
		}
		return false
	}
	if c.failing {
		c.log.Info("held views written: the store is back", "comics", len(deltas))
		c.failing = false
	}
	committed := make(map[int]int64, len(counts))
	for _, cnt := range counts {
		committed[cnt.Num] = cnt.Views
		if c.forgotten[cnt.Num] >= begun {
			continue // begun before the count was set: stale
		}
		if known, ok := c.known[cnt.Num]; ok && cnt.Views < known {
			// Counts only grow, unless an operator set one lower (maybe on
			// another instance): believe the database. With several
			// writers, commits reported out of order may lower the
			// estimate by a batch until the next commit.
			c.known[cnt.Num], c.promised[cnt.Num] = cnt.Views, cnt.Views
			continue
		}
		c.known[cnt.Num] = cnt.Views
		c.promised[cnt.Num] = max(c.promised[cnt.Num], cnt.Views)
	}
	if !answered {
		answered = true
		c.answer(batch, committed)
	}
	return true
}

// answer replies to every caller in batch with the counts its commit
// returned. Callers in one batch share a commit; each gets the count it
// would have seen had they been written one after another. c.mu must be
// held.
func (c *Counter) answer(batch []request, committed map[int]int64) {
	later := make(map[int]int64, len(batch))
	for i := len(batch) - 1; i >= 0; i-- {
		num := batch[i].num
		batch[i].reply <- max(committed[num]-later[num], 1)
		later[num]++
	}
}
