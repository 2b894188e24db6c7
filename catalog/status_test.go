package catalog_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/xkcdapp/xkcdapp/catalog"
	"github.com/xkcdapp/xkcdapp/store"
)

func TestSyncNow(t *testing.T) {
	srv := newUpstream(t, 30)
	c := newCatalog(t, srv, store.NewMemory())
	ctx, cancel := context.WithCancel(t.Context())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		c.Run(ctx, time.Hour)
	}()
	t.Cleanup(func() { cancel(); <-stopped })

	waitFor(t, 10*time.Second, "the first sync", func() bool { return !c.Status().LastRun.Finished.IsZero() })
	first := c.Status().LastRun
	if first.Err != nil || first.Started.After(first.Finished) {
		t.Errorf("LastRun after the first sync: got %+v, want a start, a finish and no error", first)
	}

	// New comics; the next sync is an hour away, unless asked for now.
	srv.SetLatest(35)
	srv.SetDelay(100 * time.Millisecond)
	if err := c.SyncNow(); err != nil {
		t.Fatalf("SyncNow: got %v, want nil", err)
	}
	if err := c.SyncNow(); !errors.Is(err, catalog.ErrSyncRunning) {
		t.Errorf("SyncNow again at once: got %v, want ErrSyncRunning", err)
	}
	if !c.Status().Syncing {
		t.Error("Status.Syncing after SyncNow: got false, want true")
	}
	waitFor(t, 10*time.Second, "the sync asked for", func() bool {
		st := c.Status()
		return !st.Syncing && st.LastRun.Finished.After(first.Finished)
	})
	if st := c.Status(); st.Cached != 35 || st.Latest != 35 || st.LastRun.Err != nil {
		t.Errorf("Status after SyncNow: got cached %d latest %d err %v, want 35, 35, nil", st.Cached, st.Latest, st.LastRun.Err)
	}

	// A sync that fails says so, and the error is remembered.
	srv.SetDelay(0)
	srv.SetFailing(http.StatusInternalServerError)
	second := c.Status().LastRun
	if err := c.SyncNow(); err != nil {
		t.Fatalf("SyncNow: got %v, want nil", err)
	}
	waitFor(t, 10*time.Second, "the failing sync", func() bool {
		st := c.Status()
		return !st.Syncing && st.LastRun.Finished.After(second.Finished)
	})
	if c.Status().LastRun.Err == nil {
		t.Error("LastRun.Err with upstream failing: got nil, want an error")
	}
	if errs := c.RecentErrors(); len(errs) == 0 || errs[0].Num != 0 || errs[0].Err == "" || errs[0].At.IsZero() {
		t.Errorf("RecentErrors: got %+v, want the failed call for the latest comic first", errs)
	}
}

func TestRecentErrorsBounded(t *testing.T) {
	srv := newUpstream(t, 30)
	c := newCatalog(t, srv, store.NewMemory())
	if err := c.RefreshLatest(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv.SetFailing(http.StatusServiceUnavailable)
	for n := 1; n <= 15; n++ {
		if _, err := c.Comic(t.Context(), n); !errors.Is(err, catalog.ErrUnavailable) {
			t.Fatalf("Comic(%d) with upstream failing: got %v, want ErrUnavailable", n, err)
		}
	}
	errs := c.RecentErrors()
	var nums []int
	for _, e := range errs {
		nums = append(nums, e.Num)
	}
	if len(nums) != 10 || nums[0] != 15 || nums[9] != 6 {
		t.Errorf("RecentErrors: got comics %v, want the last ten, newest first (15 down to 6)", nums)
	}
}
