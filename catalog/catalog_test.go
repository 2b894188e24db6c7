package catalog_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xkcdapp/xkcdapp/catalog"
	"github.com/xkcdapp/xkcdapp/store"
	"github.com/xkcdapp/xkcdapp/store/storetest"
	"github.com/xkcdapp/xkcdapp/xkcd"
	"github.com/xkcdapp/xkcdapp/xkcd/xkcdtest"
)

// latest is the newest comic of the fake upstream: past 404, so the gap
// xkcd left on purpose lies inside every catalog under test.
const latest = 410

// newUpstream starts a fake xkcd with comics 1..latest, stopped when the test ends.
func newUpstream(t testing.TB, latest int) *xkcdtest.Server {
	t.Helper()
	srv := xkcdtest.NewServer(latest)
	t.Cleanup(srv.Stop)
	return srv
}

// newCatalog returns an empty catalog over srv and s that fails fast.
func newCatalog(t testing.TB, srv *xkcdtest.Server, s catalog.Store) *catalog.Catalog {
	t.Helper()
	client := xkcd.NewClient(srv.URL, xkcd.WithRetries(1, time.Millisecond), xkcd.WithTimeout(time.Second))
	return catalog.New(client, s, slog.New(slog.DiscardHandler), catalog.WithFetchTimeout(2*time.Second), catalog.WithConcurrency(8))
}

// backfill fills c from upstream and fails the test if anything was left out.
func backfill(t *testing.T, c *catalog.Catalog) {
	t.Helper()
	if err := c.Backfill(t.Context(), nil); err != nil {
		t.Fatalf("Backfill: %v", err)
	}
}

// assertCalls checks how many requests upstream received since before.
func assertCalls(t *testing.T, srv *xkcdtest.Server, before, want int64) {
	t.Helper()
	if got := srv.Calls() - before; got != want {
		t.Errorf("upstream calls: got %d, want %d", got, want)
	}
}

// assertComplete checks that every comic 1..latest but 404 is in memory
// with its repaired text, and that 404 is not.
func assertComplete(t *testing.T, c *catalog.Catalog, latest int) {
	t.Helper()
	for n := 1; n <= latest; n++ {
		comic, ok := c.Cached(n)
		if n == xkcd.Missing {
			if ok {
				t.Errorf("Cached(%d): got a comic, want none", n)
			}
			continue
		}
		if !ok {
			t.Errorf("Cached(%d): got nothing, want the comic", n)
			continue
		}
		if comic.Num != n || comic.Title != xkcdtest.Title(n) {
			t.Errorf("Cached(%d): got #%d %q, want #%d %q", n, comic.Num, comic.Title, n, xkcdtest.Title(n))
		}
	}
	if st := c.Status(); st.Cached != latest-1 || st.Latest != latest || !st.Complete {
		t.Errorf("Status: got cached %d latest %d complete %v, want cached %d latest %d complete true",
			st.Cached, st.Latest, st.Complete, latest-1, latest)
	}
}

func TestBackfill(t *testing.T) {
	srv := newUpstream(t, latest)
	mem := store.NewMemory()
	c := newCatalog(t, srv, mem)

	var (
		mu    sync.Mutex
		calls int
		last  [2]int
	)
	err := c.Backfill(t.Context(), func(done, total int) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if done <= last[0] || (last[1] != 0 && total != last[1]) {
			t.Errorf("progress after (%d,%d): got (%d,%d), want done rising and total fixed", last[0], last[1], done, total)
		}
		last = [2]int{done, total}
	})
	if err != nil {
		t.Fatalf("Backfill: got %v, want nil", err)
	}

	assertComplete(t, c, latest)
	if last[0] != last[1] || last[1] == 0 {
		t.Errorf("last progress: got (%d,%d), want (total,total)", last[0], last[1])
	}
	if calls != last[1] {
		t.Errorf("progress calls: got %d, want %d (one per comic)", calls, last[1])
	}
	// Polite: the latest once, then every other comic once, never 404.
	assertCalls(t, srv, 0, latest-1)

	stored, err := mem.Comics(t.Context())
	if err != nil {
		t.Fatalf("store Comics: %v", err)
	}
	if got, want := len(stored), latest-1; got != want {
		t.Errorf("comics stored: got %d, want %d", got, want)
	}

	// A second backfill of a complete catalog has only the latest to ask for.
	before := srv.Calls()
	backfill(t, c)
	assertCalls(t, srv, before, 1)
}

