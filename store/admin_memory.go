package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SetViews sets comic num's count to views and records the change, old
// and new, in the audit log, under one lock. It returns the old count.
func (m *Memory) SetViews(_ context.Context, num int, views int64, actor string) (int64, error) {
	if num < 1 || views < 0 {
		return 0, fmt.Errorf("store: set views of %d to %d: out of range", num, views)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.views[num]
	m.views[num] = views
	m.audit = append(m.audit, AuditEntry{ID: int64(len(m.audit) + 1), At: time.Now(), Actor: actor,
		Action: ActionSetViews, Comic: num, OldViews: old, NewViews: views})
	m.announce()
	return old, nil
}

// Audit records something an operator did that changed no count.
func (m *Memory) Audit(_ context.Context, actor, action, detail string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.audit = append(m.audit, AuditEntry{ID: int64(len(m.audit) + 1), At: time.Now(), Actor: actor, Action: action, Detail: detail})
	return nil
}

// AuditLog returns up to limit (at most MaxPage) entries, newest first,
// after skipping offset, and how many there are in all.
func (m *Memory) AuditLog(_ context.Context, limit, offset int) ([]AuditEntry, int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	total := len(m.audit)
	end := max(total-max(offset, 0), 0)
	start := max(end-limitOf(limit), 0)
	out := slices.Clone(m.audit[start:end])
	slices.Reverse(out)
	return out, total, nil
}

// ViewCounts returns a page of comics with their counts.
func (m *Memory) ViewCounts(_ context.Context, q CountQuery) (CountPage, error) {
	var order func(a, b ComicCount) int
	switch q.Sort {
	case SortViews:
		order = func(a, b ComicCount) int { return cmp.Or(cmp.Compare(b.Views, a.Views), cmp.Compare(a.Num, b.Num)) }
	case SortNum:
		order = func(a, b ComicCount) int { return cmp.Compare(a.Num, b.Num) }
	default:
		return CountPage{}, fmt.Errorf("store: view counts: unknown sort %q", q.Sort)
	}
	search := strings.TrimSpace(q.Search)
	if unmatchable(search) {
		return CountPage{}, nil
	}
	num, part := searchNum(search), strings.ToLower(search)
	m.mu.Lock()
	var rows []ComicCount
	add := func(n int, title string) {
		if search == "" || n == num || (title != "" && strings.Contains(strings.ToLower(title), part)) {
			rows = append(rows, ComicCount{Num: n, Title: title, Views: m.views[n]})
		}
	}
	for n, c := range m.comics {
		add(n, c.Title)
	}
	for n := range m.views {
		if _, cached := m.comics[n]; !cached {
			add(n, "")
		}
	}
	m.mu.Unlock()
	slices.SortFunc(rows, order)
	start := min(max(q.Offset, 0), len(rows))
	end := min(start+limitOf(q.Limit), len(rows))
	return CountPage{Rows: rows[start:end], Total: len(rows)}, nil
}
