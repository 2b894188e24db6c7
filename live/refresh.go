package live

import (
	"bytes"
	"context"
	"slices"
	"time"

	"github.com/a-h/templ"

	"github.com/xkcdapp/xkcdapp/store"
	"github.com/xkcdapp/xkcdapp/views"
)

// shown is what one topic's streams were last sent; it belongs to Run.
type shown struct {
	rows  []views.Ranked
	views int64
}

// statsShown is the totals and sparkline last sent, shared by every
// leaderboard.
type statsShown struct {
	stats         views.StatsView
	totals, spark []byte
	totalsChanged bool
	sparkChanged  bool
}

// watcherTTL is how long this instance's watcher count stands unless
// shared again; it is shared at least every heartbeat.
func (h *Hub) watcherTTL() time.Duration { return 3 * h.heartbeat }

// refresh shares this instance's watchers when they changed, reads the
// stats, and sends each topic's streams what changed for them.
func (h *Hub) refresh(ctx context.Context) {
	h.mu.Lock()
	streams := h.streams
	// Half a beat, not a whole: a beat's refresh comes a little under a
	// beat after the last share, and must not wait for the next.
	share := streams != h.published || time.Since(h.sharedAt) >= h.heartbeat/2
	top, comics := 0, []int(nil)
	for t := range h.topics {
		top = max(top, t.Top)
		if t.Comic > 0 {
			comics = append(comics, t.Comic)
		}
	}
	following := len(h.topics) > 0
	h.mu.Unlock()

	rctx, cancel := context.WithTimeout(ctx, h.readWait)
	defer cancel()
	if share {
		// Shared before the read, so that this instance's own streams are
		// in the count it shows.
		if err := h.src.SetWatchers(rctx, h.instance, streams, h.watcherTTL()); err != nil {
			h.failed("share watchers", err)
			return
		}
		h.mu.Lock()
		h.published, h.sharedAt = streams, time.Now()
		h.mu.Unlock()
	}
	if !following {
		return
	}
	start := time.Now()
	snap, err := h.src.Snapshot(rctx, top, comics)
	if err != nil {
		h.failed("read", err)
		return
	}
	if h.failing {
		h.log.Info("live stats: the store answers again")
		h.failing = false
	}
	read := time.Since(start)
	h.send(snap, top)
	if took := time.Since(start); took > h.interval {
		h.log.Warn("live stats: slow refresh; updates are late", "read", read, "took", took, "streams", streams)
	}
}

// failed logs the first failure of a run of them; streams keep what they
// were last sent, and the next change or heartbeat tries again.
func (h *Hub) failed(what string, err error) {
	if !h.failing {
		h.log.Warn("live stats: cannot "+what+" the stats; streams show the last ones until the store answers", "err", err)
		h.failing = true
	}
}

// send renders each followed topic's changes once and sends the same bytes
// to all its streams. A topic first followed during the read, which the
// read did not cover (a comic not asked for, more rows than top), waits
// for the next refresh, which its Subscribe asked for.
func (h *Hub) send(snap store.Snapshot, top int) {
	stats := h.statsFrom(snap)
	h.updateStats(stats)

	h.mu.Lock()
	out := h.deliveries()
	defer func() {
		h.mu.Unlock()
		h.dispatch(out)
	}()
	for t, tp := range h.topics {
		was := tp.shown
		var f frames
		if t.Comic > 0 {
			n, read := snap.Counts[t.Comic]
			if !read {
				continue
			}
			f = h.comicFrames(n, was)
			tp.shown = &shown{views: n}
		} else {
			if t.Top > top {
				continue
			}
			rows := h.rank(snap.Top[:min(t.Top, len(snap.Top))], was)
			f = h.boardFrames(t.Top, rows, was)
			tp.shown = &shown{rows: rows}
		}
		if f.current != nil {
			tp.current = f.current
		}
		if was == nil {
			// A new topic's streams have had nothing yet.
			f.update, f.whole = f.current, f.current
		}
		if f.update != nil {
			out.offer(tp, f.update, f.whole)
		}
	}
}

// frames are what one refresh has for a topic's streams: the update (only
// what changed, highlighted; nil when nothing did), the whole state
// highlighted the same, for a stream whose last update is still unsent,
// and the whole current state without highlights, for new streams.
type frames struct{ update, whole, current []byte }

// comicFrames are a comic's count's frames; each is its whole state.
func (h *Hub) comicFrames(n int64, was *shown) frames {
	if was != nil && was.views == n {
		return frames{}
	}
	changed := event(render(views.ChangedViewCount(n)))
	return frames{update: changed, whole: changed, current: event(render(views.ViewCount(n)))}
}

// boardFrames are a leaderboard's frames.
func (h *Hub) boardFrames(limit int, rows []views.Ranked, was *shown) frames {
	st := h.shownStats
	rowsChanged := was == nil || !sameRows(rows, was.rows)
	if !rowsChanged && !st.totalsChanged && !st.sparkChanged {
		return frames{}
	}
	table := render(views.Leaderboard(views.LeaderboardView{Limit: limit, Rows: rows, OOB: true}))
	var u bytes.Buffer
	if st.totalsChanged {
		u.Write(st.totals)
	}
	if st.sparkChanged {
		u.Write(st.spark)
	}
	if rowsChanged {
		u.Write(table)
	}
	whole := slices.Concat(st.totals, st.spark, table)
	current := slices.Concat(st.totals, st.spark,
		render(views.Leaderboard(views.LeaderboardView{Limit: limit, Rows: unmarked(rows), OOB: true})))
	return frames{update: event(u.Bytes()), whole: event(whole), current: event(current)}
}