func TestRandomWhenComplete(t *testing.T) {
	srv := newUpstream(t, latest)
	c := newCatalog(t, srv, store.NewMemory())
	backfill(t, c)

	before := srv.Calls()
	seen := make(map[int]int)
	for range 1000 {
		comic, err := c.Random(t.Context(), nil)
		if err != nil {
			t.Fatalf("Random: got %v, want a comic", err)
		}
		if comic.Num < 1 || comic.Num > latest || comic.Num == xkcd.Missing {
			t.Fatalf("Random: got comic %d, want one of 1..%d but 404", comic.Num, latest)
		}
		seen[comic.Num]++
	}
	assertCalls(t, srv, before, 0)
	// 1000 uniform picks of 409 comics hit about 370 distinct ones.
	if got := len(seen); got <= 50 {
		t.Errorf("distinct comics in 1000 picks: got %d, want > 50", got)
	}
	t.Logf("1000 picks hit %d distinct comics", len(seen))
}

func TestRandomSkipsSeen(t *testing.T) {
	srv := newUpstream(t, latest)
	c := newCatalog(t, srv, store.NewMemory())
	backfill(t, c)

	// A visitor who has seen all comics but three gets those three, even
	// though random draws almost never land on them.
	unseen := map[int]bool{7: true, 200: true, latest: true}
	skip := func(n int) bool { return !unseen[n] }
	got := make(map[int]int)
	for range 300 {
		comic, err := c.Random(t.Context(), skip)
		if err != nil {
			t.Fatalf("Random: %v", err)
		}
		if !unseen[comic.Num] {
			t.Fatalf("Random: got comic %d, already seen; want one of %v", comic.Num, unseen)
		}
		got[comic.Num]++
	}
	if len(got) != len(unseen) {
		t.Errorf("300 picks among 3 unseen comics: got %v, want all three", got)
	}

	// One who has seen them all still gets a comic: any of them.
	all := func(int) bool { return true }
	picked := make(map[int]bool)
	for range 100 {
		comic, err := c.Random(t.Context(), all)
		if err != nil || comic == nil {
			t.Fatalf("Random with everything seen: got %v, %v, want a comic", comic, err)
		}
		picked[comic.Num] = true
	}
	if len(picked) < 10 {
		t.Errorf("100 picks with everything seen hit %d distinct comics, want many", len(picked))
	}
}

func TestRandomColdStartAllSeen(t *testing.T) {
	srv := newUpstream(t, latest)
	c := newCatalog(t, srv, store.NewMemory())

	// Nothing cached and every number seen: still a comic, not an error.
	comic, err := c.Random(t.Context(), func(int) bool { return true })
	if err != nil || comic == nil {
		t.Fatalf("Random on an empty catalog with everything seen: got %v, %v, want a comic", comic, err)
	}
}

func TestRandomColdStart(t *testing.T) {
	srv := newUpstream(t, latest)
	mem := store.NewMemory()
	c := newCatalog(t, srv, mem)

	comic, err := c.Random(t.Context(), nil)
	if err != nil {
		t.Fatalf("Random on an empty catalog: got %v, want a comic", err)
	}
	if comic.Num < 1 || comic.Num > latest || comic.Num == xkcd.Missing {
		t.Errorf("Random: got comic %d, want one of 1..%d but 404", comic.Num, latest)
	}
	// The latest, then the pick: no backfill on the visitor's time.
	if got := srv.Calls(); got > 2 {
		t.Errorf("upstream calls for one cold pick: got %d, want at most 2", got)
	}
	if _, ok := c.Cached(comic.Num); !ok {
		t.Errorf("Cached(%d) after the pick: got nothing, want the comic", comic.Num)
	}
	stored, err := mem.Comics(t.Context())
	if err != nil {
		t.Fatalf("store Comics: %v", err)
	}
	if !slices.ContainsFunc(stored, func(s xkcd.Comic) bool { return s.Num == comic.Num }) {
		t.Errorf("store after the pick: got %d comics without %d, want it stored", len(stored), comic.Num)
	}
}

