package handlers_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// readiness is the /readyz body as the load balancer and operators read it.
type readiness struct {
	Ready    bool `json:"ready"`
	Database struct {
		Kind string `json:"kind"`
		OK   bool   `json:"ok"`
	} `json:"database"`
	Sessions struct {
		Kind string `json:"kind"`
		OK   bool   `json:"ok"`
	} `json:"sessions"`
	Live struct {
		Kind string `json:"kind"`
		OK   bool   `json:"ok"`
	} `json:"live"`
	Catalog struct {
		OK       bool   `json:"ok"`
		Cached   int    `json:"cached"`
		Latest   int    `json:"latest"`
		Complete bool   `json:"complete"`
		SyncErr  string `json:"sync_error"`
	} `json:"catalog"`
}

func readyz(t *testing.T, a *app) (*httptest.ResponseRecorder, readiness) {
	t.Helper()
	w := a.get(t, "/readyz", nil)
	if got := w.Header().Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
		t.Errorf("Content-Type: got %q, want application/json", got)
	}
	var rd readiness
	if err := json.Unmarshal(w.Body.Bytes(), &rd); err != nil {
		t.Fatalf("decode /readyz: %v; body: %s", err, w.Body.String())
	}
	return w, rd
}

func TestHealthz(t *testing.T) {
	a := newApp(t, latest)
	a.upstream.Stop()
	w := a.get(t, "/healthz", nil)
	assertStatus(t, w, http.StatusOK)
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control: got %q, want %q", got, "no-store")
	}
	if got := w.Header().Get("Set-Cookie"); got != "" {
		t.Errorf("Set-Cookie on a probe: got %q, want none", got)
	}
}

func TestReadyzWarm(t *testing.T) {
	a := newWarmApp(t, latest)
	w, rd := readyz(t, a)
	assertStatus(t, w, http.StatusOK)
	if !rd.Ready || !rd.Catalog.OK {
		t.Errorf("ready, catalog ok: got %v, %v, want true, true", rd.Ready, rd.Catalog.OK)
	}
	if rd.Catalog.Cached != latest || rd.Catalog.Latest != latest || !rd.Catalog.Complete {
		t.Errorf("catalog: got cached %d latest %d complete %v, want %d %d true",
			rd.Catalog.Cached, rd.Catalog.Latest, rd.Catalog.Complete, latest, latest)
	}
	if rd.Database.Kind != "memory" || !rd.Database.OK {
		t.Errorf("database: got %+v, want kind memory, ok", rd.Database)
	}
	if rd.Sessions.Kind != "memory" || !rd.Sessions.OK {
		t.Errorf("sessions: got %+v, want kind memory, ok", rd.Sessions)
	}
	if rd.Live.Kind != "memory" || !rd.Live.OK {
		t.Errorf("live: got %+v, want kind memory, ok", rd.Live)
	}
	// Cached comics keep the app ready with the upstream gone.
	a.upstream.Stop()
	w, rd = readyz(t, a)
	assertStatus(t, w, http.StatusOK)
	if rd.Catalog.Cached == 0 {
		t.Errorf("catalog.cached with upstream down: got 0, want > 0")
	}
}

func TestReadyzColdAndUpstreamDown(t *testing.T) {
	a := newApp(t, latest)
	a.upstream.Stop()
	// A visitor's request fails upstream; the app is still not ready.
	assertProblem(t, a.get(t, "/", nil), http.StatusServiceUnavailable)
	w, rd := readyz(t, a)
	assertStatus(t, w, http.StatusServiceUnavailable)
	if rd.Ready || rd.Catalog.OK || rd.Catalog.Cached != 0 {
		t.Errorf("ready, catalog ok, cached: got %v, %v, %d, want false, false, 0",
			rd.Ready, rd.Catalog.OK, rd.Catalog.Cached)
	}
	if rd.Catalog.SyncErr == "" {
		t.Errorf("catalog.sync_error: got none, want the upstream failure")
	}
}

func TestUpstreamDownWithNothingCached(t *testing.T) {
	a := newApp(t, latest)
	a.upstream.Stop()
	for _, path := range []string{"/", "/random", "/latest", "/comic/5"} {
		t.Run(path, func(t *testing.T) {
			w := a.get(t, path, nil)
			doc := assertProblem(t, w, http.StatusServiceUnavailable)
			if got := w.Header().Get("Retry-After"); got == "" {
				t.Errorf("Retry-After: got none, want one")
			} else if s, err := strconv.Atoi(got); err != nil || s < 1 {
				t.Errorf("Retry-After: got %q, want a number of seconds", got)
			}
			if n := doc.Find(`#problem a[href="` + path + `"]`).Length(); n != 1 {
				t.Errorf("retry link to %s: got %d, want 1", path, n)
			}
			if got := w.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control: got %q, want %q", got, "no-store")
			}
		})
	}

	t.Run("htmx", func(t *testing.T) {
		w := a.get(t, "/random", htmx)
		assertStatus(t, w, http.StatusServiceUnavailable)
		assertFragment(t, w)
		if got := w.Header().Get("HX-Retarget"); got != "#notice" {
			t.Errorf("HX-Retarget: got %q, want %q", got, "#notice")
		}
		if got := w.Header().Get("Retry-After"); got == "" {
			t.Errorf("Retry-After: got none, want one")
		}
		if n := parse(t, w).Find(`a[href="/random"]`).Length(); n != 1 {
			t.Errorf("retry link: got %d, want 1", n)
		}
	})
}

func TestUpstreamDownAfterBackfill(t *testing.T) {
	a := newWarmApp(t, latest)
	a.upstream.Stop()
	for _, tt := range []struct {
		path   string
		header http.Header
	}{
		{"/comic/1", nil},
		{"/comic/" + strconv.Itoa(latest), nil},
		{"/comic/7", htmx},
		{"/", nil},
		{"/random", htmx},
		{"/latest", htmx},
	} {
		t.Run(tt.path, func(t *testing.T) {
			w := a.get(t, tt.path, tt.header)
			assertStatus(t, w, http.StatusOK)
			comicShown(t, w)
		})
	}
	for range 20 {
		w := a.get(t, "/random", nil)
		assertStatus(t, w, http.StatusSeeOther)
		assertStatus(t, a.get(t, w.Header().Get("Location"), nil), http.StatusOK)
	}
	// A comic beyond the latest is still a plain 404, not an outage.
	assertProblem(t, a.get(t, "/comic/"+strconv.Itoa(latest+2), nil), http.StatusNotFound)
}