// updateStats renders the totals and the sparkline when they changed.
func (h *Hub) updateStats(stats views.StatsView) {
	was := h.shownStats
	st := &statsShown{stats: stats}
	if was != nil {
		st.totals, st.spark = was.totals, was.spark
	}
	stats.OOB = true
	if was == nil || !sameTotals(was.stats, stats) {
		st.totals, st.totalsChanged = render(views.Totals(stats)), true
	}
	if was == nil || !slices.Equal(was.stats.Minutes, stats.Minutes) {
		st.spark, st.sparkChanged = render(views.Sparkline(stats)), true
	}
	h.shownStats = st
}

func sameTotals(a, b views.StatsView) bool {
	return a.Views == b.Views && a.LastMinute == b.LastMinute && a.Comics == b.Comics && a.Watching == b.Watching
}

// statsFrom turns a snapshot into what the totals and sparkline show.
func (h *Hub) statsFrom(snap store.Snapshot) views.StatsView {
	return Stats(snap, h.cat.Status().Cached)
}

// Stats is the totals and sparkline of snap, with comics in the catalog.
// The sparkline is the full minutes of the last hour, so it changes once a
// minute; the views of the last 60 seconds are the current minute's plus
// the share of the previous minute's still inside them.
func Stats(snap store.Snapshot, comics int) views.StatsView {
	now := snap.Now.Truncate(time.Minute)
	perMinute := make(map[time.Time]int64, len(snap.Minutes))
	for _, m := range snap.Minutes {
		perMinute[m.Start] = m.Views
	}
	v := views.StatsView{Views: snap.Total, Comics: comics, Watching: snap.Watchers,
		Minutes: make([]int64, store.SparklineMinutes)}
	for i := range v.Minutes {
		v.Minutes[i] = perMinute[now.Add(time.Duration(i-store.SparklineMinutes)*time.Minute)]
	}
	into := snap.Now.Sub(now)
	previous := perMinute[now.Add(-time.Minute)]
	v.LastMinute = perMinute[now] + previous*int64(time.Minute-into)/int64(time.Minute)
	return v
}

// rank is the leaderboard rows of top, marked against what was shown:
// a row whose count changed is highlighted, and one that climbed says by
// how many places. The first rows a topic shows carry no marks.
func (h *Hub) rank(top []store.Count, was *shown) []views.Ranked {
	before := map[int]views.Ranked{}
	if was != nil {
		for _, r := range was.rows {
			before[r.Num] = r
		}
	}
	rows := make([]views.Ranked, len(top))
	for i, c := range top {
		r := views.Ranked{Rank: i + 1, Num: c.Num, Views: c.Views}
		if comic, ok := h.cat.Cached(c.Num); ok {
			r.Title = comic.Title
		}
		if was != nil {
			b, ok := before[c.Num]
			r.Changed = !ok || b.Views != c.Views
			if ok && b.Rank > r.Rank {
				r.Rose = b.Rank - r.Rank
			}
		}
		rows[i] = r
	}
	return rows
}

// sameRows compares what rows show, marks aside.
func sameRows(a, b []views.Ranked) bool {
	return slices.EqualFunc(a, b, func(x, y views.Ranked) bool {
		return x.Num == y.Num && x.Views == y.Views && x.Rank == y.Rank && x.Title == y.Title
	})
}

func unmarked(rows []views.Ranked) []views.Ranked {
	out := slices.Clone(rows)
	for i := range out {
		out[i].Changed, out[i].Rose = false, 0
	}
	return out
}

// render writes c to bytes. The components do no I/O, so they fail only
// on a bug, which every test would catch.
func render(c templ.Component) []byte {
	var b bytes.Buffer
	if err := c.Render(context.Background(), &b); err != nil {
		panic("live: render: " + err.Error())
	}
	return b.Bytes()
}

// event frames html as one unnamed Server-Sent Event, which hx-sse swaps
// in. Every line break (CR, LF or both) starts a new data line, so that no
// text can end the event early or inject a field.
func event(html []byte) []byte {
	html = bytes.ReplaceAll(html, []byte("\r\n"), []byte("\n"))
	html = bytes.ReplaceAll(html, []byte("\r"), []byte("\n"))
	var b bytes.Buffer
	b.Grow(len(html) + 16)
	for line := range bytes.SplitSeq(html, []byte("\n")) {
		b.WriteString("data: ")
		b.Write(line)
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// Board reads the leaderboard of limit rows and the stats now, for a page
// rendered in full.
func (h *Hub) Board(ctx context.Context, limit int) (views.LeaderboardView, error) {
	ctx, cancel := context.WithTimeout(ctx, h.readWait)
	defer cancel()
	snap, err := h.src.Snapshot(ctx, limit, nil)
	if err != nil {
		return views.LeaderboardView{}, err
	}
	return views.LeaderboardView{
		Limit: limit,
		Rows:  h.rank(snap.Top[:min(limit, len(snap.Top))], nil),
		Stats: h.statsFrom(snap),
	}, nil
}
