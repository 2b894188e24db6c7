// Package catalog holds every known comic in memory, fills itself from the
// store and the upstream, and picks random comics without any I/O once warm.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"

	"github.com/xkcdapp/xkcdapp/xkcd"
)

// ErrNotFound means the comic does not exist: out of range, 404, or
// unknown to upstream.
var ErrNotFound = errors.New("catalog: no such comic")

// ErrUnavailable means the comic may exist but is neither cached nor
// fetchable right now (the upstream is down).
var ErrUnavailable = errors.New("catalog: comic unavailable")

// Upstream is where comics come from; *xkcd.Client is one.
type Upstream interface {
	Latest(ctx context.Context) (xkcd.Comic, error)
	Comic(ctx context.Context, n int) (xkcd.Comic, error)
}

// Store is where fetched comics are kept across restarts.
type Store interface {
	Comics(ctx context.Context) ([]xkcd.Comic, error)
	PutComic(ctx context.Context, c xkcd.Comic) error
}

// Catalog is safe for concurrent use.
type Catalog struct {
	upstream Upstream
	store    Store
	log      *slog.Logger
	fetches  singleflight.Group
	// fetchTimeout bounds a fetch a visitor waits for.
	fetchTimeout time.Duration
	// concurrency bounds parallel upstream fetches, on demand and in
	// backfills alike: politeness to xkcd.com.
	concurrency   int
	upstreamSlots chan struct{}

	mu       sync.RWMutex
	byNum    map[int]*xkcd.Comic
	nums     []int // cached comic numbers, for uniform random picks
	latest   int   // newest comic number upstream has, 0 when unknown
	missing  map[int]time.Time
	lastSync Sync
	failedAt time.Time       // last failed fetch, for Random to stop waiting on upstream
	loaded   bool            // the store's comics are in memory
	errs     []UpstreamError // the last few, oldest first
	lastRun  SyncRun
	syncing  bool // a sync runs, or SyncNow asked for one
	// kick asks Run for a sync now; one request waits at most.
	kick chan struct{}
}

// UpstreamError is a failed call to upstream, for operators to see.
type UpstreamError struct {
	At  time.Time
	Num int // 0 for the latest comic
	Err string
}

// recentErrors is how many upstream errors the catalog remembers.
const recentErrors = 10

// SyncRun describes Run's last sync: a backfill up to the latest comic.
type SyncRun struct {
	Started  time.Time
	Finished time.Time
	Err      error
}

// ErrSyncRunning is SyncNow's answer while a sync runs or is about to.
var ErrSyncRunning = errors.New("catalog: a sync is already running")

// Sync describes the last time the catalog asked upstream for the latest.
type Sync struct {
	At  time.Time
	Err error
}

// Option changes a Catalog's defaults.
type Option func(*Catalog)

// WithFetchTimeout bounds how long a visitor waits on an upstream fetch.
func WithFetchTimeout(d time.Duration) Option { return func(c *Catalog) { c.fetchTimeout = d } }

// WithConcurrency bounds the upstream calls in flight at once.
func WithConcurrency(n int) Option { return func(c *Catalog) { c.concurrency = max(n, 1) } }

// New returns an empty catalog; call Load to fill it from the store.
func New(upstream Upstream, store Store, log *slog.Logger, opts ...Option) *Catalog {
	c := &Catalog{
		upstream:     upstream,
		store:        store,
		log:          log,
		fetchTimeout: 5 * time.Second,
		concurrency:  4,
		byNum:        make(map[int]*xkcd.Comic),
		missing:      make(map[int]time.Time),
		kick:         make(chan struct{}, 1),
	}
	for _, opt := range opts {
		opt(c)
	}
	c.upstreamSlots = make(chan struct{}, c.concurrency)
	return c
}

// Load reads every stored comic into memory.
func (c *Catalog) Load(ctx context.Context) error {
	comics, err := c.store.Comics(ctx)
	if err != nil {
		return fmt.Errorf("catalog: load: %w", err)
	}
	for i := range comics {
		c.add(&comics[i])
	}
	c.mu.Lock()
	c.loaded = true
	c.mu.Unlock()
	return nil
}

func (c *Catalog) add(comic *xkcd.Comic) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byNum[comic.Num]; !ok {
		c.nums = append(c.nums, comic.Num)
	}
	c.byNum[comic.Num] = comic
	c.latest = max(c.latest, comic.Num)
}

