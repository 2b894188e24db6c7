package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// SetViews sets comic num's count to views and records the change, old
// and new, in the audit log, in one transaction. It returns the old count.
func (p *Postgres) SetViews(ctx context.Context, num int, views int64, actor string) (int64, error) {
	if num < 1 || views < 0 {
		return 0, fmt.Errorf("store: set views of %d to %d: out of range", num, views)
	}
	var old int64
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		// Lock the row, made if need be, before reading the old count: a
		// SELECT ... FOR UPDATE alone would not see a first row another
		// writer has yet to commit, and would record 0 for what it replaced.
		// The lock also orders this change with the counter's batches.
		if err := tx.QueryRow(ctx, `
			INSERT INTO comic_views AS v (num, view_count) VALUES ($1, 0)
			ON CONFLICT (num) DO UPDATE SET view_count = v.view_count
			RETURNING view_count`, num).Scan(&old); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE comic_views SET view_count = $2, updated_at = now() WHERE num = $1`,
			num, views); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO admin_audit (actor, action, comic, old_views, new_views)
			VALUES ($1, $2, $3, $4, $5)`, actor, ActionSetViews, num, old, views); err != nil {
			return err
		}
		// Live stats on every instance hear of the new count when it commits.
		_, err := tx.Exec(ctx, `SELECT pg_notify($1, '')`, Channel)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: set views of %d: %w", num, err)
	}
	return old, nil
}

// Audit records something an operator did that changed no count.
func (p *Postgres) Audit(ctx context.Context, actor, action, detail string) error {
	_, err := p.pool.Exec(ctx, `INSERT INTO admin_audit (actor, action, detail) VALUES ($1, $2, $3)`, actor, action, detail)
	if err != nil {
		return fmt.Errorf("store: audit %s: %w", action, err)
	}
	return nil
}

// AuditLog returns up to limit (at most MaxPage) entries, newest first,
// after skipping offset, and how many there are in all.
func (p *Postgres) AuditLog(ctx context.Context, limit, offset int) ([]AuditEntry, int, error) {
	var total int
	if err := p.pool.QueryRow(ctx, `SELECT count(*) FROM admin_audit`).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: audit log: %w", err)
	}
	rows, err := p.pool.Query(ctx, `
		SELECT id, at, actor, action, coalesce(comic, 0), coalesce(old_views, 0), coalesce(new_views, 0), detail
		FROM admin_audit ORDER BY id DESC LIMIT $1 OFFSET $2`, limitOf(limit), max(offset, 0))
	if err != nil {
		return nil, 0, fmt.Errorf("store: audit log: %w", err)
	}
	entries, err := pgx.CollectRows(rows, pgx.RowToStructByPos[AuditEntry])
	if err != nil {
		return nil, 0, fmt.Errorf("store: audit log: %w", err)
	}
	return entries, total, nil
}

// countOrders are the ORDER BY clauses of ViewCounts, by sort.
var countOrders = map[string]string{
	SortViews: "views DESC, num",
	SortNum:   "num",
}

// ViewCounts returns a page of comics with their counts.
func (p *Postgres) ViewCounts(ctx context.Context, q CountQuery) (CountPage, error) {
	order, ok := countOrders[q.Sort]
	if !ok {
		return CountPage{}, fmt.Errorf("store: view counts: unknown sort %q", q.Sort)
	}
	search := strings.TrimSpace(q.Search)
	if unmatchable(search) {
		return CountPage{}, nil
	}
	// ILIKE would read % and _ in the search as wildcards.
	pattern := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(search) + "%"
	const from = `
		FROM comics c FULL JOIN comic_views v ON v.num = c.num
		WHERE $1 = '' OR coalesce(c.num, v.num) = $2 OR c.title ILIKE $3`
	args := []any{search, searchNum(search), pattern}
	var page CountPage
	if err := p.pool.QueryRow(ctx, `SELECT count(*)`+from, args...).Scan(&page.Total); err != nil {
		return CountPage{}, fmt.Errorf("store: view counts: %w", err)
	}
	rows, err := p.pool.Query(ctx, `
		SELECT coalesce(c.num, v.num) AS num, coalesce(c.title, ''), coalesce(v.view_count, 0) AS views`+from+`
		ORDER BY `+order+` LIMIT $4 OFFSET $5`, append(args, limitOf(q.Limit), max(q.Offset, 0))...)
	if err != nil {
		return CountPage{}, fmt.Errorf("store: view counts: %w", err)
	}
	if page.Rows, err = pgx.CollectRows(rows, pgx.RowToStructByPos[ComicCount]); err != nil {
		return CountPage{}, fmt.Errorf("store: view counts: %w", err)
	}
	return page, nil
}
