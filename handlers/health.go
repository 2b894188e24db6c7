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

// Readiness is the /readyz body.
type Readiness struct {
	Ready    bool         `json:"ready"`
	Database BackendState `json:"database"`
	Sessions BackendState `json:"sessions"`
	Catalog  CatalogState `json:"catalog"`
}

// BackendState is one backing service as /readyz sees it.
type BackendState struct {
	Kind  string `json:"kind"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// CatalogState is the catalog as /readyz sees it.
type CatalogState struct {
	OK       bool      `json:"ok"`
	Cached   int       `json:"cached"`
	Latest   int       `json:"latest"`
	Complete bool      `json:"complete"`
	LastSync time.Time `json:"last_sync,omitzero"`
	SyncErr  string    `json:"sync_error,omitempty"`
}

// readyz is the load balancer's health check. Only the catalog decides
// readiness: with the database or Redis down the app still serves comics
// (views are held, history is skipped), and failing the check would make
// the orchestrator kill tasks that are doing their best.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	st := s.Catalog.Status()
	rd := Readiness{
		Database: BackendState{Kind: s.DatabaseKind, OK: true},
		Sessions: BackendState{Kind: s.SessionKind, OK: true},
		Catalog: CatalogState{
			OK:       st.Cached > 0 || st.Latest > 0,
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
	rd.Ready = rd.Catalog.OK
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !rd.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(rd)
}
