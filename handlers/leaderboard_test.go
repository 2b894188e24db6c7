package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/xkcdapp/xkcdapp/xkcd/xkcdtest"
)

// row is one leaderboard row as a visitor sees it.
type row struct {
	num   int
	views int64
}

// leaderboardRows reads the rows of a leaderboard page, checking that each
// comic's title links to its permalink.
func leaderboardRows(t *testing.T, w *httptest.ResponseRecorder) []row {
	t.Helper()
	var rows []row
	parse(t, w).Find("#leaderboard tr[data-num]").Each(func(i int, s *goquery.Selection) {
		num, err := strconv.Atoi(s.AttrOr("data-num", ""))
		if err != nil {
			t.Fatalf("row %d data-num: got %q, want a number", i, s.AttrOr("data-num", ""))
		}
		views, err := strconv.ParseInt(s.AttrOr("data-views", ""), 10, 64)
		if err != nil {
			t.Fatalf("row %d data-views: got %q, want a number", i, s.AttrOr("data-views", ""))
		}
		link := s.Find(`a[href="/comic/` + strconv.Itoa(num) + `"]`)
		if got := strings.TrimSpace(link.Text()); got != xkcdtest.Title(num) {
			t.Errorf("row %d: title linked to /comic/%d: got %q, want %q", i, num, got, xkcdtest.Title(num))
		}
		rows = append(rows, row{num, views})
	})
	return rows
}

// view shows comic num times times.
func (a *app) view(t *testing.T, num, times int) {
	t.Helper()
	for range times {
		assertStatus(t, a.get(t, "/comic/"+strconv.Itoa(num), nil), http.StatusOK)
	}
}

func TestLeaderboard(t *testing.T) {
	a := newWarmApp(t, latest)
	a.view(t, 3, 1)
	a.view(t, 9, 2)
	a.view(t, 12, 3)
	a.view(t, 5, 3)
	a.view(t, 4, 1)
	// Neither a prefetch nor a history restore puts a comic on the board.
	assertStatus(t, a.get(t, "/comic/15", header("Sec-Purpose", "prefetch")), http.StatusOK)
	assertStatus(t, a.get(t, "/comic/16", header("HX-Request", "true", "HX-History-Restore-Request", "true")), http.StatusOK)

	tests := []struct {
		query string
		want  []row
	}{
		{"", []row{{5, 3}, {12, 3}, {9, 2}, {3, 1}, {4, 1}}},
		{"?n=2", []row{{5, 3}, {12, 3}}},
		{"?n=1", []row{{5, 3}}},
		{"?n=100", []row{{5, 3}, {12, 3}, {9, 2}, {3, 1}, {4, 1}}},
	}
	for _, tt := range tests {
		t.Run("leaderboard"+tt.query, func(t *testing.T) {
			w := a.get(t, "/leaderboard"+tt.query, nil)
			assertStatus(t, w, http.StatusOK)
			assertFullPage(t, w)
			got := leaderboardRows(t, w)
			if len(got) != len(tt.want) {
				t.Fatalf("rows: got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("row %d: got %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestLeaderboardDefaultLimit(t *testing.T) {
	a := newWarmApp(t, latest)
	for n := 1; n <= 12; n++ {
		a.view(t, n, 1)
	}
	w := a.get(t, "/leaderboard", nil)
	assertStatus(t, w, http.StatusOK)
	if got := len(leaderboardRows(t, w)); got != 10 {
		t.Errorf("rows: got %d, want 10", got)
	}
}

func TestLeaderboardEmpty(t *testing.T) {
	a := newWarmApp(t, latest)
	w := a.get(t, "/leaderboard", nil)
	assertStatus(t, w, http.StatusOK)
	doc := parse(t, w)
	if n := doc.Find("#leaderboard tr[data-num]").Length(); n != 0 {
		t.Errorf("rows: got %d, want 0", n)
	}
	if n := doc.Find("#leaderboard .empty").Length(); n != 1 {
		t.Errorf("empty message: got %d, want 1", n)
	}
}

func TestLeaderboardBadLimit(t *testing.T) {
	a := newWarmApp(t, latest)
	a.view(t, 3, 1)
	for _, q := range []string{"0", "101", "abc", "-1", "1.5", "1e2", "%00", "99999999999999999999999"} {
		t.Run("n="+q, func(t *testing.T) {
			w := a.get(t, "/leaderboard?n="+q, nil)
			doc := assertProblem(t, w, http.StatusBadRequest)
			msg := doc.Find("#problem").Text()
			if !strings.Contains(msg, "n must be") {
				t.Errorf("message: got %q, want it to name n", msg)
			}
			if n := doc.Find("#leaderboard").Length(); n != 0 {
				t.Errorf("leaderboard on a bad request: got %d, want 0", n)
			}
		})
	}
}