func TestComicConcurrentMisses(t *testing.T) {
	srv := newUpstream(t, latest)
	c := newCatalog(t, srv, store.NewMemory())
	srv.SetDelay(100 * time.Millisecond)

	const callers = 50
	before := srv.Calls()
	start := make(chan struct{})
	nums := make([]int, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			<-start
			comic, err := c.Comic(t.Context(), xkcdtest.Interactive)
			errs[i] = err
			if comic != nil {
				nums[i] = comic.Num
			}
		})
	}
	close(start)
	wg.Wait()

	for i := range callers {
		if errs[i] != nil || nums[i] != xkcdtest.Interactive {
			t.Errorf("caller %d: got comic %d, %v, want comic %d, nil", i, nums[i], errs[i], xkcdtest.Interactive)
		}
	}
	// One call learns the latest number (the catalog is cold), one fetches
	// the comic for all 50 callers.
	assertCalls(t, srv, before, 2)
}

func TestComicNotFound(t *testing.T) {
	srv := newUpstream(t, latest)
	c := newCatalog(t, srv, store.NewMemory())
	if err := c.RefreshLatest(t.Context()); err != nil {
		t.Fatalf("RefreshLatest: %v", err)
	}

	tests := []struct {
		name  string
		num   int
		calls int64 // upstream calls the lookup may make
	}{
		{"zero", 0, 0},
		{"negative", -1, 0},
		{"the missing 404", xkcd.Missing, 0},
		{"two past the latest", latest + 2, 0},
		{"far past the latest", 1_000_000, 0},
		{"next comic not out yet", latest + 1, 1},
		{"next comic asked again", latest + 1, 0}, // the 404 is remembered
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := srv.Calls()
			comic, err := c.Comic(t.Context(), tt.num)
			if !errors.Is(err, catalog.ErrNotFound) {
				t.Errorf("Comic(%d): got %v, %v, want ErrNotFound", tt.num, comic, err)
			}
			assertCalls(t, srv, before, tt.calls)
		})
	}
}

func TestUpstreamDown(t *testing.T) {
	t.Run("after a backfill", func(t *testing.T) {
		srv := newUpstream(t, latest)
		c := newCatalog(t, srv, store.NewMemory())
		backfill(t, c)
		srv.Stop()

		for _, n := range []int{1, xkcdtest.DoubleEncoded, 403, 405, latest} {
			comic, err := c.Comic(t.Context(), n)
			if err != nil || comic.Num != n {
				t.Errorf("Comic(%d): got %v, %v, want comic %d, nil", n, comic, err, n)
			}
		}
		for range 100 {
			if comic, err := c.Random(t.Context(), nil); err != nil || comic == nil {
				t.Fatalf("Random: got %v, %v, want a comic, nil", comic, err)
			}
		}
		if comic, err := c.Latest(t.Context()); err != nil || comic.Num != latest {
			t.Errorf("Latest: got %v, %v, want comic %d, nil", comic, err, latest)
		}
	})

	t.Run("with a few cached", func(t *testing.T) {
		srv := newUpstream(t, latest)
		c := newCatalog(t, srv, store.NewMemory())
		if err := c.RefreshLatest(t.Context()); err != nil {
			t.Fatalf("RefreshLatest: %v", err)
		}
		for _, n := range []int{1, 2} {
			if _, err := c.Comic(t.Context(), n); err != nil {
				t.Fatalf("Comic(%d): %v", n, err)
			}
		}
		srv.Stop()

		cached := []int{1, 2, latest}
		for range 20 {
			comic, err := c.Random(t.Context(), nil)
			if err != nil || !slices.Contains(cached, comic.Num) {
				t.Fatalf("Random: got %v, %v, want one of the cached %v", comic, err, cached)
			}
		}
	})

	t.Run("with nothing cached", func(t *testing.T) {
		srv := newUpstream(t, latest)
		c := newCatalog(t, srv, store.NewMemory())
		srv.Stop()

		tests := []struct {
			name string
			call func(ctx context.Context) (*xkcd.Comic, error)
		}{
			{"Random", func(ctx context.Context) (*xkcd.Comic, error) { return c.Random(ctx, nil) }},
			{"Comic", func(ctx context.Context) (*xkcd.Comic, error) { return c.Comic(ctx, 5) }},
			{"Latest", c.Latest},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				comic, err := tt.call(t.Context())
				if !errors.Is(err, catalog.ErrUnavailable) {
					t.Errorf("%s: got %v, %v, want ErrUnavailable", tt.name, comic, err)
				}
			})
		}
	})
}

