package live_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/xkcdapp/xkcdapp/catalog"
	"github.com/xkcdapp/xkcdapp/live"
	"github.com/xkcdapp/xkcdapp/store"
	"github.com/xkcdapp/xkcdapp/xkcd"
	"github.com/xkcdapp/xkcdapp/xkcd/xkcdtest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newCatalog is a warm catalog of comics 1 to 20 over a fake upstream.
func newCatalog(t *testing.T, mem *store.Memory) *catalog.Catalog {
	t.Helper()
	up := xkcdtest.NewServer(20)
	t.Cleanup(up.Stop)
	cat := catalog.New(xkcd.NewClient(up.URL), mem, quiet)
	if err := cat.Backfill(t.Context(), nil); err != nil {
		t.Fatalf("backfill: %v", err)
	}
	return cat
}

// startHub runs a hub over mem, hearing its changes, until the test ends.
func startHub(t *testing.T, mem *store.Memory, cat live.Catalog, opts ...live.Option) *live.Hub {
	t.Helper()
	h := live.New(mem, cat, quiet, append([]live.Option{live.WithInterval(5 * time.Millisecond)}, opts...)...)
	ctx, cancel := context.WithCancel(context.Background())
	var running sync.WaitGroup
	running.Go(func() { mem.Listen(ctx, quiet, h.Changed) })
	running.Go(func() { h.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		running.Wait()
	})
	return h
}

// client is a stream's client in tests: it keeps every event it is
// given, or, stalled, takes none and times out as a real write does.
type client struct {
	frames  chan []byte
	stalled atomic.Bool
}

var errTimeout = errors.New("write timed out")

func stalledClient() *client {
	c := &client{}
	c.stalled.Store(true)
	return c
}

func (c *client) WriteEvent(frame []byte) error {
	if c.stalled.Load() {
		time.Sleep(20 * time.Millisecond)
		return errTimeout
	}
	select {
	case c.frames <- frame:
		return nil
	case <-time.After(10 * time.Second):
		return errTimeout
	}
}

// stream is a subscription and its client.
type stream struct {
	*live.Stream
	c *client
}

func subscribe(t *testing.T, h *live.Hub, topic live.Topic) stream {
	t.Helper()
	c := &client{frames: make(chan []byte, 1024)}
	s, err := h.Subscribe(topic, c)
	if err != nil {
		t.Fatalf("Subscribe(%+v): %v", topic, err)
	}
	t.Cleanup(s.Close)
	return stream{s, c}
}

// next is the HTML of the stream's next event; comments are skipped.
func next(t *testing.T, s stream) *goquery.Document {
	t.Helper()
	return nextWhere(t, s, "an event", func(*goquery.Document) bool { return true })
}

// nextWhere skips events until one satisfies ok.
func nextWhere(t *testing.T, s stream, what string, ok func(*goquery.Document) bool) *goquery.Document {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case frame := <-s.c.frames:
			if strings.HasPrefix(string(frame), ":") {
				continue
			}
			if doc := parseEvent(t, frame); ok(doc) {
				return doc
			}
		case <-s.Done():
			t.Fatalf("the stream ended waiting for %s", what)
		case <-deadline:
			t.Fatalf("no event with %s within 10s", what)
		}
	}
}

// parseEvent checks a frame is one SSE event of data lines and returns
// its HTML.
func parseEvent(t *testing.T, frame []byte) *goquery.Document {
	t.Helper()
	text, ok := strings.CutSuffix(string(frame), "\n\n")
	if !ok {
		t.Fatalf("event %q does not end with a blank line", frame)
	}
	var html strings.Builder
	for i, line := range strings.Split(text, "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("event line %q is not a data line", line)
		}
		if i > 0 {
			html.WriteByte('\n')
		}
		html.WriteString(data)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(html.String()))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func attrInt(t *testing.T, doc *goquery.Document, sel, attr string) int64 {
	t.Helper()
	s := doc.Find(sel)
	if s.Length() != 1 {
		t.Fatalf("%s: %d elements, want 1", sel, s.Length())
	}
	n, err := strconv.ParseInt(s.AttrOr(attr, ""), 10, 64)
	if err != nil {
		t.Fatalf("%s[%s] = %q: %v", sel, attr, s.AttrOr(attr, ""), err)
	}
	return n
}

