package xkcd_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xkcdapp/xkcdapp/xkcd"
	"github.com/xkcdapp/xkcdapp/xkcd/xkcdtest"
)

// latest is the newest comic of every fake upstream here: past 404, so that
// the gap sits inside the catalog as it does on xkcd.com.
const latest = 500

// newUpstream starts a fake upstream that stops when the test ends.
func newUpstream(t *testing.T) *xkcdtest.Server {
	t.Helper()
	srv := xkcdtest.NewServer(latest)
	t.Cleanup(srv.Stop)
	return srv
}

// newServer starts h on a loopback port until the test ends.
func newServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// fetch asks c for comic n and fails the test on an error.
func fetch(t *testing.T, c *xkcd.Client, n int) xkcd.Comic {
	t.Helper()
	comic, err := c.Comic(t.Context(), n)
	if err != nil {
		t.Fatalf("Comic(%d): %v", n, err)
	}
	return comic
}

func TestClientLatest(t *testing.T) {
	srv := newUpstream(t)
	c := xkcd.NewClient(srv.URL)

	comic, err := c.Latest(t.Context())
	if err != nil {
		t.Fatalf("Latest: %v", err)
	}
	if comic.Num != latest {
		t.Errorf("Latest().Num: got %d, want %d", comic.Num, latest)
	}
	if want := xkcdtest.Title(latest); comic.Title != want {
		t.Errorf("Latest().Title: got %q, want %q", comic.Title, want)
	}

	srv.SetLatest(latest + 1)
	comic, err = c.Latest(t.Context())
	if err != nil {
		t.Fatalf("Latest after a new comic: %v", err)
	}
	if comic.Num != latest+1 {
		t.Errorf("Latest().Num after a new comic: got %d, want %d", comic.Num, latest+1)
	}
}

func TestClientComicDecodesEveryField(t *testing.T) {
	srv := newUpstream(t)
	c := xkcd.NewClient(srv.URL + "/") // a trailing slash must not matter

	const n = 10
	got := fetch(t, c, n)
	// The fake publishes comic n on (2006+n%20)-(1+n%12)-(1+n%28).
	want := xkcd.Comic{
		Num:       n,
		Title:     "Comic number 10",
		SafeTitle: "Comic number 10",
		Alt:       "The alt text of comic 10.",
		Img:       srv.URL + "/comics/comic_10.png",
		Published: time.Date(2016, time.November, 11, 0, 0, 0, 0, time.UTC),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Comic(%d):\ngot  %+v\nwant %+v", n, got, want)
	}
	if got.Interactive() {
		t.Errorf("Comic(%d).Interactive(): got true, want false", n)
	}
	if img := xkcd.ImageURL(got.Img); img != want.Img {
		t.Errorf("ImageURL(Comic(%d).Img): got %q, want %q", n, img, want.Img)
	}
}

func TestClientNotFound(t *testing.T) {
	tests := []struct {
		name      string
		num       int
		wantCalls int64 // requests that reach upstream
	}{
		{"the 404 gap", xkcd.Missing, 0},
		{"zero", 0, 0},
		{"negative", -1, 0},
		{"beyond latest", latest + 1, 1},
		{"far beyond latest", 1 << 30, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newUpstream(t)
			c := xkcd.NewClient(srv.URL, xkcd.WithRetries(3, time.Millisecond))

			comic, err := c.Comic(t.Context(), tt.num)
			if !errors.Is(err, xkcd.ErrNotFound) {
				t.Errorf("Comic(%d) error: got %v, want %v", tt.num, err, xkcd.ErrNotFound)
			}
			if comic.Num != 0 {
				t.Errorf("Comic(%d).Num on error: got %d, want 0", tt.num, comic.Num)
			}
			if got := srv.Calls(); got != tt.wantCalls {
				t.Errorf("upstream calls: got %d, want %d (a 404 is not retried)", got, tt.wantCalls)
			}
		})
	}
}

