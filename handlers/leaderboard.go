package handlers

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/xkcdapp/xkcdapp/store"
	"github.com/xkcdapp/xkcdapp/views"
)

// defaultTop is how many comics the leaderboard shows unless asked.
const defaultTop = 10

// readTimeout bounds a read of view counts: a page should fail fast, not
// hang on a database that does not answer.
const readTimeout = 2 * time.Second

// leaderboard lists the most-viewed comics; ?n= asks for up to store.MaxTop.
func (s *server) leaderboard(w http.ResponseWriter, r *http.Request) error {
	limit := defaultTop
	if raw := r.URL.Query().Get("n"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > store.MaxTop {
			return badRequest(fmt.Sprintf("n must be a whole number from 1 to %d.", store.MaxTop))
		}
		limit = n
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	top, err := s.Rankings.TopComics(ctx, limit)
	if err != nil {
		return fmt.Errorf("leaderboard: %w: %w", errCountsDown, err)
	}
	v := views.LeaderboardView{Limit: limit, Rows: make([]views.Ranked, len(top))}
	for i, c := range top {
		v.Rows[i] = views.Ranked{Rank: i + 1, Num: c.Num, Views: c.Views}
		if comic, ok := s.Catalog.Cached(c.Num); ok {
			v.Rows[i].Title = comic.Title
		}
	}
	w.Header().Set("Cache-Control", "no-cache")
	s.render(w, r, http.StatusOK, views.LeaderboardPage(v))
	return nil
}
