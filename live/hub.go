// Package live is the live stats hub: it hears of every view batch on any
// instance, re-reads the stats at most a few times a second, renders each
// changed fragment once and sends the same bytes to every open stream.
package live

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xkcdapp/xkcdapp/catalog"
	"github.com/xkcdapp/xkcdapp/store"
	"github.com/xkcdapp/xkcdapp/xkcd"
)

// Source is where the stats are read and this instance's watchers are
// shared; store.Postgres and store.Memory are both.
type Source interface {
	Snapshot(ctx context.Context, top int, comics []int) (store.Snapshot, error)
	SetWatchers(ctx context.Context, instance string, n int, ttl time.Duration) error
}

// Catalog gives comic titles and how many comics there are.
type Catalog interface {
	Cached(n int) (*xkcd.Comic, bool)
	Status() catalog.Status
}

// Topic is what a stream follows: the leaderboard of Top rows, or the
// view count of one Comic. Exactly one of them is set.
type Topic struct {
	Top   int
	Comic int
}

var (
	// ErrClosed refuses streams once the hub has ended them all (shutdown).
	ErrClosed = errors.New("live: closed")
	// ErrFull refuses streams past the most one instance holds.
	ErrFull = errors.New("live: too many streams")
)

// Hub fans live stats out to streams. Build it with New, run it with Run.
type Hub struct {
	src      Source
	cat      Catalog
	log      *slog.Logger
	instance string // this instance's row among the watchers

	interval   time.Duration // least time between two refreshes
	heartbeat  time.Duration // most time a stream goes without a byte
	readWait   time.Duration // bound on one read of the stats
	maxStreams int

	wake chan struct{} // a change happened: refresh soon
	// writers each own a shard of the streams and write to them in turn.
	// A few goroutines writing to every stream, rather than one goroutine
	// per stream woken for every event, keep an update from flooding the
	// scheduler: pages go on being served meanwhile.
	writers     []*writer
	stopWriters chan struct{}
	watchWake   chan struct{} // streams were queued: watch the writers

	mu        sync.Mutex
	closed    bool
	topics    map[Topic]*topic
	streams   int
	nextShard int
	published int // watchers last shared, -1 before the first time
	sharedAt  time.Time

	// Owned by Run: the totals and sparkline last sent.
	shownStats *statsShown
	failing    bool
}

// yieldEvery is how many events a writer sends between two turns it gives
// to other goroutines.
const yieldEvery = 32

// writer is one writer's queue: the streams with an event to send. Its
// goroutine sends them in turn; when a write is held up (a client whose
// socket is full, until its write deadline), the watch starts a helper
// that goes on with the queue meanwhile, so that the streams behind it
// are not held up once per stuck client.
type writer struct {
	mu    sync.Mutex
	queue []*Stream
	head  int // queue[head:] are still to send
	wake  chan struct{}
	// sent counts the sends done, for the watch to see the queue move.
	sent atomic.Uint64
}

// pop takes the next stream to send to, nil when there is none.
func (w *writer) pop() *Stream {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.head == len(w.queue) {
		return nil
	}
	s := w.queue[w.head]
	w.queue[w.head] = nil
	if w.head++; w.head == len(w.queue) {
		w.queue, w.head = w.queue[:0], 0
	}
	return s
}

// waiting reports whether streams are queued.
func (w *writer) waiting() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.head < len(w.queue)
}

// topic is the streams following one Topic.
type topic struct {
	streams map[*Stream]struct{}
	// current brings a new stream up to date: the whole state, without
	// highlights. nil until the topic's first refresh.
	current []byte
	// shown is what the streams were sent, to send only what changes;
	// nil until the first refresh.
	shown *shown
}

// Option changes a Hub's defaults.
type Option func(*Hub)

// WithInterval sets the least time between two refreshes (250 ms).
func WithInterval(d time.Duration) Option { return func(h *Hub) { h.interval = d } }

// WithHeartbeat sets how often every stream gets a comment to keep it open
// through proxies, and the stats are re-read even without a change (15 s).
func WithHeartbeat(d time.Duration) Option { return func(h *Hub) { h.heartbeat = d } }

// WithMaxStreams bounds the streams one instance holds (30,000).
func WithMaxStreams(n int) Option { return func(h *Hub) { h.maxStreams = n } }

// writerCount is how many goroutines write events. A client that stops
// reading holds a goroutine for one write deadline before it is dropped;
// the streams behind it wait stuckAfter at most, while a helper takes
// over its writer's queue.
const writerCount = 8

