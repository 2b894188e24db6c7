package counter_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xkcdapp/xkcdapp/counter"
	"github.com/xkcdapp/xkcdapp/logtest"
	"github.com/xkcdapp/xkcdapp/store"
	"github.com/xkcdapp/xkcdapp/store/storetest"
)

// viewStore is what these tests need of a store: counter.Store, and a way
// to read back what it holds.
type viewStore interface {
	counter.Store
	Views(ctx context.Context, num int) (int64, error)
}

// stores are the two stores a counter writes to in production.
var stores = []struct {
	name string
	open func(t *testing.T) viewStore
}{
	{"memory", func(t *testing.T) viewStore { return store.NewMemory() }},
	{"postgres", func(t *testing.T) viewStore { return storetest.NewPostgres(t, storetest.NewDatabase(t)) }},
}

// newCounter starts a counter over s, closed when the test ends.
func newCounter(t *testing.T, s counter.Store, log *slog.Logger, opts ...counter.Option) *counter.Counter {
	t.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := counter.New(s, log, opts...)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c.Close(ctx)
	})
	return c
}

// spyStore counts AddViews calls and can be made to fail like a database
// that is down, or to commit slowly like one that is overloaded.
type spyStore struct {
	viewStore
	calls atomic.Int64
	down  atomic.Bool
	delay atomic.Int64 // nanoseconds each write takes before committing
}

func (s *spyStore) AddViews(ctx context.Context, deltas []store.Count) ([]store.Count, error) {
	s.calls.Add(1)
	if s.down.Load() {
		return nil, errors.New("spy store: connection refused")
	}
	select {
	case <-time.After(time.Duration(s.delay.Load())):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.viewStore.AddViews(ctx, deltas)
}

// assertViews checks the store's count of each comic.
func assertViews(t *testing.T, s viewStore, want map[int]int64) {
	t.Helper()
	for num, w := range want {
		got, err := s.Views(t.Context(), num)
		if err != nil {
			t.Fatalf("Views(%d): %v", num, err)
		}
		if got != w {
			t.Errorf("views of comic %d in the store: got %d, want %d", num, got, w)
		}
	}
}

// record counts one view and fails the test on an error.
func record(t *testing.T, c *counter.Counter, num int) int64 {
	t.Helper()
	n, err := c.Record(t.Context(), num)
	if err != nil {
		t.Fatalf("Record(%d): got %v, want nil", num, err)
	}
	return n
}

func TestGroupCommit(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			c := newCounter(t, s, nil)

			const workers, each = 200, 5
			comics := []int{1, 2, 3, 353}
			returned := make(map[int][]int64)
			var mu sync.Mutex
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := range each {
						num := comics[(w+i)%len(comics)]
						n, err := c.Record(t.Context(), num)
						if err != nil {
							t.Errorf("Record(%d): got %v, want nil", num, err)
							continue
						}
						mu.Lock()
						returned[num] = append(returned[num], n)
						mu.Unlock()
					}
				})
			}
			wg.Wait()

			want := make(map[int]int64)
			for w := range workers {
				for i := range each {
					want[comics[(w+i)%len(comics)]]++
				}
			}
			assertViews(t, s, want)
			for _, num := range comics {
				counts := returned[num]
				if got := int64(len(counts)); got != want[num] {
					t.Errorf("counts returned for comic %d: got %d, want %d", num, got, want[num])
				}
				slices.Sort(counts)
				if counts[0] <= 0 {
					t.Errorf("lowest count returned for comic %d: got %d, want > 0", num, counts[0])
				}
				if d := len(counts) - len(slices.Compact(slices.Clone(counts))); d > 0 {
					t.Errorf("counts returned for comic %d: got %d callers told a count someone else was told, want every count distinct", num, d)
				}
				if got := counts[len(counts)-1]; got != want[num] {
					t.Errorf("highest count returned for comic %d: got %d, want %d", num, got, want[num])
				}
			}
		})
	}
}

func TestBatching(t *testing.T) {
	s := &spyStore{viewStore: storetest.NewPostgres(t, storetest.NewDatabase(t))}
	c := newCounter(t, s, nil)

	const views = 500
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range views {
		wg.Go(func() {
			<-start
			if _, err := c.Record(t.Context(), 1+i%3); err != nil {
				t.Errorf("Record: got %v, want nil", err)
			}
		})
	}
	close(start)
	wg.Wait()

	calls := s.calls.Load()
	t.Logf("%d concurrent views took %d AddViews calls", views, calls)
	if calls >= views/2 {
		t.Errorf("AddViews calls for %d concurrent views: got %d, want < %d", views, calls, views/2)
	}
	assertViews(t, s, map[int]int64{1: 167, 2: 167, 3: 166})
}