func TestComicCallerGivesUp(t *testing.T) {
	srv := newUpstream(t, latest)
	c := newCatalog(t, srv, store.NewMemory())
	if err := c.RefreshLatest(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv.SetDelay(200 * time.Millisecond)

	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(20*time.Millisecond, cancel)
	comic, err := c.Comic(ctx, 9)
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Comic with the caller gone: got %v, %v, want an error wrapping context.Canceled", comic, err)
	}

	waitFor(t, 3*time.Second, "comic 9 cached after its caller gave up", func() bool {
		_, ok := c.Cached(9)
		return ok
	})
	before := srv.Calls()
	if comic, err := c.Comic(t.Context(), 9); err != nil || comic.Num != 9 {
		t.Errorf("Comic(9) after the fetch: got %v, %v, want comic 9, nil", comic, err)
	}
	assertCalls(t, srv, before, 0)
}

func TestRun(t *testing.T) {
	srv := newUpstream(t, latest)
	c := newCatalog(t, srv, store.NewMemory())

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		c.Run(ctx, time.Hour)
	}()

	waitFor(t, 10*time.Second, "Run to backfill at once", func() bool { return c.Status().Complete })
	assertComplete(t, c, latest)
	if st := c.Status(); st.LastSync.At.IsZero() || st.LastSync.Err != nil {
		t.Errorf("LastSync: got %+v, want a time and no error", st.LastSync)
	}

	cancel()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatalf("Run after cancel: still running after 5s, want it to return")
	}
}