func addViews(t *testing.T, mem *store.Memory, deltas ...store.Count) {
	t.Helper()
	if _, err := mem.AddViews(t.Context(), deltas); err != nil {
		t.Fatal(err)
	}
}

// rows is the leaderboard's rows as num:views, in rank order.
func rows(doc *goquery.Document) []string {
	var out []string
	doc.Find("#leaderboard tbody tr").Each(func(_ int, s *goquery.Selection) {
		out = append(out, s.AttrOr("data-num", "")+":"+s.AttrOr("data-views", ""))
	})
	return out
}

func TestLeaderboardStream(t *testing.T) {
	mem := store.NewMemory()
	cat := newCatalog(t, mem)
	addViews(t, mem, store.Count{Num: 3, Views: 5}, store.Count{Num: 7, Views: 4}, store.Count{Num: 9, Views: 1})
	h := startHub(t, mem, cat)
	s := subscribe(t, h, live.Topic{Top: 2})

	// First, the whole state, unmarked, ready for out-of-band swaps.
	first := next(t, s)
	for _, id := range []string{"live-totals", "sparkline", "leaderboard"} {
		if got := first.Find("#"+id).AttrOr("hx-swap-oob", ""); got != "true" {
			t.Errorf("#%s hx-swap-oob = %q, want true", id, got)
		}
	}
	if got, want := strings.Join(rows(first), " "), "3:5 7:4"; got != want {
		t.Errorf("first rows = %s, want %s", got, want)
	}
	if got := attrInt(t, first, "#live-totals [data-views]", "data-views"); got != 10 {
		t.Errorf("total views = %d, want 10", got)
	}
	if got := attrInt(t, first, "#live-totals [data-comics]", "data-comics"); got != 20 {
		t.Errorf("comics = %d, want 20", got)
	}
	if n := first.Find(".changed, .rose").Length(); n != 0 {
		t.Errorf("first state has %d highlighted elements, want none", n)
	}
	if got, want := strings.TrimSpace(first.Find(`#leaderboard tr[data-num="3"] a`).Text()), xkcdtest.Title(3); got != want {
		t.Errorf("row title = %q, want the comic's title %q", got, want)
	}

	// Comic 7 overtakes comic 3: its row is highlighted and says it rose.
	addViews(t, mem, store.Count{Num: 7, Views: 2})
	update := nextWhere(t, s, "comic 7 first", func(d *goquery.Document) bool { return len(rows(d)) > 0 && rows(d)[0] == "7:6" })
	if got, want := strings.Join(rows(update), " "), "7:6 3:5"; got != want {
		t.Errorf("rows after 2 views of 7 = %s, want %s", got, want)
	}
	moved := update.Find(`#leaderboard tr[data-num="7"]`)
	if !moved.HasClass("changed") || moved.Find(".rose").Length() != 1 {
		t.Errorf("row of comic 7: class %q, rose %d; want changed and rose", moved.AttrOr("class", ""), moved.Find(".rose").Length())
	}
	if still := update.Find(`#leaderboard tr[data-num="3"]`); still.HasClass("changed") {
		t.Error("row of comic 3 is highlighted, but its count did not change")
	}
	// The sparkline shows full minutes only: a view does not resend it.
	if update.Find("#sparkline").Length() != 0 {
		t.Error("an update resent the sparkline, whose minutes did not change")
	}

	// A view outside the top 2 changes the totals only.
	addViews(t, mem, store.Count{Num: 9, Views: 1})
	totals := nextWhere(t, s, "13 views", func(d *goquery.Document) bool {
		return d.Find("#live-totals [data-views]").AttrOr("data-views", "") == "13"
	})
	if totals.Find("#leaderboard").Length() != 0 {
		t.Error("a view outside the top resent the table")
	}

	// A stream opened now gets the whole current state at once.
	late := next(t, subscribe(t, h, live.Topic{Top: 2}))
	if got, want := strings.Join(rows(late), " "), "7:6 3:5"; got != want {
		t.Errorf("late stream rows = %s, want %s", got, want)
	}
	if late.Find(".changed").Length() != 0 || late.Find("#sparkline").Length() != 1 {
		t.Error("late stream's first event: want the whole state, unmarked")
	}
}

