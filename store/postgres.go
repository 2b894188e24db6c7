package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"

	"github.com/xkcdapp/xkcdapp/migrations"
	"github.com/xkcdapp/xkcdapp/xkcd"
)

// Postgres is the store of record.
type Postgres struct {
	pool      *pgxpool.Pool
	listening listenState
}

// OpenPostgres connects to the database at url. It does not wait for the
// server: the pool dials on first use, so a database that is down at start
// does not stop the app from serving.
func OpenPostgres(ctx context.Context, url string, maxConns int32) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: parse database url: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: open database: %w", err)
	}
	return &Postgres{pool: pool}, nil
}

// Close waits for borrowed connections and closes the pool.
func (p *Postgres) Close() { p.pool.Close() }

// Ping checks that the database answers.
func (p *Postgres) Ping(ctx context.Context) error {
	if err := p.pool.Ping(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Migrate applies every pending migration. tern holds a Postgres advisory
// lock meanwhile, so tasks that start together migrate once.
func (p *Postgres) Migrate(ctx context.Context) error {
	conn, err := p.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	defer conn.Release()
	m, err := migrate.NewMigrator(ctx, conn.Conn(), "public.schema_version")
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	if err := loadMigrations(m, migrations.FS); err != nil {
		return fmt.Errorf("store: load migrations: %w", err)
	}
	if err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return nil
}

// loadMigrations gives m the numbered files of fsys, split as tern splits
// them into the SQL that migrates up and the SQL that undoes it. Unlike
// tern's own LoadMigrations it expands no templates: running text/template
// makes the linker keep every exported method in the binary, some 3 MB.
func loadMigrations(m *migrate.Migrator, fsys fs.FS) error {
	names, err := migrate.FindMigrations(fsys)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return migrate.NoMigrationsFoundError{}
	}
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte("{{")) {
			return fmt.Errorf("%s: templates are not expanded; write plain SQL", name)
		}
		up, down, _ := strings.Cut(string(b), "---- create above / drop below ----")
		if !hasSQL(up) {
			return fmt.Errorf("%s: %w", name, migrate.ErrNoFwMigration)
		}
		m.AppendMigration(name, strings.TrimSpace(up), strings.TrimSpace(down))
	}
	return nil
}

// hasSQL reports whether sql is more than blank lines and -- comments.
func hasSQL(sql string) bool {
	for line := range strings.Lines(sql) {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "--") {
			return true
		}
	}
	return false
}

// Comics returns every cached comic, in number order.
func (p *Postgres) Comics(ctx context.Context) ([]xkcd.Comic, error) {
	rows, err := p.pool.Query(ctx, `
		SELECT num, title, safe_title, alt, img, transcript, link, news, published, extra_parts
		FROM comics ORDER BY num`)
	if err != nil {
		return nil, fmt.Errorf("store: comics: %w", err)
	}
	comics, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (xkcd.Comic, error) {
		var c xkcd.Comic
		var published pgtype.Date
		var extra []byte
		err := row.Scan(&c.Num, &c.Title, &c.SafeTitle, &c.Alt, &c.Img, &c.Transcript,
			&c.Link, &c.News, &published, &extra)
		if published.Valid {
			c.Published = published.Time
		}
		if len(extra) > 0 {
			c.ExtraParts = extra
		}
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: comics: %w", err)
	}
	return comics, nil
}

// PutComic caches a comic, replacing any earlier copy.
func (p *Postgres) PutComic(ctx context.Context, c xkcd.Comic) error {
	published := pgtype.Date{Time: c.Published, Valid: !c.Published.IsZero()}
	var extra []byte
	if len(c.ExtraParts) > 0 {
		extra = c.ExtraParts
	}
	_, err := p.pool.Exec(ctx, `
		INSERT INTO comics (num, title, safe_title, alt, img, transcript, link, news, published, extra_parts)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (num) DO UPDATE SET
			title = excluded.title, safe_title = excluded.safe_title, alt = excluded.alt,
			img = excluded.img, transcript = excluded.transcript, link = excluded.link,
			news = excluded.news, published = excluded.published,
			extra_parts = excluded.extra_parts, fetched_at = now()`,
		c.Num, c.Title, c.SafeTitle, c.Alt, c.Img, c.Transcript, c.Link, c.News, published, extra)
	if err != nil {
		return fmt.Errorf("store: put comic %d: %w", c.Num, err)
	}
	return nil
}

// AddViews adds each delta to its comic's count and the views to the
// current minute, announces the change to every instance listening, and
// returns the counts committed. The three statements go in one round trip
// with one Sync, so they are one transaction: the announcement is sent
// only if the views commit. The increment happens in the database, so
// there is no read-modify-write.
func (p *Postgres) AddViews(ctx context.Context, deltas []Count) ([]Count, error) {
	deltas = normalize(deltas)
	if len(deltas) == 0 {
		return nil, nil
	}
	nums := make([]int32, len(deltas))
	views := make([]int64, len(deltas))
	var total int64
	for i, d := range deltas {
		nums[i], views[i] = int32(d.Num), d.Views
		total += d.Views
	}
	var counts []Count
	b := &pgx.Batch{}
	b.Queue(`
		INSERT INTO comic_views AS v (num, view_count)
		SELECT * FROM unnest($1::integer[], $2::bigint[]) ORDER BY 1
		ON CONFLICT (num) DO UPDATE
			SET view_count = v.view_count + excluded.view_count, updated_at = now()
		RETURNING num, view_count`, nums, views).Query(func(rows pgx.Rows) (err error) {
		counts, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Count])
		return err
	})
	b.Queue(`
		INSERT INTO view_minutes AS m (minute, views) VALUES (date_trunc('minute', now()), $1)
		ON CONFLICT (minute) DO UPDATE SET views = m.views + excluded.views`, total)
	b.Queue(`SELECT pg_notify($1, '')`, Channel)
	if err := p.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("store: add views: %w", err)
	}
	return counts, nil
}

// Views returns one comic's count, 0 for a comic never viewed.
func (p *Postgres) Views(ctx context.Context, num int) (int64, error) {
	var n int64
	err := p.pool.QueryRow(ctx, `SELECT view_count FROM comic_views WHERE num = $1`, num).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: views of %d: %w", num, err)
	}
	return n, nil
}

// topComicsSQL reads the $1 most viewed comics, for TopComics and the
// live stats' Snapshot alike.
const topComicsSQL = `
	SELECT num, view_count FROM comic_views
	WHERE view_count > 0
	ORDER BY view_count DESC, num
	LIMIT $1`

// TopComics returns up to limit (at most MaxTop) viewed comics, most viewed first and ties
// broken by the lower number.
func (p *Postgres) TopComics(ctx context.Context, limit int) ([]Count, error) {
	rows, err := p.pool.Query(ctx, topComicsSQL, min(max(limit, 0), MaxTop))
	if err != nil {
		return nil, fmt.Errorf("store: top comics: %w", err)
	}
	top, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Count])
	if err != nil {
		return nil, fmt.Errorf("store: top comics: %w", err)
	}
	return top, nil
}