// writeTimeout bounds each batch write in the outage tests.
const writeTimeout = 500 * time.Millisecond

func TestDatabaseDown(t *testing.T) {
	dbURL, proxied, proxy := storetest.NewProxiedDatabase(t)
	direct := storetest.NewPostgres(t, dbURL)
	through := storetest.NewPostgres(t, proxied)
	c := newCounter(t, through, nil, counter.WithWriteTimeout(writeTimeout))

	for i := range 3 {
		if got := record(t, c, 1); got != int64(i+1) {
			t.Fatalf("Record(1) with the database up: got %d, want %d", got, i+1)
		}
	}

	proxy.Cut()
	const held = 20
	for i := range held {
		num := 1 + i%2
		begin := time.Now()
		n, err := c.Record(t.Context(), num)
		took := time.Since(begin)
		if err != nil {
			t.Fatalf("Record(%d) with the database down: got %v, want nil", num, err)
		}
		if limit := 3 * writeTimeout; took > limit {
			t.Errorf("Record(%d) with the database down: took %v, want under %v", num, took, limit)
		}
		// Comic 1's count is known from its commits: the estimate adds the
		// held views. Comic 2's never was: 0 says "unknown" (the page then
		// shows no count rather than a wrong one).
		want := int64(0)
		if num == 1 {
			want = 3 + int64(i/2+1)
		}
		if n != want {
			t.Errorf("Record(%d) #%d with the database down: got count %d, want %d", num, i, n, want)
		}
		if got, want := c.Held(), int64(i+1); got != want {
			t.Errorf("Held after %d views with the database down: got %d, want %d", i+1, got, want)
		}
	}
	assertViews(t, direct, map[int]int64{1: 3, 2: 0})

	proxy.Restore()
	begin := time.Now()
	waitFor(t, 5*time.Second, "held views written once the database is back", func() bool { return c.Held() == 0 })
	t.Logf("held views written %v after the database came back", time.Since(begin).Round(time.Millisecond))
	assertViews(t, direct, map[int]int64{1: 3 + held/2, 2: held / 2})

	// The count carries on from what was written: nothing lost, nothing twice.
	if got, want := record(t, c, 1), int64(3+held/2+1); got != want {
		t.Errorf("Record(1) after the database came back: got %d, want %d", got, want)
	}
}

func TestClose(t *testing.T) {
	t.Run("writes held views", func(t *testing.T) {
		s := &spyStore{viewStore: store.NewMemory()}
		c := counter.New(s, slog.New(slog.DiscardHandler))

		s.down.Store(true)
		for range 4 {
			record(t, c, 7)
		}
		record(t, c, 8)
		if got := c.Held(); got != 5 {
			t.Fatalf("Held with the store down: got %d, want 5", got)
		}
		assertViews(t, s, map[int]int64{7: 0, 8: 0})
		// The store is back before the counter's next retry: Close must write.
		s.down.Store(false)

		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Fatalf("Close: got %v, want nil", err)
		}
		assertViews(t, s, map[int]int64{7: 4, 8: 1})
		if got := c.Held(); got != 0 {
			t.Errorf("Held after Close: got %d, want 0", got)
		}

		n, err := c.Record(t.Context(), 7)
		if !errors.Is(err, counter.ErrClosed) {
			t.Errorf("Record after Close: got %d, %v, want ErrClosed", n, err)
		}
		assertViews(t, s, map[int]int64{7: 4})
	})

	t.Run("database down", func(t *testing.T) {
		_, proxied, proxy := storetest.NewProxiedDatabase(t)
		through := storetest.NewPostgres(t, proxied)
		var logs logtest.Buffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		c := counter.New(through, log, counter.WithWriteTimeout(writeTimeout))
		record(t, c, 1)

		proxy.Cut()
		for range 3 {
			record(t, c, 1)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		begin := time.Now()
		err := c.Close(ctx)
		if err == nil {
			t.Fatalf("Close with the database down: got nil, want an error")
		}
		if took := time.Since(begin); took > 3*time.Second {
			t.Errorf("Close with a 1s context: took %v, want about 1s", took)
		}
		line := logs.String()
		if !bytes.Contains([]byte(line), []byte("views lost")) || !bytes.Contains([]byte(line), []byte("views=3")) {
			t.Errorf("log after a failed Close: got %q, want a line saying views=3 were lost", line)
		}
	})
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: got nothing after %v, want it to happen", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRecordRacingClose: a Record that races Close either gets its count
// or ErrClosed, never hangs, and every view it was told is counted is in
// the store.
func TestRecordRacingClose(t *testing.T) {
	for round := range 300 {
		mem := store.NewMemory()
		c := counter.New(mem, slog.New(slog.NewTextHandler(io.Discard, nil)))
		var (
			wg      sync.WaitGroup
			counted atomic.Int64
		)
		for range 50 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				_, err := c.Record(ctx, 1)
				switch {
				case err == nil:
					counted.Add(1)
				case errors.Is(err, counter.ErrClosed):
				default:
					t.Errorf("round %d: Record: %v, want a count or ErrClosed", round, err)
				}
			})
		}
		if err := c.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if got, _ := mem.Views(context.Background(), 1); got != counted.Load() {
			t.Fatalf("round %d: store has %d views, callers were told %d were counted", round, got, counted.Load())
		}
	}
}

