package handlers

import (
	"context"
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
	Subscribe(t live.Topic) (*live.Stream, error)
	Board(ctx context.Context, limit int) (views.LeaderboardView, error)
}

// streamWriteWait bounds each write to a live stream. The server's write
// timeout counts from the request's start, so each write moves it on; a
// client that stops reading for this long is let go.
const streamWriteWait = 10 * time.Second

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
	stream, err := s.Live.Subscribe(topic)
	if err != nil {
		// Not a page: the browser retries by itself, with backoff, and on
		// shutdown reaches another instance.
		s.Log.InfoContext(r.Context(), "live stream refused", "err", err)
		h.Set("Retry-After", "5")
		h.Set("HX-Reswap", "none")
		http.Error(w, "Live stats are not available here right now.", http.StatusServiceUnavailable)
		return nil
	}
	defer stream.Close()

	rc := http.NewResponseController(w)
	// The server's read timeout would end the stream: nothing more is read.
	if err := rc.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("live stream: %w", err)
	}
	// The last write moves the deadline on, so that the end of the
	// response is written too.
	defer rc.SetWriteDeadline(time.Now().Add(streamWriteWait))
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no") // no proxy may hold events back
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return nil
	}
	for {
		select {
		case frame := <-stream.Frames():
			rc.SetWriteDeadline(time.Now().Add(streamWriteWait))
			if !writeFrames(w, frame, stream.Frames()) || rc.Flush() != nil {
				return nil // the client is gone
			}
		case <-stream.Done():
			return nil
		case <-r.Context().Done():
			return nil
		}
	}
}

// writeFrames writes frame and any that queued behind it, for one flush.
func writeFrames(w http.ResponseWriter, frame []byte, more <-chan []byte) bool {
	for {
		if _, err := w.Write(frame); err != nil {
			return false
		}
		select {
		case frame = <-more:
		default:
			return true
		}
	}
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
