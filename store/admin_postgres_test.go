package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xkcdapp/xkcdapp/store/storetest"
)

// TestSetViewsRecordsTheCountItReplaced: a comic's first views, committed
// while an operator's change waits on them, are the old count in the
// audit row, not 0.
func TestSetViewsRecordsTheCountItReplaced(t *testing.T) {
	url := storetest.NewDatabase(t)
	s := storetest.NewPostgres(t, url)
	other, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())

	// Another writer (the counter on another instance) has inserted the
	// comic's first row, and not committed it yet.
	tx, err := other.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(t.Context(), `INSERT INTO comic_views (num, view_count) VALUES (8, 7)`); err != nil {
		t.Fatal(err)
	}

	type result struct {
		old int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		old, err := s.SetViews(t.Context(), 8, 3, "ops")
		done <- result{old, err}
	}()
	// Commit only once the change waits on the row.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var waiting int
		if err := other.QueryRow(t.Context(), `
			SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		select {
		case res := <-done:
			t.Fatalf("SetViews returned (%d, %v) before the insert it must wait for committed", res.old, res.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("SetViews never waited on the uncommitted row")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.err != nil {
		t.Fatalf("SetViews: %v", res.err)
	}
	if res.old != 7 {
		t.Errorf("SetViews(8, 3): got old %d, want 7, the count it replaced", res.old)
	}
	entries, _ := auditLog(t, s, 1, 0)
	if len(entries) != 1 || entries[0].OldViews != 7 || entries[0].NewViews != 3 {
		t.Errorf("audit entry: got %+v, want 7 to 3", entries)
	}
	if got := views(t, s, 8); got != 3 {
		t.Errorf("Views(8): got %d, want 3", got)
	}
}