// Status is a snapshot of how complete the catalog is.
type Status struct {
	Cached   int  // comics in memory
	Latest   int  // newest known number, 0 when unknown
	Complete bool // every comic up to Latest is cached
	LastSync Sync
	// LastRun is Run's last sync that finished; Syncing is set while one runs.
	LastRun SyncRun
	Syncing bool
}

// Status reports how complete the catalog is. Comic pages ask for it.
func (c *Catalog) Status() Status {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return Status{
		Cached:   len(c.nums),
		Latest:   c.latest,
		Complete: c.complete(),
		LastSync: c.lastSync,
		LastRun:  c.lastRun,
		Syncing:  c.syncing,
	}
}

// RecentErrors returns the latest failed upstream calls, newest first: a
// copy, made only for operators, not in Status, which every comic page
// asks for.
func (c *Catalog) RecentErrors() []UpstreamError {
	c.mu.RLock()
	defer c.mu.RUnlock()
	errs := slices.Clone(c.errs)
	slices.Reverse(errs)
	return errs
}

// failed remembers an upstream error, and when upstream last failed;
// c.mu is held.
func (c *Catalog) failed(num int, at time.Time, err error) {
	c.failedAt = at
	if len(c.errs) == recentErrors {
		c.errs = slices.Delete(c.errs, 0, 1)
	}
	c.errs = append(c.errs, UpstreamError{At: at, Num: num, Err: err.Error()})
}

// complete reports whether every comic up to latest is cached; c.mu is held.
func (c *Catalog) complete() bool {
	want := c.latest
	if want >= xkcd.Missing {
		want--
	}
	return c.latest > 0 && len(c.nums) >= want
}

// Latest returns the newest comic, fetching it when nothing is known yet.
func (c *Catalog) Latest(ctx context.Context) (*xkcd.Comic, error) {
	latest, err := c.latestNum(ctx)
	if err != nil {
		return nil, err
	}
	return c.Comic(ctx, latest)
}

// latestNum is the newest comic number, asked of upstream when unknown.
func (c *Catalog) latestNum(ctx context.Context) (int, error) {
	c.mu.RLock()
	latest := c.latest
	c.mu.RUnlock()
	if latest > 0 {
		return latest, nil
	}
	if err := c.RefreshLatest(ctx); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.latest == 0 {
		return 0, fmt.Errorf("%w: upstream named no latest comic", ErrUnavailable)
	}
	return c.latest, nil
}

// Cached returns comic n when it is in memory, without any I/O.
func (c *Catalog) Cached(n int) (*xkcd.Comic, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	comic, ok := c.byNum[n]
	return comic, ok
}

// missingTTL is how long an upstream 404 is believed before asking again.
const missingTTL = time.Minute

// Comic returns comic n from memory, or fetches it once for every
// concurrent caller. Numbers far beyond the latest are refused without a
// call: only the next comic can have appeared since the last sync.
func (c *Catalog) Comic(ctx context.Context, n int) (*xkcd.Comic, error) {
	if n < 1 || n == xkcd.Missing {
		return nil, ErrNotFound
	}
	c.mu.RLock()
	comic, ok := c.byNum[n]
	latest := c.latest
	missingAt, missing := c.missing[n]
	c.mu.RUnlock()
	switch {
	case ok:
		return comic, nil
	case latest == 0:
		// Learn the range first, so that no number is sent upstream blind.
		if _, err := c.latestNum(ctx); err != nil {
			return nil, err
		}
		return c.Comic(ctx, n)
	case n > latest+1:
		return nil, ErrNotFound
	case missing && time.Since(missingAt) < missingTTL:
		return nil, ErrNotFound
	}
	return c.fetch(ctx, n)
}

// fetch asks upstream for comic n once, however many callers want it, and
// stores it. The fetch outlives a caller that gives up, so that the next
// caller finds the comic cached.
func (c *Catalog) fetch(ctx context.Context, n int) (*xkcd.Comic, error) {
	ch := c.fetches.DoChan(strconv.Itoa(n), func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.fetchTimeout)
		defer cancel()
		release, err := c.upstreamSlot(fctx)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		comic, err := c.upstream.Comic(fctx, n)
		release() // the slot is for upstream; storing is not its business
		if errors.Is(err, xkcd.ErrNotFound) {
			c.mu.Lock()
			c.missing[n] = time.Now()
			c.mu.Unlock()
			return nil, ErrNotFound
		}
		if err != nil {
			c.mu.Lock()
			c.failed(n, time.Now(), err)
			c.mu.Unlock()
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		if err := c.store.PutComic(fctx, comic); err != nil {
			// Serve it anyway; the next sync stores it.
			c.log.Warn("comic fetched but not stored", "num", n, "err", err)
		}
		c.add(&comic)
		return &comic, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*xkcd.Comic), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
}

