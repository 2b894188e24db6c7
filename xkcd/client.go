package xkcd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// ErrNotFound means upstream has no such comic (it answered 404).
var ErrNotFound = errors.New("xkcd: comic not found")

// DefaultBaseURL is the real upstream.
const DefaultBaseURL = "https://xkcd.com"

// Client fetches comics from the xkcd JSON API. It is safe for concurrent use.
type Client struct {
	baseURL   string
	http      *http.Client
	userAgent string
	// Attempts is how many times a comic is asked for before giving up on
	// 5xx answers, timeouts and broken connections.
	attempts int
	// backoff is the wait before the second attempt; it doubles after that.
	backoff time.Duration
	calls   atomic.Int64
}

// Option changes a Client's defaults.
type Option func(*Client)

// WithTimeout bounds each attempt, connection and body included.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.http.Timeout = d } }

// WithRetries sets the attempts per comic and the first backoff.
func WithRetries(attempts int, backoff time.Duration) Option {
	return func(c *Client) { c.attempts, c.backoff = max(attempts, 1), backoff }
}

// WithUserAgent names the app to upstream, as a polite client does.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// NewClient returns a client for baseURL (DefaultBaseURL when empty).
func NewClient(baseURL string, opts ...Option) *Client {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	c := &Client{
		baseURL:   strings.TrimRight(baseURL, "/"),
		http:      &http.Client{Timeout: 10 * time.Second},
		userAgent: "xkcdapp",
		attempts:  3,
		backoff:   250 * time.Millisecond,
	}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// Calls reports how many requests the client has attempted upstream,
// retries included, whether or not they reached the network.
func (c *Client) Calls() int64 { return c.calls.Load() }

// Latest fetches the newest comic.
func (c *Client) Latest(ctx context.Context) (Comic, error) {
	return c.fetch(ctx, c.baseURL+"/info.0.json")
}

// Comic fetches comic n. A comic upstream does not have gives ErrNotFound.
func (c *Client) Comic(ctx context.Context, n int) (Comic, error) {
	if n < 1 || n == Missing {
		return Comic{}, fmt.Errorf("xkcd: comic %d: %w", n, ErrNotFound)
	}
	comic, err := c.fetch(ctx, c.baseURL+"/"+strconv.Itoa(n)+"/info.0.json")
	if err == nil && comic.Num != n {
		return Comic{}, fmt.Errorf("xkcd: asked for comic %d, upstream sent %d", n, comic.Num)
	}
	return comic, err
}

func (c *Client) fetch(ctx context.Context, url string) (Comic, error) {
	wait := c.backoff
	for attempt := 1; ; attempt++ {
		comic, err := c.fetchOnce(ctx, url)
		if err == nil {
			return comic, nil
		}
		if !retryable(err) || attempt >= c.attempts {
			return Comic{}, fmt.Errorf("xkcd: %s: %w", url, err)
		}
		select {
		case <-ctx.Done():
			return Comic{}, fmt.Errorf("xkcd: %s: %w (last error: %v)", url, ctx.Err(), err)
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// statusError is an unexpected HTTP status from upstream.
type statusError int

func (e statusError) Error() string { return "upstream answered " + strconv.Itoa(int(e)) }

// retryable reports whether another attempt may succeed: server errors,
// timeouts and broken connections, but not a 404 or a malformed comic.
func retryable(err error) bool {
	var status statusError
	if errors.As(err, &status) {
		return status >= 500 || status == http.StatusTooManyRequests
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, context.Canceled) {
		return false
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// maxBody bounds what is read of one upstream answer; a comic is a few KB.
const maxBody = 1 << 20

func (c *Client) fetchOnce(ctx context.Context, url string) (Comic, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Comic{}, err
	}
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Accept", "application/json")
	c.calls.Add(1)
	resp, err := c.http.Do(req)
	if err != nil {
		return Comic{}, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return Comic{}, ErrNotFound
	case resp.StatusCode != http.StatusOK:
		// Drain a little so that the connection can be reused by the retry.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return Comic{}, statusError(resp.StatusCode)
	}
	var raw rawComic
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&raw); err != nil {
		return Comic{}, fmt.Errorf("decode comic: %w", err)
	}
	return raw.comic()
}

// rawComic is the JSON upstream sends; numbers in dates arrive as strings.
type rawComic struct {
	Num        int             `json:"num"`
	Title      string          `json:"title"`
	SafeTitle  string          `json:"safe_title"`
	Alt        string          `json:"alt"`
	Img        string          `json:"img"`
	Transcript string          `json:"transcript"`
	Link       string          `json:"link"`
	News       string          `json:"news"`
	Year       string          `json:"year"`
	Month      string          `json:"month"`
	Day        string          `json:"day"`
	ExtraParts json.RawMessage `json:"extra_parts"`
}

func (r rawComic) comic() (Comic, error) {
	if r.Num < 1 {
		return Comic{}, fmt.Errorf("decode comic: bad number %d", r.Num)
	}
	c := Comic{
		Num:        r.Num,
		Title:      RepairText(r.Title),
		SafeTitle:  RepairText(r.SafeTitle),
		Alt:        RepairText(r.Alt),
		Img:        strings.TrimSpace(strings.ReplaceAll(r.Img, "\x00", "")),
		Transcript: RepairText(r.Transcript),
		Link:       strings.TrimSpace(strings.ReplaceAll(r.Link, "\x00", "")),
		News:       RepairText(r.News),
		Published:  date(r.Year, r.Month, r.Day),
	}
	// jsonb refuses \u0000; such extra parts are dropped, the comic kept.
	if len(r.ExtraParts) > 0 && string(r.ExtraParts) != "null" && !bytes.Contains(r.ExtraParts, []byte(`\u0000`)) {
		c.ExtraParts = r.ExtraParts
	}
	if c.Title == "" {
		c.Title = c.SafeTitle
	}
	return c, nil
}

func date(year, month, day string) time.Time {
	y, err1 := strconv.Atoi(year)
	m, err2 := strconv.Atoi(month)
	d, err3 := strconv.Atoi(day)
	if err1 != nil || err2 != nil || err3 != nil {
		return time.Time{}
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Year() != y || t.Month() != time.Month(m) || t.Day() != d {
		return time.Time{} // 30 February is no date, not 1 March
	}
	return t
}
