package handlers

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/xkcdapp/xkcdapp/static"
)

// routes is every route and middleware chain, at a glance.
func (s *server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(requestID, s.logRequests, s.recoverPanics, securityHeaders(s.ImageOrigins))
	// HEAD answers like GET without a body; countsAsView keeps it uncounted.
	r.Use(middleware.GetHead)

	// Probes stay outside the session middleware: the load balancer has no cookie.
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	notFound := s.handle(func(w http.ResponseWriter, r *http.Request) error { return errNoPage })
	r.With(middleware.Compress(5)).Get(static.Prefix+"*", static.Handler(notFound).ServeHTTP)

	r.Group(func(r chi.Router) {
		r.Use(s.Sessions.LoadAndSave)
		r.Get("/", s.handle(s.home))
		r.Get("/random", s.handle(s.pick(s.Catalog.Random)))
		r.Get("/latest", s.handle(s.pick(s.Catalog.Latest)))
		r.Get("/comic/{num}", s.handle(s.comic))
		r.Get("/leaderboard", s.handle(s.leaderboard))
	})

	r.NotFound(notFound)
	r.MethodNotAllowed(s.handle(func(w http.ResponseWriter, r *http.Request) error { return errMethod }))
	return r
}