// upstreamSlot waits for one of the few upstream calls allowed at once.
func (c *Catalog) upstreamSlot(ctx context.Context) (release func(), err error) {
	select {
	case c.upstreamSlots <- struct{}{}:
		return func() { <-c.upstreamSlots }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("catalog: waiting for an upstream slot: %w", ctx.Err())
	}
}

// Random returns a comic picked uniformly from the whole catalog, leaving
// out those skip reports true for (the visitor's seen comics) unless it
// leaves out all of them. skip may be nil. Once the catalog is complete it
// does no I/O. Before that, a pick that is not cached yet is fetched,
// briefly; if that fails, or upstream failed lately, a cached comic is
// picked instead.
func (c *Catalog) Random(ctx context.Context, skip func(num int) bool) (*xkcd.Comic, error) {
	if skip == nil {
		skip = func(int) bool { return false }
	}
	c.mu.RLock()
	complete := c.complete()
	pick := c.pickCached(skip)
	failedAt := c.failedAt
	c.mu.RUnlock()
	if complete || (pick != nil && time.Since(failedAt) < upstreamQuiet) {
		return pick, nil
	}
	latest, err := c.latestNum(ctx)
	if err != nil {
		return nil, err
	}
	n := pickNum(latest, skip)
	if n == 0 {
		if pick != nil {
			return pick, nil
		}
		n = pickNum(latest, func(int) bool { return false })
	}
	if pick != nil {
		// A visitor with a cached comic to see waits little on upstream; the
		// fetch itself goes on and caches its comic for the next visitor.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, randomFetchBudget)
		defer cancel()
	}
	comic, err := c.Comic(ctx, n)
	if err == nil {
		return comic, nil
	}
	if errors.Is(err, ErrUnavailable) {
		// Too slow counts as down: the next visitors get cached comics.
		c.mu.Lock()
		c.failedAt = time.Now()
		c.mu.Unlock()
	}
	if pick != nil {
		return pick, nil
	}
	return nil, err
}

// pickTries is how many random draws a pick makes before it counts what
// skip leaves. A visitor who has seen a sixth of the comics needs a second
// draw one time in six, and misses eight times once in 1.7 million picks.
const pickTries = 8

// pickCached picks a cached comic that skip leaves, or any cached comic
// when skip leaves none; nil when nothing is cached. c.mu is held.
func (c *Catalog) pickCached(skip func(int) bool) *xkcd.Comic {
	if len(c.nums) == 0 {
		return nil
	}
	for range pickTries {
		if n := c.nums[rand.IntN(len(c.nums))]; !skip(n) {
			return c.byNum[n]
		}
	}
	// Most are skipped: pick among the few that are left.
	left := 0
	for _, n := range c.nums {
		if !skip(n) {
			left++
		}
	}
	if left == 0 {
		return c.byNum[c.nums[rand.IntN(len(c.nums))]]
	}
	k := rand.IntN(left)
	for _, n := range c.nums {
		if !skip(n) {
			if k == 0 {
				return c.byNum[n]
			}
			k--
		}
	}
	panic("unreachable")
}

// pickNum draws a published comic number up to latest that skip leaves,
// or 0 after pickTries draws that skip took.
func pickNum(latest int, skip func(int) bool) int {
	for range pickTries {
		n := 1 + rand.IntN(latest)
		if n == xkcd.Missing {
			n = latest
		}
		if !skip(n) {
			return n
		}
	}
	return 0
}

const (
	// upstreamQuiet is how long Random stops asking upstream after a failure.
	upstreamQuiet = 30 * time.Second
	// randomFetchBudget is how long Random waits on upstream when it has a
	// cached comic to fall back on.
	randomFetchBudget = 500 * time.Millisecond
)