// New returns a hub reading from src. Its writers run until Run ends.
func New(src Source, cat Catalog, log *slog.Logger, opts ...Option) *Hub {
	id := make([]byte, 8)
	rand.Read(id)
	h := &Hub{
		src:         src,
		cat:         cat,
		log:         log,
		instance:    hex.EncodeToString(id),
		interval:    250 * time.Millisecond,
		heartbeat:   15 * time.Second,
		readWait:    2 * time.Second,
		maxStreams:  30000,
		wake:        make(chan struct{}, 1),
		topics:      make(map[Topic]*topic),
		published:   -1,
		stopWriters: make(chan struct{}),
		watchWake:   make(chan struct{}, 1),
	}
	for _, opt := range opts {
		opt(h)
	}
	for range writerCount {
		w := &writer{wake: make(chan struct{}, 1)}
		h.writers = append(h.writers, w)
		go h.write(w)
	}
	go h.watch()
	return h
}

// Changed tells the hub that the stats changed, here or on another
// instance; it refreshes within its interval. It never blocks.
func (h *Hub) Changed() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Client is where a stream's events go: the HTTP response. WriteEvent
// writes and flushes one event, and must give up within a short deadline
// when the client does not take it.
type Client interface {
	WriteEvent(frame []byte) error
}

// Stream is one open live connection. Done is closed when the hub ends
// it.
type Stream struct {
	hub    *Hub
	topic  Topic
	client Client
	shard  int
	done   chan struct{}
	ended  bool // guarded by hub.mu

	// pending is the event to send next. A stream whose writer is behind
	// gets the latest state, not every step to it: a newer event replaces
	// an unsent one with the whole state.
	pmu     sync.Mutex
	pending []byte
	queued  bool // on its writer's queue

	mu     sync.Mutex // held while writing to the client
	closed bool       // guarded by mu: no write may start
}

// Done is closed when the hub ends the stream: its client did not take an
// event in time, or the instance is shutting down.
func (s *Stream) Done() <-chan struct{} { return s.done }

// Close ends the stream. When it returns, no write to its client is in
// progress and none will start: the response may be finished.
func (s *Stream) Close() {
	s.hub.mu.Lock()
	s.hub.end(s)
	s.hub.mu.Unlock()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

// sendPending writes the stream's pending event to the client unless the
// stream is closed, and drops the stream when the client does not take
// it. The event is taken while no other write can start, so that two
// writers never send a stream's events out of order.
func (s *Stream) sendPending() {
	s.mu.Lock()
	s.pmu.Lock()
	frame := s.pending
	s.pending, s.queued = nil, false
	s.pmu.Unlock()
	var err error
	if frame != nil && !s.closed {
		err = s.client.WriteEvent(frame)
	}
	s.mu.Unlock()
	if err != nil {
		s.hub.drop(s)
	}
}

// Subscribe opens a stream on t that writes to c. When the topic is
// followed already its whole current state is written before Subscribe
// returns; otherwise a comment is, and the state comes with the refresh
// that Subscribe triggers. After an error nothing was written unless the
// error is the client's own.
func (h *Hub) Subscribe(t Topic, c Client) (*Stream, error) {
	s := &Stream{hub: h, topic: t, client: c, done: make(chan struct{})}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	if h.streams >= h.maxStreams {
		h.mu.Unlock()
		return nil, ErrFull
	}
	tp := h.topics[t]
	if tp == nil {
		tp = &topic{streams: make(map[*Stream]struct{})}
		h.topics[t] = tp
	}
	tp.streams[s] = struct{}{}
	h.streams++
	s.shard = h.nextShard % len(h.writers)
	h.nextShard++
	current := tp.current
	// Held until the current state is written: updates queued meanwhile
	// for this stream wait, and so arrive after it.
	s.mu.Lock()
	// A new topic needs its first frame; either way the watchers changed.
	h.Changed()
	h.mu.Unlock()

	// Something goes out at once, so that the response starts: the
	// current state, or a comment while the new topic's state is read.
	if current == nil {
		current = heartbeatFrame
	}
	err := c.WriteEvent(current)
	s.mu.Unlock()
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Streams reports how many streams are open on this instance.
func (h *Hub) Streams() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.streams
}

// end forgets s and closes Done. h.mu must be held.
func (h *Hub) end(s *Stream) {
	if s.ended {
		return
	}
	s.ended = true
	close(s.done)
	if tp := h.topics[s.topic]; tp != nil {
		delete(tp.streams, s)
		if len(tp.streams) == 0 {
			delete(h.topics, s.topic)
		}
	}
	h.streams--
	h.Changed()
}

// drop ends a stream whose client did not take an event: its browser
// reconnects and starts afresh with the whole state.
func (h *Hub) drop(s *Stream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !s.ended {
		h.log.Debug("live stats: dropped a stream whose client did not take an event")
		h.end(s)
	}
}

// Close ends every stream and refuses new ones, so that on shutdown
// browsers reconnect to another instance at once rather than when the
// connection is cut.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, tp := range h.topics {
		for s := range tp.streams {
			h.end(s)
		}
	}
}