func TestClientQuirkyComics(t *testing.T) {
	srv := newUpstream(t)
	c := xkcd.NewClient(srv.URL)

	t.Run("interactive", func(t *testing.T) {
		comic := fetch(t, c, xkcdtest.Interactive)
		if !comic.Interactive() {
			t.Errorf("Comic(%d).Interactive(): got false, want true", comic.Num)
		}
		if got := xkcd.ImageURL(comic.Img); got != "" {
			t.Errorf("ImageURL(Comic(%d).Img): got %q, want %q", comic.Num, got, "")
		}
	})

	t.Run("extra parts", func(t *testing.T) {
		comic := fetch(t, c, xkcdtest.ExtraParts)
		if !comic.Interactive() {
			t.Errorf("Comic(%d).Interactive(): got false, want true", comic.Num)
		}
		var got map[string]string
		if err := json.Unmarshal(comic.ExtraParts, &got); err != nil {
			t.Fatalf("Comic(%d).ExtraParts %s: %v", comic.Num, comic.ExtraParts, err)
		}
		want := map[string]string{"pre": "", "post": "", "headerextra": "", "inset": "<div>game</div>"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Comic(%d).ExtraParts: got %v, want %v", comic.Num, got, want)
		}
	})

	t.Run("no extra parts", func(t *testing.T) {
		comic := fetch(t, c, xkcdtest.Linked)
		if len(comic.ExtraParts) != 0 {
			t.Errorf("Comic(%d).ExtraParts: got %s, want none", comic.Num, comic.ExtraParts)
		}
	})

	t.Run("linked", func(t *testing.T) {
		comic := fetch(t, c, xkcdtest.Linked)
		const want = "https://example.com/linked-comic"
		if comic.Link != want {
			t.Errorf("Comic(%d).Link: got %q, want %q", comic.Num, comic.Link, want)
		}
		if got := xkcd.LinkURL(comic.Link); got != want {
			t.Errorf("LinkURL(Comic(%d).Link): got %q, want %q", comic.Num, got, want)
		}
	})

	texts := []struct {
		name string
		num  int
	}{
		{"entities repaired", xkcdtest.Entities},
		{"double encoding repaired", xkcdtest.DoubleEncoded},
		{"markup kept as text", xkcdtest.Markup},
	}
	for _, tt := range texts {
		t.Run(tt.name, func(t *testing.T) {
			comic := fetch(t, c, tt.num)
			if want := xkcdtest.Title(tt.num); comic.Title != want {
				t.Errorf("Comic(%d).Title: got %q, want %q", tt.num, comic.Title, want)
			}
			if want := xkcdtest.Title(tt.num); comic.SafeTitle != want {
				t.Errorf("Comic(%d).SafeTitle: got %q, want %q", tt.num, comic.SafeTitle, want)
			}
			if want := xkcdtest.Alt(tt.num); comic.Alt != want {
				t.Errorf("Comic(%d).Alt: got %q, want %q", tt.num, comic.Alt, want)
			}
		})
	}

	t.Run("transcript repaired", func(t *testing.T) {
		comic := fetch(t, c, xkcdtest.Entities)
		const want = "[[A person stands.]]\nPerson: Hello & goodbye."
		if comic.Transcript != want {
			t.Errorf("Comic(%d).Transcript: got %q, want %q", comic.Num, comic.Transcript, want)
		}
	})
}

func TestClientUpstreamErrors(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		wantCalls int64
	}{
		{"503 retried", http.StatusServiceUnavailable, 3},
		{"500 retried", http.StatusInternalServerError, 3},
		{"502 retried", http.StatusBadGateway, 3},
		{"429 retried", http.StatusTooManyRequests, 3},
		{"403 not retried", http.StatusForbidden, 1},
		{"400 not retried", http.StatusBadRequest, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newUpstream(t)
			srv.SetFailing(tt.status)
			c := xkcd.NewClient(srv.URL, xkcd.WithRetries(3, time.Millisecond))

			_, err := c.Comic(t.Context(), 1)
			if err == nil {
				t.Fatalf("Comic(1) from an upstream answering %d: got no error", tt.status)
			}
			if errors.Is(err, xkcd.ErrNotFound) {
				t.Errorf("Comic(1) error: got %v, want an error that is not ErrNotFound", err)
			}
			if got := c.Calls(); got != tt.wantCalls {
				t.Errorf("client calls: got %d, want %d", got, tt.wantCalls)
			}
			if got := srv.Calls(); got != tt.wantCalls {
				t.Errorf("upstream calls: got %d, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestClientUpstreamHeals(t *testing.T) {
	tests := []struct {
		name string
		fail func(t *testing.T, w http.ResponseWriter)
	}{
		{"after a 503", func(t *testing.T, w http.ResponseWriter) {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		}},
		{"after a 429", func(t *testing.T, w http.ResponseWriter) {
			http.Error(w, "slow down", http.StatusTooManyRequests)
		}},
		{"after a dropped connection", func(t *testing.T, w http.ResponseWriter) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			conn.Close()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				up       *xkcdtest.Upstream
				requests atomic.Int64
			)
			srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if requests.Add(1) == 1 {
					tt.fail(t, w)
					return
				}
				up.ServeHTTP(w, r)
			}))
			up = xkcdtest.NewUpstream(latest, srv.URL)
			c := xkcd.NewClient(srv.URL, xkcd.WithRetries(3, time.Millisecond))

			comic := fetch(t, c, 10)
			if want := xkcdtest.Title(10); comic.Title != want {
				t.Errorf("Comic(10).Title: got %q, want %q", comic.Title, want)
			}
			if got := c.Calls(); got != 2 {
				t.Errorf("client calls: got %d, want 2", got)
			}
		})
	}
}