// RefreshLatest asks upstream for the newest comic and caches it.
// The fetch goes on for other callers when ctx ends; RefreshLatest returns.
func (c *Catalog) RefreshLatest(ctx context.Context) error {
	ch := c.fetches.DoChan("latest", func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.fetchTimeout)
		defer cancel()
		release, err := c.upstreamSlot(fctx)
		if err != nil {
			return nil, err
		}
		comic, err := c.upstream.Latest(fctx)
		release()
		c.mu.Lock()
		c.lastSync = Sync{At: time.Now(), Err: err}
		if err != nil {
			c.failed(0, c.lastSync.At, err)
		}
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
		if _, ok := c.Cached(comic.Num); !ok {
			if err := c.store.PutComic(fctx, comic); err != nil {
				c.log.Warn("latest comic fetched but not stored", "num", comic.Num, "err", err)
			}
		}
		c.add(&comic)
		return nil, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return fmt.Errorf("catalog: latest: %w", res.Err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("catalog: latest: %w", ctx.Err())
	}
}

// Progress is told how far a backfill has got.
type Progress func(done, total int)

// Backfill learns the latest comic and fetches every comic missing from
// the cache, a few at a time. Comics that fail are logged and left for the
// next run; the error reports how many.
func (c *Catalog) Backfill(ctx context.Context, progress Progress) error {
	if err := c.RefreshLatest(ctx); err != nil {
		return err
	}
	c.mu.RLock()
	var todo []int
	for n := 1; n <= c.latest; n++ {
		if _, ok := c.byNum[n]; !ok && n != xkcd.Missing {
			todo = append(todo, n)
		}
	}
	c.mu.RUnlock()

	var (
		mu     sync.Mutex
		done   int
		failed int
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.concurrency)
	for _, n := range todo {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			_, err := c.fetch(gctx, n)
			mu.Lock()
			defer mu.Unlock()
			done++
			if err != nil && !errors.Is(err, ErrNotFound) && gctx.Err() == nil {
				failed++
				if failed <= maxLoggedFailures {
					c.log.Warn("backfill: comic not fetched", "num", n, "err", err)
				}
				if failed >= giveUpAfter && failed*2 > done {
					// Most fetches fail: upstream is down. Stop asking.
					return fmt.Errorf("catalog: backfill stopped: %d of %d fetches failed: %w", failed, done, err)
				}
			}
			if progress != nil {
				progress(done, len(todo))
			}
			return nil
		})
	}
	stopped := g.Wait()
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("catalog: backfill: %w", ctx.Err())
	case stopped != nil:
		return stopped
	case failed > 0:
		return fmt.Errorf("catalog: backfill: %d of %d comics not fetched", failed, len(todo))
	}
	return nil
}

const (
	// maxLoggedFailures bounds the warnings one backfill logs.
	maxLoggedFailures = 5
	// giveUpAfter is how many failed fetches, if most fail, stop a backfill.
	giveUpAfter = 10
)

// SyncNow asks Run for a sync at once, unless one is running or asked
// for already (ErrSyncRunning): syncs never overlap. Run must be running.
func (c *Catalog) SyncNow() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.syncing {
		return ErrSyncRunning
	}
	select {
	case c.kick <- struct{}{}:
		// Syncing from now on, so that a second request is refused even
		// before Run takes this one.
		c.syncing = true
		return nil
	default:
		return ErrSyncRunning
	}
}

// Run keeps the catalog in step with upstream until ctx ends: a backfill
// now, then every interval, sooner after a failure. A store that could not
// be read at start is read first, so that no cached comic is fetched again.
func (c *Catalog) Run(ctx context.Context, interval time.Duration) {
	wait := time.Duration(0)
	retry := 30 * time.Second
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		case <-c.kick:
		}
		c.mu.RLock()
		loaded := c.loaded
		c.mu.RUnlock()
		if !loaded {
			if err := c.Load(ctx); err != nil {
				c.log.Warn("comic cache still unreadable; retrying before any sync", "err", err, "retry_in", 5*time.Second)
				wait = 5 * time.Second
				continue
			}
		}
		start := time.Now()
		c.mu.Lock()
		c.syncing = true
		c.mu.Unlock()
		err := c.Backfill(ctx, nil)
		c.mu.Lock()
		c.syncing = false
		c.lastRun = SyncRun{Started: start, Finished: time.Now(), Err: err}
		c.mu.Unlock()
		st := c.Status()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			c.log.Warn("catalog sync failed", "err", err, "cached", st.Cached, "latest", st.Latest, "retry_in", retry)
			wait = retry
			retry = min(2*retry, interval)
		default:
			c.log.Info("catalog synced", "cached", st.Cached, "latest", st.Latest, "took", time.Since(start).Round(time.Millisecond))
			wait, retry = interval, 30*time.Second
		}
	}
}
