package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/xkcdapp/xkcdapp/catalog"
	"github.com/xkcdapp/xkcdapp/clientkey"
	"github.com/xkcdapp/xkcdapp/live"
	"github.com/xkcdapp/xkcdapp/store"
	"github.com/xkcdapp/xkcdapp/views"
)

// Live is the live stats hub; *live.Hub is one.
type Live interface {
	Subscribe(t live.Topic, c live.Client) (*live.Stream, error)
	Board(ctx context.Context, limit int) (views.LeaderboardView, error)
}

// eventWriteWait bounds the write of one event: a client whose socket has
// no room for it in that time has stopped reading.
const eventWriteWait = 100 * time.Millisecond

// streamWriteWait bounds the end of a stream's response.
const streamWriteWait = 5 * time.Second

// statsStream is GET /stats/stream: Server-Sent Events for htmx's hx-sse,
// each a ready-to-swap fragment. ?n= follows the leaderboard of n rows
// (and the totals and sparkline); ?comic= follows one comic's count.
func (s *server) statsStream(w http.ResponseWriter, r *http.Request) error {
	topic, err := streamTopic(r.URL.Query())
	if err != nil {
		return err
	}
	// Only a comic the catalog holds has a page that follows its count:
	// any other number would be one more topic for the hub to keep.
	if topic.Comic > 0 {
		if _, ok := s.Catalog.Cached(topic.Comic); !ok {
			return catalog.ErrNotFound
		}
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodHead {
		h.Set("Content-Type", "text/event-stream")
		return nil
	}
	rc := http.NewResponseController(w)
	// The server's read timeout would end the stream: nothing more is read.
	if err := rc.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("live stream: %w", err)
	}
	client := clientkey.Of(clientIP(r))
	if !s.streams.open(client) {
		s.Log.InfoContext(r.Context(), "live stream refused: too many from one client", "streams", maxStreamsPerClient)
		refuseStream(w, http.StatusTooManyRequests, "Too many live stats streams are open from your address.")
		return nil
	}
	defer s.streams.close(client)
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no") // no proxy may hold events back
	stream, err := s.Live.Subscribe(topic, eventClient{w, rc})
	if errors.Is(err, live.ErrClosed) || errors.Is(err, live.ErrFull) {
		// On shutdown the browser's retry reaches another instance.
		s.Log.InfoContext(r.Context(), "live stream refused", "err", err)
		refuseStream(w, http.StatusServiceUnavailable, "Live stats are not available here right now.")
		return nil
	}
	if err != nil {
		return nil // the client left before its first event
	}
	// The hub's writers write the events. Once Close returns none is
	// writing, and the response may end; its last write gets a deadline.
	defer rc.SetWriteDeadline(time.Now().Add(streamWriteWait))
	defer stream.Close()
	select {
	case <-stream.Done():
	case <-r.Context().Done():
	}
	return nil
}

// refuseStream answers a stream it will not open. Not a page: the browser
// retries by itself, with backoff.
func refuseStream(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Retry-After", "5")
	h.Set("HX-Reswap", "none")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}

// maxStreamsPerClient bounds the streams one client holds open on an
// instance: room for every tab of a household or an office behind one
// address, too few for one client to take the instance's streams.
const maxStreamsPerClient = 32

// clientStreams counts each client's open streams.
type clientStreams struct {
	mu sync.Mutex
	n  map[string]int
}

// open counts a stream of client's, unless it has as many as it may.
func (c *clientStreams) open(client string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[client] >= maxStreamsPerClient {
		return false
	}
	if c.n == nil {
		c.n = make(map[string]int)
	}
	c.n[client]++
	return true
}

// close uncounts a stream of client's; a client with none has no entry.
func (c *clientStreams) close(client string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[client]--; c.n[client] <= 0 {
		delete(c.n, client)
	}
}

// eventClient writes a stream's events to its response.
type eventClient struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

// WriteEvent writes and flushes one event. The server's write timeout
// counts from the request's start, so each event sets its own deadline,
// short: a client that does not take an event is dropped, and while it is
// tried the streams behind it wait.
func (c eventClient) WriteEvent(frame []byte) error {
	if err := c.rc.SetWriteDeadline(time.Now().Add(eventWriteWait)); err != nil {
		return err
	}
	if _, err := c.w.Write(frame); err != nil {
		return err
	}
	return c.rc.Flush()
}

// streamTopic reads what a stream follows: ?comic=N, or the leaderboard
// of ?n= rows (10 unless asked).
func streamTopic(q url.Values) (live.Topic, error) {
	if q.Has("comic") {
		if q.Has("n") {
			return live.Topic{}, badRequest("Ask for a comic's count or for the leaderboard, not both.")
		}
		n, ok := parseNum(q.Get("comic"))
		if !ok {
			return live.Topic{}, badRequest("comic must be a comic number.")
		}
		return live.Topic{Comic: n}, nil
	}
	limit, err := parseLimit(q)
	return live.Topic{Top: limit}, err
}

// parseLimit reads ?n=, how many rows a leaderboard shows.
func parseLimit(q url.Values) (int, error) {
	raw := q.Get("n")
	if raw == "" {
		return defaultTop, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > store.MaxTop {
		return 0, badRequest(fmt.Sprintf("n must be a whole number from 1 to %d.", store.MaxTop))
	}
	return n, nil
}
