package store_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/xkcdapp/xkcdapp/store"
	"github.com/xkcdapp/xkcdapp/store/storetest"
	"github.com/xkcdapp/xkcdapp/xkcd"
)

// AdminStore is what the admin console needs of both stores.
type AdminStore interface {
	Store
	SetViews(ctx context.Context, num int, views int64, actor string) (int64, error)
	Audit(ctx context.Context, actor, action, detail string) error
	AuditLog(ctx context.Context, limit, offset int) ([]store.AuditEntry, int, error)
	ViewCounts(ctx context.Context, q store.CountQuery) (store.CountPage, error)
}

var (
	_ AdminStore = (*store.Memory)(nil)
	_ AdminStore = (*store.Postgres)(nil)
)

func TestMemoryAdmin(t *testing.T) {
	testAdminStore(t, func(t *testing.T) AdminStore { return store.NewMemory() })
}

func TestPostgresAdmin(t *testing.T) {
	testAdminStore(t, func(t *testing.T) AdminStore { return storetest.NewPostgres(t, storetest.NewDatabase(t)) })
}

// testAdminStore is the admin part of the contract.
func testAdminStore(t *testing.T, newStore func(t *testing.T) AdminStore) {
	t.Run("SetViews sets, audits and returns the old count", func(t *testing.T) {
		s := newStore(t)
		addViews(t, s, store.Count{Num: 5, Views: 40})
		before := time.Now().Add(-time.Minute)
		if old := setViews(t, s, 5, 3, "ops"); old != 40 {
			t.Errorf("SetViews(5, 3): got old %d, want 40", old)
		}
		if old := setViews(t, s, 7, 12, "ops2"); old != 0 {
			t.Errorf("SetViews(7, 12) of an unviewed comic: got old %d, want 0", old)
		}
		if old := setViews(t, s, 5, 0, "ops"); old != 3 {
			t.Errorf("SetViews(5, 0): got old %d, want 3", old)
		}
		for num, want := range map[int]int64{5: 0, 7: 12} {
			if got := views(t, s, num); got != want {
				t.Errorf("Views(%d): got %d, want %d", num, got, want)
			}
		}
		// Views counted after a change add to the count set.
		assertCounts(t, "AddViews after SetViews", addViews(t, s, store.Count{Num: 7, Views: 2}), []store.Count{{Num: 7, Views: 14}})
		if got, want := top(t, s, 10), []store.Count{{Num: 7, Views: 14}}; !slices.Equal(got, want) {
			t.Errorf("TopComics after a reset to 0: got %v, want %v", got, want)
		}

		entries, total := auditLog(t, s, 10, 0)
		if total != 3 || len(entries) != 3 {
			t.Fatalf("AuditLog: got %d entries of %d, want 3 of 3", len(entries), total)
		}
		want := []store.AuditEntry{
			{Actor: "ops", Action: store.ActionSetViews, Comic: 5, OldViews: 3, NewViews: 0},
			{Actor: "ops2", Action: store.ActionSetViews, Comic: 7, OldViews: 0, NewViews: 12},
			{Actor: "ops", Action: store.ActionSetViews, Comic: 5, OldViews: 40, NewViews: 3},
		}
		for i, e := range entries {
			if e.At.Before(before) || e.At.After(time.Now().Add(time.Minute)) {
				t.Errorf("entry %d At: got %v, want about now", i, e.At)
			}
			if i > 0 && e.ID >= entries[i-1].ID {
				t.Errorf("entry %d ID: got %d after %d, want newest first", i, e.ID, entries[i-1].ID)
			}
			e.ID, e.At = 0, time.Time{}
			if e != want[i] {
				t.Errorf("entry %d: got %+v, want %+v", i, e, want[i])
			}
		}
	})

	t.Run("SetViews refuses what cannot be", func(t *testing.T) {
		s := newStore(t)
		for _, c := range []struct {
			num   int
			views int64
		}{{0, 1}, {-1, 1}, {3, -1}} {
			if _, err := s.SetViews(t.Context(), c.num, c.views, "ops"); err == nil {
				t.Errorf("SetViews(%d, %d): got nil, want an error", c.num, c.views)
			}
		}
		if _, total := auditLog(t, s, 10, 0); total != 0 {
			t.Errorf("audit entries after refused changes: got %d, want 0", total)
		}
	})

	t.Run("SetViews among concurrent views loses none after it", func(t *testing.T) {
		s := newStore(t)
		addViews(t, s, store.Count{Num: 3, Views: 1000})
		var wg sync.WaitGroup
		var mu sync.Mutex
		var afterSet int64 // views whose batch committed a count above the set one's line
		start := make(chan struct{})
		for range 4 {
			wg.Go(func() {
				<-start
				for range 25 {
					got := addViews(t, s, store.Count{Num: 3, Views: 1})
					mu.Lock()
					if got[0].Views < 1000 {
						afterSet++
					}
					mu.Unlock()
				}
			})
		}
		close(start)
		setViews(t, s, 3, 0, "ops")
		wg.Wait()
		// Every view either landed before the set (and was replaced) or
		// after it (and is counted on top of 0).
		if got := views(t, s, 3); got != afterSet {
			t.Errorf("Views(3): got %d, want the %d views committed after the set", got, afterSet)
		}
		entries, _ := auditLog(t, s, 1, 0)
		if len(entries) != 1 || entries[0].OldViews < 1000 || entries[0].OldViews > 1100 {
			t.Errorf("audit entry: got %+v, want the old count between 1000 and 1100", entries)
		}
	})

	t.Run("Audit and AuditLog pages", func(t *testing.T) {
		s := newStore(t)
		for _, a := range []string{store.ActionSignIn, store.ActionSync, store.ActionSignOut} {
			if err := s.Audit(t.Context(), "ops", a, "from 192.0.2.1"); err != nil {
				t.Fatalf("Audit(%s): %v", a, err)
			}
		}
		setViews(t, s, 9, 1, "ops")
		actions := func(entries []store.AuditEntry) []string {
			var out []string
			for _, e := range entries {
				out = append(out, e.Action)
			}
			return out
		}
		tests := []struct {
			limit, offset int
			want          []string
		}{
			{10, 0, []string{store.ActionSetViews, store.ActionSignOut, store.ActionSync, store.ActionSignIn}},
			{2, 0, []string{store.ActionSetViews, store.ActionSignOut}},
			{2, 2, []string{store.ActionSync, store.ActionSignIn}},
			{2, 3, []string{store.ActionSignIn}},
			{2, 4, nil},
			{2, 400, nil},
			{0, 0, nil},
			{-5, -5, nil},
		}
		for _, tt := range tests {
			entries, total := auditLog(t, s, tt.limit, tt.offset)
			if got := actions(entries); !slices.Equal(got, tt.want) || total != 4 {
				t.Errorf("AuditLog(%d, %d): got %v of %d, want %v of 4", tt.limit, tt.offset, got, total, tt.want)
			}
		}
		entries, _ := auditLog(t, s, 10, 0)
		if last := entries[len(entries)-1]; last.Detail != "from 192.0.2.1" || last.Actor != "ops" || last.Comic != 0 {
			t.Errorf("sign-in entry: got %+v, want actor ops, detail kept, no comic", last)
		}
	})

	t.Run("ViewCounts", func(t *testing.T) {
		s := newStore(t)
		for _, c := range []xkcd.Comic{
			{Num: 1, Title: "Barrel - Part 1"}, {Num: 2, Title: "Petit Trees (sketch)"}, {Num: 3, Title: "Island (sketch)"},
			{Num: 10, Title: "Pi Equals"}, {Num: 12, Title: "Poisson"}, {Num: 21, Title: "Kepler"}, {Num: 100, Title: "100% Fine_print"},
		} {
			c.SafeTitle = c.Title
			putComic(t, s, c)
		}
		// 40 is viewed but not cached; 1 and 10 tie.
		addViews(t, s, store.Count{Num: 1, Views: 5}, store.Count{Num: 10, Views: 5}, store.Count{Num: 3, Views: 9}, store.Count{Num: 40, Views: 2})
		numsOf := func(p store.CountPage) []int {
			var out []int
			for _, r := range p.Rows {
				out = append(out, r.Num)
			}
			return out
		}
		tests := []struct {
			name      string
			q         store.CountQuery
			want      []int
			wantTotal int
		}{
			{"all by views", store.CountQuery{Sort: store.SortViews, Limit: 100}, []int{3, 1, 10, 40, 2, 12, 21, 100}, 8},
			{"all by number", store.CountQuery{Sort: store.SortNum, Limit: 100}, []int{1, 2, 3, 10, 12, 21, 40, 100}, 8},
			{"a page", store.CountQuery{Sort: store.SortNum, Limit: 3, Offset: 3}, []int{10, 12, 21}, 8},
			{"past the end", store.CountQuery{Sort: store.SortNum, Limit: 3, Offset: 30}, nil, 8},
			{"limit bounded", store.CountQuery{Sort: store.SortNum, Limit: 1000}, []int{1, 2, 3, 10, 12, 21, 40, 100}, 8},
			{"title, any case", store.CountQuery{Search: "SKETCH", Sort: store.SortNum, Limit: 10}, []int{2, 3}, 2},
			{"part of a title", store.CountQuery{Search: "pi", Sort: store.SortViews, Limit: 10}, []int{10}, 1},
			{"a number", store.CountQuery{Search: "12", Sort: store.SortNum, Limit: 10}, []int{12}, 1},
			{"a number with #", store.CountQuery{Search: " #21 ", Sort: store.SortNum, Limit: 10}, []int{21}, 1},
			{"a number matches titles too", store.CountQuery{Search: "1", Sort: store.SortNum, Limit: 10}, []int{1, 100}, 2},
			{"an uncached comic by number", store.CountQuery{Search: "40", Sort: store.SortNum, Limit: 10}, []int{40}, 1},
			{"percent is no wildcard", store.CountQuery{Search: "%", Sort: store.SortNum, Limit: 10}, []int{100}, 1},
			{"underscore is no wildcard", store.CountQuery{Search: "e_p", Sort: store.SortNum, Limit: 10}, []int{100}, 1},
			{"nothing matches", store.CountQuery{Search: "zebra", Sort: store.SortNum, Limit: 10}, nil, 0},
			{"a number past any comic's", store.CountQuery{Search: "#4294967297", Sort: store.SortNum, Limit: 10}, nil, 0},
			{"a long number", store.CountQuery{Search: "99999999999", Sort: store.SortNum, Limit: 10}, nil, 0},
			{"a NUL matches nothing", store.CountQuery{Search: "Pi\x00", Sort: store.SortNum, Limit: 10}, nil, 0},
			{"bytes that are not UTF-8 match nothing", store.CountQuery{Search: "\xff", Sort: store.SortNum, Limit: 10}, nil, 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				page, err := s.ViewCounts(t.Context(), tt.q)
				if err != nil {
					t.Fatalf("ViewCounts(%+v): %v", tt.q, err)
				}
				if got := numsOf(page); !slices.Equal(got, tt.want) || page.Total != tt.wantTotal {
					t.Errorf("ViewCounts(%+v): got %v of %d, want %v of %d", tt.q, got, page.Total, tt.want, tt.wantTotal)
				}
			})
		}
		page, _ := s.ViewCounts(t.Context(), store.CountQuery{Search: "40", Sort: store.SortNum, Limit: 1})
		if want := []store.ComicCount{{Num: 40, Views: 2}}; !slices.Equal(page.Rows, want) {
			t.Errorf("uncached comic row: got %+v, want %+v", page.Rows, want)
		}
		page, _ = s.ViewCounts(t.Context(), store.CountQuery{Search: "3", Sort: store.SortNum, Limit: 1})
		if want := []store.ComicCount{{Num: 3, Title: "Island (sketch)", Views: 9}}; !slices.Equal(page.Rows, want) {
			t.Errorf("cached comic row: got %+v, want %+v", page.Rows, want)
		}
		if _, err := s.ViewCounts(t.Context(), store.CountQuery{Sort: "title; DROP TABLE comics"}); err == nil {
			t.Error("ViewCounts with an unknown sort: got nil, want an error")
		}
	})
}

func setViews(t *testing.T, s AdminStore, num int, views int64, actor string) int64 {
	t.Helper()
	old, err := s.SetViews(t.Context(), num, views, actor)
	if err != nil {
		t.Fatalf("SetViews(%d, %d): %v", num, views, err)
	}
	return old
}

func auditLog(t *testing.T, s AdminStore, limit, offset int) ([]store.AuditEntry, int) {
	t.Helper()
	entries, total, err := s.AuditLog(t.Context(), limit, offset)
	if err != nil {
		t.Fatalf("AuditLog(%d, %d): %v", limit, offset, err)
	}
	return entries, total
}
