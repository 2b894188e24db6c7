package static_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/xkcdapp/xkcdapp/static"
)

func serve(t *testing.T, method, url, acceptEncoding string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, url, nil)
	if acceptEncoding != "" {
		r.Header.Set("Accept-Encoding", acceptEncoding)
	}
	w := httptest.NewRecorder()
	static.Handler(http.NotFoundHandler()).ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("%s %s: got status %d, want 200", method, url, w.Code)
	}
	return w
}

// TestGzip: a browser that accepts gzip gets the file gzipped, and
// unzipped it is the file; one that does not, or refuses it, gets it as is.
func TestGzip(t *testing.T) {
	want, err := os.ReadFile("htmx.min.js")
	if err != nil {
		t.Fatal(err)
	}
	url := static.URL("htmx.min.js")
	for _, tt := range []struct {
		accept string
		gzip   bool
	}{
		{"gzip, deflate, br, zstd", true},
		{"br;q=1.0, GZIP;q=0.5", true},
		{"", false},
		{"br, zstd", false},
		{"gzip;q=0, br", false},
		{"identity", false},
	} {
		w := serve(t, http.MethodGet, url, tt.accept)
		if got := w.Header().Get("Vary"); got != "Accept-Encoding" {
			t.Errorf("Accept-Encoding %q: Vary: got %q, want Accept-Encoding", tt.accept, got)
		}
		if got := w.Header().Get("Content-Type"); !strings.HasPrefix(got, "text/javascript") {
			t.Errorf("Accept-Encoding %q: Content-Type: got %q, want text/javascript", tt.accept, got)
		}
		body := w.Body.Bytes()
		if got := w.Header().Get("Content-Encoding") == "gzip"; got != tt.gzip {
			t.Fatalf("Accept-Encoding %q: gzipped %v, want %v", tt.accept, got, tt.gzip)
		}
		if tt.gzip {
			if len(body) >= len(want)/2 {
				t.Errorf("gzipped: got %d bytes of %d, want less than half", len(body), len(want))
			}
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("gzip: %v", err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatalf("gunzip: %v", err)
			}
		}
		if !bytes.Equal(body, want) {
			t.Errorf("Accept-Encoding %q: body is not htmx.min.js", tt.accept)
		}
	}
}

// TestHead: HEAD tells the length of the file, and sends none of it.
func TestHead(t *testing.T) {
	fi, err := os.Stat("app.css")
	if err != nil {
		t.Fatal(err)
	}
	head := serve(t, http.MethodHead, static.URL("app.css"), "")
	if got, want := head.Header().Get("Content-Length"), strconv.FormatInt(fi.Size(), 10); got != want {
		t.Errorf("HEAD Content-Length: got %q, want %q", got, want)
	}
	if head.Body.Len() != 0 {
		t.Errorf("HEAD body: got %d bytes, want none", head.Body.Len())
	}
}