// TestPostgresReload shows the point of storing comics: a second instance
// over the same database serves the whole catalog without asking upstream.
func TestPostgresReload(t *testing.T) {
	url := storetest.NewDatabase(t)
	srv := newUpstream(t, latest)

	first := newCatalog(t, srv, storetest.NewPostgres(t, url))
	backfill(t, first)

	before := srv.Calls()
	second := newCatalog(t, srv, storetest.NewPostgres(t, url))
	if err := second.Load(t.Context()); err != nil {
		t.Fatalf("Load: got %v, want nil", err)
	}
	assertComplete(t, second, latest)
	for range 100 {
		if _, err := second.Random(t.Context(), nil); err != nil {
			t.Fatalf("Random after Load: got %v, want a comic", err)
		}
	}
	for _, n := range []int{xkcdtest.Entities, xkcdtest.DoubleEncoded, xkcdtest.ExtraParts} {
		got, err := second.Comic(t.Context(), n)
		if err != nil {
			t.Fatalf("Comic(%d): %v", n, err)
		}
		want, _ := first.Cached(n)
		if got.Title != want.Title || got.Alt != want.Alt || got.Published != want.Published || got.Interactive() != want.Interactive() {
			t.Errorf("Comic(%d) after Load: got %q %q %v interactive %v, want %q %q %v interactive %v", n,
				got.Title, got.Alt, got.Published, got.Interactive(), want.Title, want.Alt, want.Published, want.Interactive())
		}
	}
	assertCalls(t, srv, before, 0)
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: got nothing after %v, want it to happen", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRandomWhenUpstreamHangs: before the catalog is complete, a visitor
// with cached comics to fall back on waits on a hanging upstream briefly,
// once, and then not at all while upstream keeps failing.
func TestRandomWhenUpstreamHangs(t *testing.T) {
	srv := newUpstream(t, latest)
	mem := store.NewMemory()
	for _, n := range []int{1, 2, latest} {
		mem.PutComic(t.Context(), xkcd.Comic{Num: n, Title: xkcdtest.Title(n)})
	}
	c := newCatalog(t, srv, mem)
	if err := c.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv.SetDelay(10 * time.Second)

	for i := range 20 {
		start := time.Now()
		comic, err := c.Random(t.Context(), nil)
		if err != nil {
			t.Fatalf("Random #%d with upstream hanging: %v, want a cached comic", i, err)
		}
		if _, ok := c.Cached(comic.Num); !ok {
			t.Fatalf("Random #%d gave comic %d, which is not cached", i, comic.Num)
		}
		limit := 300 * time.Millisecond
		if i == 0 {
			limit = 2 * time.Second // the first one waits out its fetch budget
		}
		if took := time.Since(start); took > limit {
			t.Errorf("Random #%d took %v with upstream hanging, want under %v", i, took, limit)
		}
	}
}

// unreadableStore fails to list comics until it is told to recover, as a
// database that is down when the app starts.
type unreadableStore struct {
	*store.Memory
	down atomic.Bool
}

func (s *unreadableStore) Comics(ctx context.Context) ([]xkcd.Comic, error) {
	if s.down.Load() {
		return nil, errors.New("unreadable store: connection refused")
	}
	return s.Memory.Comics(ctx)
}

// TestRunReadsTheStoreFirst: when the store could not be read at start,
// Run reads it before syncing, so cached comics are not fetched again.
func TestRunReadsTheStoreFirst(t *testing.T) {
	srv := newUpstream(t, latest)
	s := &unreadableStore{Memory: store.NewMemory()}
	for n := 1; n <= latest; n++ {
		if n != xkcd.Missing {
			s.PutComic(t.Context(), xkcd.Comic{Num: n, Title: xkcdtest.Title(n)})
		}
	}
	s.down.Store(true)
	c := newCatalog(t, srv, s)
	if err := c.Load(t.Context()); err == nil {
		t.Fatal("Load from a store that is down: got nil, want an error")
	}

	before := srv.Calls()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go c.Run(ctx, time.Hour)
	time.Sleep(200 * time.Millisecond)
	s.down.Store(false)
	waitFor(t, 15*time.Second, "Run to read the store", func() bool { return c.Status().Complete })
	// Only the latest is asked for; every comic came from the store.
	if got := srv.Calls() - before; got > 1 {
		t.Errorf("upstream calls while and after the store was down: got %d, want at most 1", got)
	}
}

// TestBackfillGivesUpOnFailingUpstream: when upstream names its latest
// comic but fails every comic, a backfill stops after a few failures
// instead of asking for all of them.
func TestBackfillGivesUpOnFailingUpstream(t *testing.T) {
	up := xkcdtest.NewUpstream(latest, "")
	var comicCalls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/info.0.json" {
			up.ServeHTTP(w, r)
			return
		}
		comicCalls.Add(1)
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	client := xkcd.NewClient(srv.URL, xkcd.WithRetries(1, time.Millisecond), xkcd.WithTimeout(time.Second))
	c := catalog.New(client, store.NewMemory(), slog.New(slog.DiscardHandler), catalog.WithConcurrency(4))

	err := c.Backfill(t.Context(), nil)
	if err == nil {
		t.Fatal("Backfill against a failing upstream: got nil, want an error")
	}
	if got := comicCalls.Load(); got > 30 {
		t.Errorf("comic requests before giving up: got %d, want a handful (at most 30), not all %d", got, latest-1)
	}
}
