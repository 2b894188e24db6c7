package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// Channel is the Postgres channel on which every change to live stats
// (a view batch, an instance's watchers) is announced.
const Channel = "xkcdapp_live"

// SparklineMinutes is how many minutes of views a Snapshot holds before
// the current one.
const SparklineMinutes = 60

// Minute is the views counted in one minute.
type Minute struct {
	Start time.Time
	Views int64
}

// Snapshot is everything live stats show, read at one moment.
type Snapshot struct {
	// Now is the store's clock at the read, so that every instance puts
	// minutes in the same place whatever its own clock says.
	Now time.Time
	// Total is every view ever counted.
	Total int64
	// Minutes are the minutes with views, from SparklineMinutes before
	// Now's minute up to Now's own, oldest first.
	Minutes []Minute
	// Top is the most viewed comics, as TopComics returns them.
	Top []Count
	// Counts has the count of every comic asked for, 0 when never viewed.
	Counts map[int]int64
	// Watchers is the open live streams of every instance whose count has
	// not expired.
	Watchers int64
}

// Snapshot reads the totals, the last hour's minutes, the top comics
// (none when top is 0), the counts of comics and the watchers, in one
// round trip.
func (p *Postgres) Snapshot(ctx context.Context, top int, comics []int) (Snapshot, error) {
	s := Snapshot{Counts: make(map[int]int64, len(comics))}
	b := &pgx.Batch{}
	b.Queue(`SELECT now(), coalesce(sum(view_count), 0)::bigint FROM comic_views`).QueryRow(func(row pgx.Row) error {
		return row.Scan(&s.Now, &s.Total)
	})
	b.Queue(`
		SELECT minute, views FROM view_minutes
		WHERE minute >= date_trunc('minute', now()) - make_interval(mins => $1)
		ORDER BY minute`, SparklineMinutes).Query(func(rows pgx.Rows) (err error) {
		s.Minutes, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Minute])
		return err
	})
	if top > 0 {
		b.Queue(topComicsSQL, min(top, MaxTop)).Query(func(rows pgx.Rows) (err error) {
			s.Top, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Count])
			return err
		})
	}
	if len(comics) > 0 {
		nums := make([]int32, len(comics))
		for i, n := range comics {
			nums[i] = int32(n)
			s.Counts[n] = 0
		}
		b.Queue(`SELECT num, view_count FROM comic_views WHERE num = ANY($1)`, nums).Query(func(rows pgx.Rows) error {
			counts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Count])
			for _, c := range counts {
				s.Counts[c.Num] = c.Views
			}
			return err
		})
	}
	b.Queue(`SELECT coalesce(sum(watchers), 0)::bigint FROM live_watchers WHERE expires_at > now()`).QueryRow(func(row pgx.Row) error {
		return row.Scan(&s.Watchers)
	})
	if err := p.pool.SendBatch(ctx, b).Close(); err != nil {
		return Snapshot{}, fmt.Errorf("store: snapshot: %w", err)
	}
	for i := range s.Minutes {
		s.Minutes[i].Start = s.Minutes[i].Start.UTC()
	}
	s.Now = s.Now.UTC()
	return s, nil
}

// SetWatchers records that instance has n open live streams, until ttl
// from now unless set again, and announces the change. An instance with
// none has no row.
func (p *Postgres) SetWatchers(ctx context.Context, instance string, n int, ttl time.Duration) error {
	b := &pgx.Batch{}
	if n > 0 {
		b.Queue(`
			INSERT INTO live_watchers AS w (instance, watchers, expires_at)
			VALUES ($1, $2, now() + $3::interval)
			ON CONFLICT (instance) DO UPDATE SET watchers = excluded.watchers, expires_at = excluded.expires_at`,
			instance, n, ttl)
	} else {
		b.Queue(`DELETE FROM live_watchers WHERE instance = $1`, instance)
	}
	// Rows of instances long gone would only ever be skipped: drop them.
	b.Queue(`DELETE FROM live_watchers WHERE expires_at < now() - interval '1 hour'`)
	b.Queue(`SELECT pg_notify($1, '')`, Channel)
	if err := p.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store: set watchers: %w", err)
	}
	return nil
}

// errNotListening is Listening's answer while Listen has not connected.
var errNotListening = errors.New("store: not listening for changes")

// listenState is whether Listen holds a connection that hears changes.
type listenState struct {
	mu  sync.Mutex
	up  bool
	err error // why not, when it was lost
}

func (l *listenState) set(up bool, err error) {
	l.mu.Lock()
	l.up, l.err = up, err
	l.mu.Unlock()
}