func TestClientTimeout(t *testing.T) {
	const (
		delay    = 200 * time.Millisecond
		timeout  = 50 * time.Millisecond
		attempts = 2
	)
	srv := newUpstream(t)
	srv.SetDelay(delay)
	c := xkcd.NewClient(srv.URL, xkcd.WithTimeout(timeout), xkcd.WithRetries(attempts, time.Millisecond))

	start := time.Now()
	_, err := c.Comic(t.Context(), 1)
	elapsed := time.Since(start)

	if err == nil {
		t.Fatalf("Comic(1) from an upstream slower than the timeout: got no error")
	}
	if errors.Is(err, xkcd.ErrNotFound) {
		t.Errorf("Comic(1) error: got %v, want a timeout, not ErrNotFound", err)
	}
	var netErr net.Error
	if !errors.As(err, &netErr) || !netErr.Timeout() {
		t.Errorf("Comic(1) error: got %v, want a timeout", err)
	}
	if got := c.Calls(); got != attempts {
		t.Errorf("client calls: got %d, want %d (timeouts are retried)", got, attempts)
	}
	// Waiting out the upstream would take delay*attempts (400ms).
	if limit := delay * attempts * 3 / 4; elapsed >= limit {
		t.Errorf("Comic(1) gave up after %v, want under %v", elapsed, limit)
	}
}

func TestClientHeaders(t *testing.T) {
	tests := []struct {
		name   string
		opts   []xkcd.Option
		wantUA string
	}{
		{"default user agent", nil, "xkcdapp"},
		{"custom user agent", []xkcd.Option{xkcd.WithUserAgent("xkcdapp/1.0 (+https://example.com/about)")}, "xkcdapp/1.0 (+https://example.com/about)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				mu      sync.Mutex
				agents  []string
				accepts []string
				up      *xkcdtest.Upstream
			)
			srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				agents = append(agents, r.Header.Get("User-Agent"))
				accepts = append(accepts, r.Header.Get("Accept"))
				mu.Unlock()
				up.ServeHTTP(w, r)
			}))
			up = xkcdtest.NewUpstream(latest, srv.URL)
			c := xkcd.NewClient(srv.URL, tt.opts...)

			if _, err := c.Latest(t.Context()); err != nil {
				t.Fatalf("Latest: %v", err)
			}
			fetch(t, c, 1)

			mu.Lock()
			defer mu.Unlock()
			want := []string{tt.wantUA, tt.wantUA}
			if !reflect.DeepEqual(agents, want) {
				t.Errorf("User-Agent headers: got %q, want %q", agents, want)
			}
			if want := []string{"application/json", "application/json"}; !reflect.DeepEqual(accepts, want) {
				t.Errorf("Accept headers: got %q, want %q", accepts, want)
			}
		})
	}
}

func TestClientContextStopsRetries(t *testing.T) {
	const backoff = time.Second // far longer than any case may take
	tests := []struct {
		name    string
		delay   time.Duration // upstream delay before answering 503
		ctx     func(t *testing.T) context.Context
		wantErr error
	}{
		{
			name: "canceled before the first attempt",
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithCancel(t.Context())
				cancel()
				return ctx
			},
			wantErr: context.Canceled,
		},
		{
			name: "canceled during the backoff",
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithCancel(t.Context())
				t.Cleanup(cancel)
				time.AfterFunc(50*time.Millisecond, cancel)
				return ctx
			},
			wantErr: context.Canceled,
		},
		{
			name:  "canceled during a slow answer",
			delay: 10 * time.Second,
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithCancel(t.Context())
				t.Cleanup(cancel)
				time.AfterFunc(50*time.Millisecond, cancel)
				return ctx
			},
			wantErr: context.Canceled,
		},
		{
			name: "deadline during the backoff",
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
				t.Cleanup(cancel)
				return ctx
			},
			wantErr: context.DeadlineExceeded,
		},
		{
			name:  "deadline during a slow answer",
			delay: 10 * time.Second,
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
				t.Cleanup(cancel)
				return ctx
			},
			wantErr: context.DeadlineExceeded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newUpstream(t)
			srv.SetFailing(http.StatusServiceUnavailable)
			srv.SetDelay(tt.delay)
			c := xkcd.NewClient(srv.URL, xkcd.WithRetries(5, backoff))

			ctx := tt.ctx(t)
			start := time.Now()
			_, err := c.Comic(ctx, 1)
			elapsed := time.Since(start)

			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Comic(1) error: got %v, want %v", err, tt.wantErr)
			}
			if got := c.Calls(); got != 1 {
				t.Errorf("client calls: got %d, want 1", got)
			}
			if elapsed >= backoff/2 {
				t.Errorf("Comic(1) returned after %v, want under %v", elapsed, backoff/2)
			}
		})
	}
}