// TestSlowCommit: a visitor waits at most the counter's wait, even when a
// commit takes longer; the slow commit is not cut off (which could count
// its views twice) and every view lands exactly once.
func TestSlowCommit(t *testing.T) {
	s := &spyStore{viewStore: store.NewMemory()}
	const wait = 100 * time.Millisecond
	c := counter.New(s, slog.New(slog.DiscardHandler), counter.WithWait(wait), counter.WithWriteTimeout(5*time.Second))
	t.Cleanup(func() { c.Close(context.Background()) })
	record(t, c, 1)

	s.delay.Store(int64(time.Second))
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			begin := time.Now()
			if _, err := c.Record(t.Context(), 1); err != nil {
				t.Errorf("Record with a slow commit: %v", err)
			}
			if took := time.Since(begin); took > wait+400*time.Millisecond {
				t.Errorf("Record with a 1s commit took %v, want about the %v wait", took, wait)
			}
		})
	}
	wg.Wait()
	s.delay.Store(0)
	waitFor(t, 5*time.Second, "the slow commits to land", func() bool { return c.Held() == 0 })
	assertViews(t, s, map[int]int64{1: 21})
}

// TestEstimatesWhileCommitIsSlow: callers answered before a slow commit
// lands still get the counts they would have had: the views in flight are
// part of the estimate, so no two visitors are told the same count.
func TestEstimatesWhileCommitIsSlow(t *testing.T) {
	s := &spyStore{viewStore: store.NewMemory()}
	c := counter.New(s, slog.New(slog.DiscardHandler), counter.WithWait(100*time.Millisecond), counter.WithWriteTimeout(5*time.Second))
	t.Cleanup(func() { c.Close(context.Background()) })
	for range 5 {
		record(t, c, 1)
	}
	s.delay.Store(int64(400 * time.Millisecond))
	var (
		mu  sync.Mutex
		got []int64
		wg  sync.WaitGroup
	)
	for range 3 {
		wg.Go(func() {
			n := record(t, c, 1)
			mu.Lock()
			got = append(got, n)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(got)
	if want := []int64{6, 7, 8}; !slices.Equal(got, want) {
		t.Errorf("counts for 3 views after 5, with a slow commit: got %v, want %v", got, want)
	}
}

// TestRecordWaitsAtMostTheWait: time spent waiting for a free writer counts
// against the wait too.
func TestRecordWaitsAtMostTheWait(t *testing.T) {
	s := &spyStore{viewStore: store.NewMemory()}
	const wait = 200 * time.Millisecond
	c := counter.New(s, slog.New(slog.DiscardHandler), counter.WithWait(wait), counter.WithWriteTimeout(5*time.Second))
	t.Cleanup(func() { c.Close(context.Background()) })
	record(t, c, 1)
	s.delay.Store(int64(wait * 9 / 10))
	go c.Record(context.Background(), 1) // takes the one writer for 0.9 of the wait
	time.Sleep(10 * time.Millisecond)
	s.delay.Store(int64(5 * wait))
	begin := time.Now()
	record(t, c, 2)
	if took := time.Since(begin); took > wait+150*time.Millisecond {
		t.Errorf("Record took %v behind a busy writer, want about the %v wait", took, wait)
	}
}
