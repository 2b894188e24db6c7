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
	"sync"
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
	buffer     int           // frames a stream may fall behind before it is dropped
	maxStreams int

	wake chan struct{} // a change happened: refresh soon

	mu        sync.Mutex
	closed    bool
	topics    map[Topic]*topic
	streams   int
	published int // watchers last shared, -1 before the first time
	sharedAt  time.Time

	// Owned by Run: the totals and sparkline last sent.
	shownStats *statsShown
	failing    bool
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

// WithBuffer sets how many frames a stream may fall behind before it is
// dropped (16).
func WithBuffer(n int) Option { return func(h *Hub) { h.buffer = max(n, 1) } }

// WithMaxStreams bounds the streams one instance holds (30,000).
func WithMaxStreams(n int) Option { return func(h *Hub) { h.maxStreams = n } }

// New returns a hub reading from src.
func New(src Source, cat Catalog, log *slog.Logger, opts ...Option) *Hub {
	id := make([]byte, 8)
	rand.Read(id)
	h := &Hub{
		src:        src,
		cat:        cat,
		log:        log,
		instance:   hex.EncodeToString(id),
		interval:   250 * time.Millisecond,
		heartbeat:  15 * time.Second,
		readWait:   2 * time.Second,
		buffer:     16,
		maxStreams: 30000,
		wake:       make(chan struct{}, 1),
		topics:     make(map[Topic]*topic),
		published:  -1,
	}
	for _, opt := range opts {
		opt(h)
	}
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

// Stream is one open live connection. Its frames are ready-to-write
// Server-Sent Events; Done is closed when the hub ends it.
type Stream struct {
	hub    *Hub
	topic  Topic
	frames chan []byte
	done   chan struct{}
	ended  bool // guarded by hub.mu
}

// Frames delivers the stream's events, the current state first.
func (s *Stream) Frames() <-chan []byte { return s.frames }

// Done is closed when the hub ends the stream: it fell behind, or the
// instance is shutting down. The frames already queued may be dropped.
func (s *Stream) Done() <-chan struct{} { return s.done }

// Close ends the stream from the client's side.
func (s *Stream) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.end(s)
}

// Subscribe opens a stream on t. Its first frame is the whole current
// state: at once when the topic is followed already, otherwise after the
// refresh it triggers.
func (h *Hub) Subscribe(t Topic) (*Stream, error) {
	s := &Stream{hub: h, topic: t, frames: make(chan []byte, h.buffer), done: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	if h.streams >= h.maxStreams {
		return nil, ErrFull
	}
	tp := h.topics[t]
	if tp == nil {
		tp = &topic{streams: make(map[*Stream]struct{})}
		h.topics[t] = tp
	}
	tp.streams[s] = struct{}{}
	h.streams++
	if tp.current != nil {
		s.frames <- tp.current
	}
	// A new topic needs its first frame; either way the watchers changed.
	h.Changed()
	return s, nil
}

// Streams reports how many streams are open on this instance.
func (h *Hub) Streams() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.streams
}

// end closes s and forgets it. h.mu must be held.
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
	ctx, cancel := context.WithTimeout(context.Background(), h.readWait)
	defer cancel()
	if err := h.src.SetWatchers(ctx, h.instance, 0, 0); err != nil {
		h.log.Warn("live stats: could not withdraw this instance's watchers; they expire by themselves", "err", err)
	}
}

// heartbeatFrame is an SSE comment: it keeps a stream open through a load
// balancer's idle timeout and shows nothing.
var heartbeatFrame = []byte(":\n\n")

// broadcastAll sends frame to every stream.
func (h *Hub) broadcastAll(frame []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, tp := range h.topics {
		h.broadcast(tp, frame)
	}
}

// broadcast sends frame to every stream of tp without waiting: a stream
// whose buffer is full is not reading, and is dropped so that it never
// delays the others; its browser reconnects and starts afresh. h.mu must
// be held.
func (h *Hub) broadcast(tp *topic, frame []byte) {
	for s := range tp.streams {
		select {
		case s.frames <- frame:
		default:
			h.end(s)
			h.log.Debug("live stats: dropped a stream that fell behind")
		}
	}
}