// Run refreshes the stats after each change, at most once per interval,
// and sends heartbeats, until ctx ends; then it ends every stream and
// withdraws this instance's watchers.
func (h *Hub) Run(ctx context.Context) {
	beat := time.NewTicker(h.heartbeat)
	defer beat.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			h.stop()
			return
		case <-h.wake:
		case <-beat.C:
			h.broadcastAll(heartbeatFrame)
		}
		if wait := h.interval - time.Since(last); wait > 0 {
			select {
			case <-ctx.Done():
				h.stop()
				return
			case <-time.After(wait):
			}
		}
		// Changes until now are in this refresh; later ones wake the next.
		select {
		case <-h.wake:
		default:
		}
		last = time.Now()
		h.refresh(ctx)
	}
}

func (h *Hub) stop() {
	h.Close()
	close(h.stopWriters)
	ctx, cancel := context.WithTimeout(context.Background(), h.readWait)
	defer cancel()
	if err := h.src.SetWatchers(ctx, h.instance, 0, 0); err != nil {
		h.log.Warn("live stats: could not withdraw this instance's watchers; they expire by themselves", "err", err)
	}
}

// heartbeatFrame is an SSE comment: it keeps a stream open through a load
// balancer's idle timeout and shows nothing.
var heartbeatFrame = []byte(":\n\n")

// broadcastAll sends frame to every stream that has nothing to send.
func (h *Hub) broadcastAll(frame []byte) {
	h.mu.Lock()
	out := h.deliveries()
	for _, tp := range h.topics {
		out.offer(tp, frame, nil)
	}
	h.mu.Unlock()
	h.dispatch(out)
}

// deliveries is one refresh's streams newly queued, by writer.
type deliveries [][]*Stream

func (h *Hub) deliveries() deliveries { return make(deliveries, len(h.writers)) }

// offer gives every stream of tp its next event: update, or whole when an
// earlier event is still unsent (nil: keep that one). The hub's lock must
// be held.
func (d deliveries) offer(tp *topic, update, whole []byte) {
	for s := range tp.streams {
		s.pmu.Lock()
		switch {
		case s.pending == nil:
			s.pending = update
		case whole != nil:
			s.pending = whole
		}
		queue := !s.queued
		s.queued = true
		s.pmu.Unlock()
		if queue {
			d[s.shard] = append(d[s.shard], s)
		}
	}
}

// dispatch puts the streams on their writers' queues.
func (h *Hub) dispatch(d deliveries) {
	for i, streams := range d {
		if len(streams) == 0 {
			continue
		}
		w := h.writers[i]
		w.mu.Lock()
		w.queue = append(w.queue, streams...)
		w.mu.Unlock()
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	select {
	case h.watchWake <- struct{}{}:
	default:
	}
}

// write sends each queued stream its pending event, until the hub stops.
func (h *Hub) write(w *writer) {
	for {
		select {
		case <-w.wake:
		case <-h.stopWriters:
			return
		}
		h.drain(w)
	}
}

// drain sends w's queued streams their events until none is left.
func (h *Hub) drain(w *writer) {
	for i := 1; ; i++ {
		s := w.pop()
		if s == nil {
			return
		}
		s.sendPending()
		w.sent.Add(1)
		if i%yieldEvery == 0 {
			// Let requests waiting to run go first: an update may
			// take a while to reach every stream, a page should not.
			runtime.Gosched()
		}
	}
}

// stuckAfter is how long a writer's queue may go without a send before a
// helper goes on with it. A write to a client that takes events is done
// in microseconds; one to a client that does not waits for its deadline.
const stuckAfter = 10 * time.Millisecond

// watch starts a helper for each writer whose queue has not moved for
// stuckAfter, while streams are queued, until the hub stops. Each stuck
// write holds one goroutine until its deadline; the queue goes on.
func (h *Hub) watch() {
	seen := make([]uint64, len(h.writers))
	tick := time.NewTicker(stuckAfter)
	defer tick.Stop()
	for {
		select {
		case <-h.watchWake:
		case <-h.stopWriters:
			return
		}
		// Counted from now: a writer just woken has had no time yet.
		for i, w := range h.writers {
			seen[i] = w.sent.Load()
		}
		tick.Reset(stuckAfter)
		for busy := true; busy; {
			select {
			case <-tick.C:
			case <-h.stopWriters:
				return
			}
			busy = false
			for i, w := range h.writers {
				sent := w.sent.Load()
				if w.waiting() {
					busy = true
					if sent == seen[i] {
						go h.drain(w)
					}
				}
				seen[i] = sent
			}
		}
	}
}