// Listening is nil while Listen holds a connection that hears changes,
// and otherwise says why not: live stats on this instance then hear of
// other instances' views only when a heartbeat re-reads them.
func (p *Postgres) Listening() error {
	l := &p.listening
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.up:
		return nil
	case l.err != nil:
		return l.err
	default:
		return errNotListening
	}
}

// listenBackoff bounds the wait between attempts to reconnect Listen.
const (
	listenFirstBackoff = 250 * time.Millisecond
	listenMaxBackoff   = 10 * time.Second
	// listenPing is how long Listen waits for a notification before it
	// checks that its connection is still alive.
	listenPing = 30 * time.Second
)

// Listen calls changed whenever any instance announces a change, until
// ctx ends. It holds a connection of its own, outside the pool; when that
// connection is lost it reconnects with backoff, and it calls changed
// after every (re)connect as well, since changes may have been missed
// meanwhile.
func (p *Postgres) Listen(ctx context.Context, log *slog.Logger, changed func()) {
	cfg := p.pool.Config().ConnConfig
	// A wait for notifications that times out is no query to cancel: a
	// deadline is enough, and the connection stays usable.
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	backoff := listenFirstBackoff
	failing := false
	defer p.listening.set(false, nil)
	for {
		err := listen(ctx, cfg, func() { p.listening.set(true, nil) }, changed)
		if ctx.Err() != nil {
			return
		}
		p.listening.set(false, fmt.Errorf("store: listen for changes: %w", err))
		if !failing {
			log.Warn("live stats: lost the connection that hears of changes; reconnecting", "err", err)
			failing = true
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if errors.Is(err, errListened) {
			// It had worked until the connection was lost: start over.
			backoff, failing = listenFirstBackoff, false
			continue
		}
		backoff = min(2*backoff, listenMaxBackoff)
	}
}

// errListened marks an error after LISTEN had succeeded.
var errListened = errors.New("listening")

// listen holds one connection listening on Channel until it fails or ctx
// ends.
func listen(ctx context.Context, cfg *pgx.ConnConfig, listening, changed func()) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{Channel}.Sanitize()); err != nil {
		return err
	}
	listening()
	changed()
	for {
		wctx, cancel := context.WithTimeout(ctx, listenPing)
		_, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			changed()
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err):
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return errors.Join(errListened, err)
			}
		default:
			return errors.Join(errListened, err)
		}
	}
}

// watcherRow is one instance's watchers in the memory store.
type watcherRow struct {
	n       int
	expires time.Time
}

// Snapshot reads what live stats show; see Postgres.Snapshot.
func (m *Memory) Snapshot(_ context.Context, top int, comics []int) (Snapshot, error) {
	m.mu.Lock()
	now := m.now().UTC()
	s := Snapshot{Now: now, Counts: make(map[int]int64, len(comics))}
	for _, v := range m.views {
		s.Total += v
	}
	minute := now.Unix() / 60
	for t, v := range m.minutes {
		if t >= minute-SparklineMinutes && t <= minute {
			s.Minutes = append(s.Minutes, Minute{Start: time.Unix(t*60, 0).UTC(), Views: v})
		}
	}
	for _, n := range comics {
		s.Counts[n] = m.views[n]
	}
	for _, w := range m.watchers {
		if w.expires.After(now) {
			s.Watchers += int64(w.n)
		}
	}
	m.mu.Unlock()
	slices.SortFunc(s.Minutes, func(a, b Minute) int { return a.Start.Compare(b.Start) })
	if top > 0 {
		s.Top, _ = m.TopComics(context.Background(), top)
	}
	return s, nil
}

// SetWatchers records instance's open live streams; see Postgres.SetWatchers.
func (m *Memory) SetWatchers(_ context.Context, instance string, n int, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n > 0 {
		m.watchers[instance] = watcherRow{n: n, expires: m.now().Add(ttl)}
	} else {
		delete(m.watchers, instance)
	}
	m.announce()
	return nil
}

// Listening is always nil: the memory store hears its own changes.
func (m *Memory) Listening() error { return nil }

// Listen calls changed after every change to this store until ctx ends,
// and once at the start, as Postgres.Listen does on connecting.
func (m *Memory) Listen(ctx context.Context, _ *slog.Logger, changed func()) {
	ch := make(chan struct{}, 1)
	m.mu.Lock()
	m.listeners[ch] = struct{}{}
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.listeners, ch)
		m.mu.Unlock()
	}()
	changed()
	for {
		select {
		case <-ch:
			changed()
		case <-ctx.Done():
			return
		}
	}
}

// announce wakes every listener; a listener already woken stays woken
// once. m.mu must be held.
func (m *Memory) announce() {
	for ch := range m.listeners {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
