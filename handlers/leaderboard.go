package handlers

import (
	"fmt"
	"net/http"
	"time"

	"github.com/xkcdapp/xkcdapp/views"
)

// defaultTop is how many comics the leaderboard shows unless asked.
const defaultTop = 10

// readTimeout bounds a read of view counts: a page should fail fast, not
// hang on a database that does not answer.
const readTimeout = 2 * time.Second

// leaderboard lists the most-viewed comics with the live totals and
// sparkline; ?n= asks for up to store.MaxTop. The page then follows its
// live stream.
func (s *server) leaderboard(w http.ResponseWriter, r *http.Request) error {
	limit, err := parseLimit(r.URL.Query())
	if err != nil {
		return err
	}
	v, err := s.Live.Board(r.Context(), limit)
	if err != nil {
		return fmt.Errorf("leaderboard: %w: %w", errCountsDown, err)
	}
	w.Header().Set("Cache-Control", "no-cache")
	s.render(w, r, http.StatusOK, views.LeaderboardPage(v))
	return nil
}
