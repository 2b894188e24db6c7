package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

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
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no") // no proxy may hold events back
	stream, err := s.Live.Subscribe(topic, eventClient{w, rc})
	if errors.Is(err, live.ErrClosed) || errors.Is(err, live.ErrFull) {
		// Not a page: the browser retries by itself, with backoff, and on
		// shutdown reaches another instance.
		s.Log.InfoContext(r.Context(), "live stream refused", "err", err)
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Retry-After", "5")
		h.Set("HX-Reswap", "none")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "Live stats are not available here right now.")
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
