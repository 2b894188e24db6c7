// Package xkcdtest is a fake xkcd upstream for tests, benchmarks and demos:
// a full catalog of generated comics with the quirks the real one has.
package xkcdtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Numbers of the quirky comics in every fake catalog (latest must be >= 8).
const (
	Entities      = 3 // HTML entities in title and alt
	Markup        = 4 // markup in title and alt that must be shown, not run
	DoubleEncoded = 5 // UTF-8 decoded as Latin-1, as with the real 971
	Linked        = 6 // a link field, as with comics that link elsewhere
	Interactive   = 7 // img is the bare directory, as with the real 1608
	ExtraParts    = 8 // extra_parts, as with the real interactive comics
)

// Upstream serves /info.0.json, /{n}/info.0.json and /comics/{n}.png.
// Its zero value is not usable: call NewUpstream.
type Upstream struct {
	mu     sync.RWMutex
	latest int
	base   string // origin the img fields point at

	delay   atomic.Int64 // nanoseconds slept before answering
	failing atomic.Int32 // status to answer with instead, 0 for none
	calls   atomic.Int64 // JSON requests served, images excluded
}

// NewUpstream returns a fake whose latest comic is latest and whose image
// URLs point at base (the fake's own origin once it listens).
func NewUpstream(latest int, base string) *Upstream {
	return &Upstream{latest: latest, base: strings.TrimRight(base, "/")}
}

// SetLatest publishes comics up to n.
func (u *Upstream) SetLatest(n int) { u.mu.Lock(); u.latest = n; u.mu.Unlock() }

// SetDelay makes every answer wait d first.
func (u *Upstream) SetDelay(d time.Duration) { u.delay.Store(int64(d)) }

// SetFailing makes every answer the given status; 0 heals.
func (u *Upstream) SetFailing(status int) { u.failing.Store(int32(status)) }

// Calls is the number of comic (JSON) requests received.
func (u *Upstream) Calls() int64 { return u.calls.Load() }

// ServeHTTP answers like xkcd.com does.
func (u *Upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/comics/") {
		serveImage(w, r)
		return
	}
	u.calls.Add(1)
	if d := time.Duration(u.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if status := int(u.failing.Load()); status != 0 {
		http.Error(w, http.StatusText(status), status)
		return
	}
	u.mu.RLock()
	latest := u.latest
	u.mu.RUnlock()
	n := latest
	if r.URL.Path != "/info.0.json" {
		num, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/info.0.json")
		var err error
		if n, err = strconv.Atoi(num); !ok || err != nil {
			http.NotFound(w, r)
			return
		}
	}
	if n < 1 || n > latest || n == 404 {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(u.comicJSON(n))
}

// Title is the title the fake gives comic n once repaired.
func Title(n int) string {
	switch n {
	case Entities:
		return "Fish & Chips — café"
	case Markup:
		return `<script>alert("title")</script><b>Bold</b>`
	case DoubleEncoded:
		return "Naïve café"
	default:
		return "Comic number " + strconv.Itoa(n)
	}
}

// Alt is the alt text the fake gives comic n once repaired.
func Alt(n int) string {
	switch n {
	case Entities:
		return `"Quoted" & <escaped> — fine`
	case Markup:
		return `<img src=x onerror="alert('alt')">`
	case DoubleEncoded:
		return "It’s déjà vu"
	default:
		return "The alt text of comic " + strconv.Itoa(n) + "."
	}
}

func (u *Upstream) comicJSON(n int) []byte {
	c := map[string]any{
		"num":        n,
		"title":      Title(n),
		"safe_title": Title(n),
		"alt":        Alt(n),
		"img":        fmt.Sprintf("%s/comics/comic_%d.png", u.base, n),
		"transcript": "",
		"link":       "",
		"news":       "",
		"year":       strconv.Itoa(2006 + n%20),
		"month":      strconv.Itoa(1 + n%12),
		"day":        strconv.Itoa(1 + n%28),
	}
	switch n {
	case Entities:
		c["title"] = "Fish &amp; Chips &mdash; caf&eacute;"
		c["safe_title"] = c["title"]
		c["alt"] = "&quot;Quoted&quot; &amp; &lt;escaped&gt; &mdash; fine"
		c["transcript"] = "[[A person stands.]]\nPerson: Hello &amp; goodbye."
	case DoubleEncoded:
		c["title"] = latin1(Title(n))
		c["safe_title"] = c["title"]
		c["alt"] = latin1(Alt(n))
	case Linked:
		c["link"] = "https://example.com/linked-comic"
	case Interactive:
		c["img"] = "https://imgs.xkcd.com/comics/"
	case ExtraParts:
		c["extra_parts"] = map[string]any{"pre": "", "post": "", "headerextra": "", "inset": "<div>game</div>"}
	}
	b, _ := json.Marshal(c)
	return b
}

// latin1 spells s's UTF-8 bytes as Latin-1 runes: the damage upstream has.
func latin1(s string) string {
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}

var pngOnce = sync.OnceValue(func() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 480, 300))
	for y := range 300 {
		for x := range 480 {
			c := color.RGBA{255, 255, 255, 255}
			if x < 4 || y < 4 || x >= 476 || y >= 296 || (x-y)%60 == 0 {
				c = color.RGBA{40, 40, 40, 255}
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	return buf.Bytes()
})

func serveImage(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Write(pngOnce())
}

// Server is a running fake upstream.
type Server struct {
	*Upstream
	URL string
	srv *httptest.Server
}

// NewServer starts a fake upstream on a loopback port.
func NewServer(latest int) *Server {
	u := NewUpstream(latest, "")
	// Its address is known before it serves: a stray client on a reused
	// port must not race the write of u.base.
	srv := httptest.NewUnstartedServer(u)
	u.base = "http://" + srv.Listener.Addr().String()
	srv.Start()
	return &Server{Upstream: u, URL: srv.URL, srv: srv}
}

// Stop takes the upstream down for good: connections are refused from now on.
func (s *Server) Stop() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}
