package store_test

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/xkcdapp/xkcdapp/store"
	"github.com/xkcdapp/xkcdapp/store/storetest"
)

// LiveStore is what live stats need of a store; both stores promise it.
type LiveStore interface {
	AddViews(ctx context.Context, deltas []store.Count) ([]store.Count, error)
	Snapshot(ctx context.Context, top int, comics []int) (store.Snapshot, error)
	SetWatchers(ctx context.Context, instance string, n int, ttl time.Duration) error
	Listen(ctx context.Context, log *slog.Logger, changed func())
}

var (
	_ LiveStore = (*store.Memory)(nil)
	_ LiveStore = (*store.Postgres)(nil)
)

func TestMemoryLive(t *testing.T) {
	testLive(t, func(t *testing.T) LiveStore { return store.NewMemory() })
}

func TestPostgresLive(t *testing.T) {
	testLive(t, func(t *testing.T) LiveStore { return storetest.NewPostgres(t, storetest.NewDatabase(t)) })
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// testLive is the live stats contract both stores pass.
func testLive(t *testing.T, newStore func(t *testing.T) LiveStore) {
	t.Run("empty store", func(t *testing.T) {
		s := snapshot(t, newStore(t), store.MaxTop, 5)
		if s.Total != 0 || len(s.Minutes) != 0 || len(s.Top) != 0 || s.Watchers != 0 {
			t.Errorf("Snapshot: got %+v, want nothing counted", s)
		}
		if want := map[int]int64{5: 0}; !maps.Equal(s.Counts, want) {
			t.Errorf("Snapshot counts: got %v, want %v", s.Counts, want)
		}
	})

	t.Run("views are counted in totals, top, counts and their minute", func(t *testing.T) {
		st := newStore(t)
		before := time.Now()
		mustAddViews(t, st, store.Count{Num: 1, Views: 3}, store.Count{Num: 2, Views: 4})
		mustAddViews(t, st, store.Count{Num: 9, Views: 1})
		after := time.Now()
		s := snapshot(t, st, 2, 1, 2, 3)
		if s.Total != 8 {
			t.Errorf("Total: got %d, want 8", s.Total)
		}
		if want := []store.Count{{Num: 2, Views: 4}, {Num: 1, Views: 3}}; !slices.Equal(s.Top, want) {
			t.Errorf("Top: got %v, want %v", s.Top, want)
		}
		if want := map[int]int64{1: 3, 2: 4, 3: 0}; !maps.Equal(s.Counts, want) {
			t.Errorf("Counts: got %v, want %v", s.Counts, want)
		}
		if s.Now.Before(before.Add(-time.Second)) || s.Now.After(time.Now().Add(time.Second)) {
			t.Errorf("Now: got %v, want between %v and now", s.Now, before)
		}
		// The batches may straddle a minute's end; all views are in one of
		// the minutes they were made in.
		var sum int64
		for _, m := range s.Minutes {
			sum += m.Views
			if m.Start.Before(before.Truncate(time.Minute)) || m.Start.After(after) || m.Start.Second() != 0 {
				t.Errorf("minute %v: want a whole minute between %v and %v", m.Start, before, after)
			}
		}
		if sum != 8 {
			t.Errorf("views in minutes %v: got %d, want 8", s.Minutes, sum)
		}
	})

	t.Run("top 0 reads no ranking", func(t *testing.T) {
		st := newStore(t)
		mustAddViews(t, st, store.Count{Num: 1, Views: 1})
		if s := snapshot(t, st, 0); len(s.Top) != 0 || s.Total != 1 {
			t.Errorf("Snapshot(0): got top %v and total %d, want no top and 1", s.Top, s.Total)
		}
	})

	t.Run("watchers add up across instances and expire", func(t *testing.T) {
		st := newStore(t)
		setWatchers(t, st, "a", 3, time.Minute)
		setWatchers(t, st, "b", 2, time.Minute)
		if got := snapshot(t, st, 0).Watchers; got != 5 {
			t.Errorf("Watchers of a=3, b=2: got %d, want 5", got)
		}
		setWatchers(t, st, "a", 4, time.Minute)
		if got := snapshot(t, st, 0).Watchers; got != 6 {
			t.Errorf("Watchers after a=4: got %d, want 6", got)
		}
		setWatchers(t, st, "a", 0, time.Minute)
		if got := snapshot(t, st, 0).Watchers; got != 2 {
			t.Errorf("Watchers after a=0: got %d, want 2", got)
		}
		// An instance that stops refreshing its count stops counting.
		setWatchers(t, st, "gone", 7, time.Millisecond)
		poll(t, "an expired count to be left out", func() bool { return snapshot(t, st, 0).Watchers == 2 })
	})

	t.Run("Listen hears every change", func(t *testing.T) {
		st := newStore(t)
		heard := listen(t, st)
		expectChange(t, heard, "on connecting")
		mustAddViews(t, st, store.Count{Num: 1, Views: 1})
		expectChange(t, heard, "after AddViews")
		setWatchers(t, st, "a", 1, time.Minute)
		expectChange(t, heard, "after SetWatchers")
		// An operator's change of a count reaches live stats too.
		admin, ok := st.(interface {
			SetViews(ctx context.Context, num int, views int64, actor string) (int64, error)
		})
		if !ok {
			t.Fatalf("%T cannot set a count", st)
		}
		if _, err := admin.SetViews(t.Context(), 1, 40, "operator"); err != nil {
			t.Fatal(err)
		}
		expectChange(t, heard, "after SetViews")
		if got := snapshot(t, st, 0, 1).Counts[1]; got != 40 {
			t.Errorf("comic 1 after SetViews: got %d, want 40", got)
		}
	})
}

// TestPostgresListenAcrossInstances: a view batch committed by one
// instance is heard by another listening on the same database, and a
// listener whose connection is cut reconnects and says so.
func TestPostgresListenAcrossInstances(t *testing.T) {
	direct, proxied, proxy := storetest.NewProxiedDatabase(t)
	a := storetest.NewPostgres(t, direct)
	b := openPostgres(t, proxied)
	if b.Listening() == nil {
		t.Error("Listening before Listen: got nil, want an error")
	}

	heard := listen(t, b)
	expectChange(t, heard, "on connecting")
	if err := b.Listening(); err != nil {
		t.Errorf("Listening once connected: %v", err)
	}
	mustAddViews(t, a, store.Count{Num: 1, Views: 1})
	expectChange(t, heard, "after a batch on the other instance")

	proxy.Cut()
	mustAddViews(t, a, store.Count{Num: 1, Views: 1}) // missed while cut
	poll(t, "Listening to report the cut", func() bool { return b.Listening() != nil })
	proxy.Restore()
	// The reconnect is a change: whatever was missed is read again.
	expectChange(t, heard, "on reconnecting")
	if err := b.Listening(); err != nil {
		t.Errorf("Listening once reconnected: %v", err)
	}
	mustAddViews(t, a, store.Count{Num: 2, Views: 1})
	expectChange(t, heard, "after a batch once reconnected")
}

// TestPostgresViewsAnnouncedOnlyWhenCommitted: a batch that fails is not
// announced, and adds nothing to its minute.
func TestPostgresViewsAnnouncedOnlyWhenCommitted(t *testing.T) {
	url := storetest.NewDatabase(t)
	p := storetest.NewPostgres(t, url)
	heard := listen(t, p)
	expectChange(t, heard, "on connecting")
	// A number past int32 arrives as 0, which the table refuses: the batch fails.
	if _, err := p.AddViews(t.Context(), []store.Count{{Num: 1, Views: 1}, {Num: 1 << 40, Views: 1}}); err == nil {
		t.Fatal("AddViews with a number out of range: got nil, want an error")
	}
	mustAddViews(t, p, store.Count{Num: 2, Views: 1})
	expectChange(t, heard, "after the good batch")
	select {
	case <-heard:
		t.Error("heard two changes, want only the committed batch's")
	default:
	}
	s := snapshot(t, p, 0, 1)
	var minutes int64
	for _, m := range s.Minutes {
		minutes += m.Views
	}
	if s.Total != 1 || s.Counts[1] != 0 || minutes != 1 {
		t.Errorf("after a failed and a good batch: total %d, comic 1 %d, minutes %d; want 1, 0, 1", s.Total, s.Counts[1], minutes)
	}
}

// listen runs st.Listen until the test ends; each change is a value on
// the channel returned.
func listen(t *testing.T, st LiveStore) <-chan struct{} {
	t.Helper()
	heard := make(chan struct{}, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		st.Listen(ctx, quiet, func() { heard <- struct{}{} })
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return heard
}

func expectChange(t *testing.T, heard <-chan struct{}, when string) {
	t.Helper()
	select {
	case <-heard:
	case <-time.After(15 * time.Second):
		t.Fatalf("no change heard %s", when)
	}
}

func poll(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func snapshot(t *testing.T, st LiveStore, top int, comics ...int) store.Snapshot {
	t.Helper()
	s, err := st.Snapshot(t.Context(), top, comics)
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	return s
}

func setWatchers(t *testing.T, st LiveStore, instance string, n int, ttl time.Duration) {
	t.Helper()
	if err := st.SetWatchers(t.Context(), instance, n, ttl); err != nil {
		t.Fatalf("SetWatchers(%s, %d): %v", instance, n, err)
	}
}

func mustAddViews(t *testing.T, st LiveStore, deltas ...store.Count) {
	t.Helper()
	if _, err := st.AddViews(t.Context(), deltas); err != nil {
		t.Fatalf("AddViews(%v): %v", deltas, err)
	}
}