func TestComicStream(t *testing.T) {
	mem := store.NewMemory()
	cat := newCatalog(t, mem)
	addViews(t, mem, store.Count{Num: 5, Views: 1})
	h := startHub(t, mem, cat)
	s := subscribe(t, h, live.Topic{Comic: 5})
	if got := attrInt(t, next(t, s), "#comic-views", "data-views"); got != 1 {
		t.Fatalf("first count = %d, want 1", got)
	}
	// Views of another comic send nothing here: the next event is 5's.
	addViews(t, mem, store.Count{Num: 6, Views: 3})
	addViews(t, mem, store.Count{Num: 5, Views: 1})
	doc := next(t, s)
	if got := attrInt(t, doc, "#comic-views", "data-views"); got != 2 {
		t.Errorf("next count = %d, want 2 (no event for comic 6)", got)
	}
	if !doc.Find("#comic-views").HasClass("changed") {
		t.Error("a changed count is not highlighted")
	}
	if !strings.Contains(doc.Text(), "2 views") {
		t.Errorf("count text = %q, want 2 views", doc.Text())
	}
}

// TestStalledStreamDoesNotDelayOthers: a stream whose client takes no
// event is dropped after one try, and meanwhile every other stream gets
// every update.
func TestStalledStreamDoesNotDelayOthers(t *testing.T) {
	mem := store.NewMemory()
	h := startHub(t, mem, newCatalog(t, mem))
	reader := subscribe(t, h, live.Topic{Comic: 1})
	next(t, reader)
	stalled, err := h.Subscribe(live.Topic{Comic: 1}, stalledClient())
	if err == nil {
		stalled.Close()
		t.Fatal("Subscribe with a client that takes nothing: got nil, want its error")
	}
	var many []*live.Stream
	for range 20 {
		c := &client{frames: make(chan []byte, 1024)}
		s, err := h.Subscribe(live.Topic{Comic: 2}, c)
		if err != nil {
			t.Fatal(err)
		}
		c.stalled.Store(true) // took the first event, takes no more
		many = append(many, s)
	}
	for i := int64(1); i <= 5; i++ {
		addViews(t, mem, store.Count{Num: 1, Views: 1}, store.Count{Num: 2, Views: 1})
		nextWhere(t, reader, "count "+strconv.FormatInt(i, 10), func(d *goquery.Document) bool {
			return d.Find("#comic-views").AttrOr("data-views", "") == strconv.FormatInt(i, 10)
		})
	}
	for i, s := range many {
		select {
		case <-s.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("stalled stream %d was not dropped", i)
		}
	}
	if got := h.Streams(); got != 1 {
		t.Errorf("streams open = %d, want 1 (the reader)", got)
	}
}

// TestWatchersAcrossHubs: two instances sharing a store count each
// other's streams.
func TestWatchersAcrossHubs(t *testing.T) {
	mem := store.NewMemory()
	cat := newCatalog(t, mem)
	a, b := startHub(t, mem, cat), startHub(t, mem, cat)
	subscribe(t, a, live.Topic{Comic: 1})
	leaving := subscribe(t, a, live.Topic{Comic: 2})
	watcher := subscribe(t, b, live.Topic{Top: 10})
	watching := func(n string) func(d *goquery.Document) bool {
		return func(d *goquery.Document) bool {
			return d.Find("#live-totals [data-watching]").AttrOr("data-watching", "") == n
		}
	}
	nextWhere(t, watcher, "3 watching", watching("3"))
	leaving.Close()
	nextWhere(t, watcher, "2 watching", watching("2"))
}

