package counter_test

import (
	"testing"
	"time"

	"github.com/xkcdapp/xkcdapp/store"
)

// TestCountSetByAnOperator: after an operator sets a comic's count, the
// counts handed out before a commit (the database down) follow the new
// count, not the old one, on the instance that set it (Forget) and on
// any other (at its next commit).
func TestCountSetByAnOperator(t *testing.T) {
	setup := func(t *testing.T) (*spyStore, *store.Memory) {
		t.Helper()
		mem := store.NewMemory()
		return &spyStore{viewStore: mem}, mem
	}

	t.Run("on the instance that set it", func(t *testing.T) {
		s, mem := setup(t)
		c := newCounter(t, s, nil)
		for range 30 {
			record(t, c, 5)
		}
		if _, err := mem.SetViews(t.Context(), 5, 2, "ops"); err != nil {
			t.Fatal(err)
		}
		c.Forget(5)
		s.down.Store(true)
		if got := record(t, c, 5); got != 0 {
			t.Errorf("Record(5), store down, after the count was set to 2: got %d, want 0 (unknown), not 31", got)
		}
		s.down.Store(false)
		waitFor(t, 10*time.Second, "the held view written", func() bool { return c.Held() == 0 })
		if got := record(t, c, 5); got != 4 {
			t.Errorf("Record(5), store back: got %d, want 4 (2 set, the held view, this one)", got)
		}
		s.down.Store(true)
		if got := record(t, c, 5); got != 5 {
			t.Errorf("Record(5), store down again: got %d, want the estimate 5", got)
		}
	})

	t.Run("on another instance", func(t *testing.T) {
		s, mem := setup(t)
		c := newCounter(t, s, nil)
		for range 30 {
			record(t, c, 5)
		}
		if _, err := mem.SetViews(t.Context(), 5, 2, "ops"); err != nil {
			t.Fatal(err)
		}
		// This counter was not told: its next commit tells it.
		if got := record(t, c, 5); got != 3 {
			t.Errorf("Record(5) after the count was set to 2: got %d, want 3", got)
		}
		s.down.Store(true)
		if got := record(t, c, 5); got != 4 {
			t.Errorf("Record(5), store down: got %d, want the estimate 4, not 32", got)
		}
	})
}
