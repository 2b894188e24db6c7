package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// healthz answers as long as the process does: the liveness probe.
func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte("ok\n"))
}

// readiness is the /readyz body.
type readiness struct {
	Ready    bool         `json:"ready"`
	Database backendState `json:"database"`
	Sessions backendState `json:"sessions"`
	// Live is the database connection on which live stats hear of views
	// on other instances.
	Live    backendState `json:"live"`
	Catalog catalogState `json:"catalog"`
}

// backendState is one backing service as /readyz sees it.
type backendState struct {
	Kind  string `json:"kind"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// catalogState is the catalog as /readyz sees it.
type catalogState struct {
	OK       bool      `json:"ok"`
	Cached   int       `json:"cached"`
	Latest   int       `json:"latest"`
	Complete bool      `json:"complete"`
	LastSync time.Time `json:"last_sync,omitzero"`
	SyncErr  string    `json:"sync_error,omitempty"`
}

// readyz is the load balancer's health check. Only the catalog decides
// readiness: with the database down the app still serves comics (views are
// held), with Redis down it serves them without history, and failing the
// check would make the orchestrator kill tasks that are doing their best.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	st := s.Catalog.Status()
	rd := readiness{
		Database: backendState{Kind: s.DatabaseKind, OK: true},
		Sessions: backendState{Kind: s.Sessions.Kind, OK: true},
		Live:     backendState{Kind: s.DatabaseKind, OK: true},
		Catalog: catalogState{
			OK:       st.Cached > 0, // the latest comic, once known, is cached too
			Cached:   st.Cached,
			Latest:   st.Latest,
			Complete: st.Complete,
			LastSync: st.LastSync.At,
		},
	}
	if st.LastSync.Err != nil {
		rd.Catalog.SyncErr = st.LastSync.Err.Error()
	}
	if err := s.Rankings.Ping(ctx); err != nil {
		rd.Database.OK, rd.Database.Error = false, "unreachable"
		s.Log.WarnContext(ctx, "readyz: database unreachable", "err", err)
	}
	// Without sessions, pages are served without history: not a reason to
	// take the task out of service either.
	if err := s.Sessions.Ping(ctx); err != nil {
		rd.Sessions.OK, rd.Sessions.Error = false, "unreachable"
		s.Log.WarnContext(ctx, "readyz: sessions unreachable", "err", err)
	}
	// Without it, live stats still show this instance's views, and the
	// others' at each heartbeat; it reconnects by itself and logs so.
	if err := s.Rankings.Listening(); err != nil {
		rd.Live.OK, rd.Live.Error = false, "not listening"
	}
	rd.Ready = rd.Catalog.OK
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !rd.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(rd)
}