func TestClose(t *testing.T) {
	mem := store.NewMemory()
	h := startHub(t, mem, newCatalog(t, mem))
	s := subscribe(t, h, live.Topic{Top: 10})
	h.Close()
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the stream")
	}
	if _, err := h.Subscribe(live.Topic{Top: 10}, &client{frames: make(chan []byte, 1)}); !errors.Is(err, live.ErrClosed) {
		t.Errorf("Subscribe after Close: got %v, want ErrClosed", err)
	}
}

func TestMaxStreams(t *testing.T) {
	mem := store.NewMemory()
	h := startHub(t, mem, newCatalog(t, mem), live.WithMaxStreams(2))
	subscribe(t, h, live.Topic{Top: 10})
	s := subscribe(t, h, live.Topic{Comic: 3})
	if _, err := h.Subscribe(live.Topic{Comic: 4}, &client{frames: make(chan []byte, 1)}); !errors.Is(err, live.ErrFull) {
		t.Errorf("third Subscribe with room for 2: got %v, want ErrFull", err)
	}
	s.Close()
	subscribe(t, h, live.Topic{Comic: 4})
}

func TestStats(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 15, 0, time.UTC) // a quarter into 03:04
	minute := func(m int) time.Time { return time.Date(2026, 1, 2, 3, m, 0, 0, time.UTC) }
	snap := store.Snapshot{
		Now:      now,
		Total:    1000,
		Watchers: 7,
		Minutes: []store.Minute{
			{Start: minute(4).Add(-61 * time.Minute), Views: 99}, // before the hour
			{Start: minute(4).Add(-60 * time.Minute), Views: 5},  // the hour's first minute
			{Start: minute(2), Views: 7},
			{Start: minute(3), Views: 40}, // the last full minute
			{Start: minute(4), Views: 10}, // the current one, not drawn
		},
	}
	v := live.Stats(snap, 3000)
	if len(v.Minutes) != store.SparklineMinutes {
		t.Fatalf("minutes = %d, want %d", len(v.Minutes), store.SparklineMinutes)
	}
	if v.Minutes[0] != 5 || v.Minutes[57] != 0 || v.Minutes[58] != 7 || v.Minutes[59] != 40 {
		t.Errorf("minutes = %v, want 5 first, then 7 and 40 last", v.Minutes)
	}
	// 10 this minute, and three quarters of the previous minute's 40.
	if v.LastMinute != 40 {
		t.Errorf("last minute = %d, want 40", v.LastMinute)
	}
	if v.Views != 1000 || v.Comics != 3000 || v.Watching != 7 {
		t.Errorf("totals = %+v, want 1000 views, 3000 comics, 7 watching", v)
	}
}

// TestEventFraming: no text inside an event can end it or add a field.
func TestEventFraming(t *testing.T) {
	mem := store.NewMemory()
	up := xkcdtest.NewServer(3)
	t.Cleanup(up.Stop)
	if err := mem.PutComic(t.Context(), xkcd.Comic{Num: 2, Title: "Line\r\nevent: boom\rdata: x\n\nid: 9", SafeTitle: "x", Img: "x"}); err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(xkcd.NewClient(up.URL), mem, quiet)
	if err := cat.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	addViews(t, mem, store.Count{Num: 2, Views: 1})
	h := startHub(t, mem, cat)
	s := subscribe(t, h, live.Topic{Top: 1})
	deadline := time.After(10 * time.Second)
	for {
		select {
		case frame := <-s.c.frames:
			if strings.HasPrefix(string(frame), ":") {
				continue
			}
			lines := strings.Split(strings.TrimSuffix(string(frame), "\n\n"), "\n")
			field := regexp.MustCompile(`^data: `)
			for _, l := range lines {
				if !field.MatchString(l) {
					t.Errorf("event line %q is not a data line", l)
				}
			}
			if strings.Count(string(frame), "\n\n") != 1 {
				t.Errorf("event %q holds a blank line before its end", frame)
			}
			return
		case <-deadline:
			t.Fatal("no event")
		}
	}
}

