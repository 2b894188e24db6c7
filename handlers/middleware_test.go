package handlers_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func TestSecurityHeaders(t *testing.T) {
	a := newWarmApp(t, latest)
	tests := []struct {
		path   string
		header http.Header
	}{
		{"/", nil},
		{"/comic/5", nil},
		{"/comic/5", htmx},
		{"/leaderboard", nil},
		{"/comic/0", nil},
		{"/comic/0", htmx},
		{"/no/such/page", nil},
		{"/leaderboard?n=0", nil},
		{"/random", nil},
	}
	for _, tt := range tests {
		t.Run(tt.path+" htmx="+tt.header.Get("HX-Request"), func(t *testing.T) {
			w := a.get(t, tt.path, tt.header)
			csp := w.Header().Get("Content-Security-Policy")
			for _, want := range []string{"frame-ancestors 'none'", "script-src 'self'", "object-src 'none'", "base-uri 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("Content-Security-Policy: got %q, want it to contain %q", csp, want)
				}
			}
			for _, bad := range []string{"'unsafe-inline'", "'unsafe-eval'", "*"} {
				if strings.Contains(csp, bad) {
					t.Errorf("Content-Security-Policy: got %q, want no %s", csp, bad)
				}
			}
			if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options: got %q, want %q", got, "nosniff")
			}
			if got := w.Header().Get("Referrer-Policy"); got == "" {
				t.Errorf("Referrer-Policy: got none, want one")
			}
			if got := w.Header().Get("X-Frame-Options"); got != "DENY" {
				t.Errorf("X-Frame-Options: got %q, want %q", got, "DENY")
			}
		})
	}
}

// TestCSPAllowsComicImages checks that the images on a page are not blocked
// by the page's own policy.
func TestCSPAllowsComicImages(t *testing.T) {
	a := newWarmApp(t, latest)
	w := a.get(t, "/comic/5", nil)
	assertStatus(t, w, http.StatusOK)
	src := parse(t, w).Find("#comic img").AttrOr("src", "")
	if !strings.HasPrefix(src, a.upstream.URL+"/") {
		t.Fatalf("img src: got %q, want an image from the upstream %s", src, a.upstream.URL)
	}
	var imgSrc string
	for d := range strings.SplitSeq(w.Header().Get("Content-Security-Policy"), ";") {
		if f := strings.Fields(d); len(f) > 0 && f[0] == "img-src" {
			imgSrc = d
		}
	}
	if !strings.Contains(imgSrc, a.upstream.URL) {
		t.Errorf("img-src: got %q, want it to allow %s", imgSrc, a.upstream.URL)
	}
}

func TestRequestID(t *testing.T) {
	a := newWarmApp(t, latest)
	sane := regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	tests := []struct {
		name string
		sent string
		kept bool
	}{
		{"sane", "abc-123_XYZ", true},
		{"64 characters", strings.Repeat("a", 64), true},
		{"spaces and markup", "a b<>", false},
		{"65 characters", strings.Repeat("a", 65), false},
		{"header injection", "abc\r\nSet-Cookie: x=1", false},
		{"unicode", "ünïcode", false},
		{"none", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{"/comic/5", "/comic/0", "/healthz"} {
				w := a.get(t, path, header("X-Request-Id", tt.sent))
				got := w.Header().Get("X-Request-Id")
				if tt.kept && got != tt.sent {
					t.Errorf("%s: X-Request-Id: got %q, want %q", path, got, tt.sent)
				}
				if !tt.kept && (got == tt.sent || !sane.MatchString(got)) {
					t.Errorf("%s: X-Request-Id: got %q, want a fresh sane id instead of %q", path, got, tt.sent)
				}
			}
		})
	}

	t.Run("fresh ids differ", func(t *testing.T) {
		first := a.get(t, "/healthz", nil).Header().Get("X-Request-Id")
		second := a.get(t, "/healthz", nil).Header().Get("X-Request-Id")
		if first == second {
			t.Errorf("ids of two requests: got %q twice, want different ids", first)
		}
	})
}

func TestUnknownRoute(t *testing.T) {
	a := newWarmApp(t, latest)
	for _, path := range []string{"/nope", "/comics/5", "/comic", "/index.php", "/leaderboard/extra"} {
		t.Run(path, func(t *testing.T) {
			doc := assertProblem(t, a.get(t, path, nil), http.StatusNotFound)
			if got := doc.Find("#problem h1").Text(); got != "Page not found" {
				t.Errorf("heading: got %q, want %q", got, "Page not found")
			}
			if n := doc.Find(`#problem a[href="/random"]`).Length(); n != 1 {
				t.Errorf("link onward to a random comic: got %d, want 1", n)
			}
		})
	}
}