// gatedSource holds a Snapshot, once gated, until the test lets it go.
type gatedSource struct {
	*store.Memory
	gated   atomic.Bool
	reading chan struct{}
	release chan struct{}
}

func (g *gatedSource) Snapshot(ctx context.Context, top int, comics []int) (store.Snapshot, error) {
	if g.gated.CompareAndSwap(true, false) {
		g.reading <- struct{}{}
		<-g.release
	}
	return g.Memory.Snapshot(ctx, top, comics)
}

// TestTopicFollowedDuringARead: a topic first followed while the stats
// are being read, and so not in that read, gets its own state first, not
// a count of 0 or a board cut to the rows read for others.
func TestTopicFollowedDuringARead(t *testing.T) {
	mem := store.NewMemory()
	cat := newCatalog(t, mem)
	addViews(t, mem, store.Count{Num: 1, Views: 9}, store.Count{Num: 5, Views: 3}, store.Count{Num: 6, Views: 2})
	src := &gatedSource{Memory: mem, reading: make(chan struct{}), release: make(chan struct{})}
	h := live.New(src, cat, quiet, live.WithInterval(5*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	var running sync.WaitGroup
	running.Go(func() { mem.Listen(ctx, quiet, h.Changed) })
	running.Go(func() { h.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		running.Wait()
	})

	board := subscribe(t, h, live.Topic{Top: 1})
	comic := subscribe(t, h, live.Topic{Comic: 1})
	next(t, board)
	next(t, comic)

	src.gated.Store(true)
	addViews(t, mem, store.Count{Num: 1, Views: 1})
	<-src.reading // a read of the top 1 and comic 1 is under way
	newComic := subscribe(t, h, live.Topic{Comic: 5})
	newBoard := subscribe(t, h, live.Topic{Top: 3})
	close(src.release)

	if got := attrInt(t, next(t, newComic), "#comic-views", "data-views"); got != 3 {
		t.Errorf("comic 5's first count = %d, want 3", got)
	}
	if got, want := strings.Join(rows(next(t, newBoard)), " "), "1:10 5:3 6:2"; got != want {
		t.Errorf("top 3's first rows = %s, want %s", got, want)
	}
}

// stuckClient takes its first event, then holds each later write until
// released, as a client whose socket is full holds a write until its
// deadline.
type stuckClient struct {
	first   atomic.Bool
	release chan struct{}
}

func (c *stuckClient) WriteEvent(frame []byte) error {
	if c.first.CompareAndSwap(false, true) {
		return nil
	}
	<-c.release
	return errTimeout
}

// TestStuckWritesDoNotHoldOthers: however long writes to stuck clients
// take, and however many there are, the other streams get their events
// meanwhile, not one write deadline later per stuck client.
func TestStuckWritesDoNotHoldOthers(t *testing.T) {
	mem := store.NewMemory()
	h := startHub(t, mem, newCatalog(t, mem))
	release := make(chan struct{})
	reader := subscribe(t, h, live.Topic{Comic: 1})
	next(t, reader)
	// Enough stuck streams for every writer to meet several.
	for range 32 {
		s, err := h.Subscribe(live.Topic{Comic: 2}, &stuckClient{release: release})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
	}
	t.Cleanup(func() { close(release) }) // before the streams close
	for i := int64(1); i <= 3; i++ {
		addViews(t, mem, store.Count{Num: 2, Views: 1})
		addViews(t, mem, store.Count{Num: 1, Views: 1})
		nextWhere(t, reader, "count "+strconv.FormatInt(i, 10), func(d *goquery.Document) bool {
			return d.Find("#comic-views").AttrOr("data-views", "") == strconv.FormatInt(i, 10)
		})
	}
}
