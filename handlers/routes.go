package handlers

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/xkcdapp/xkcdapp/static"
)

// routes is every route and middleware chain, at a glance.
func (s *server) routes() http.Handler {
	router := s.router()
	// A live stream is held open for as long as its page is: it skips the
	// router and the page headers, whose frames would keep each stream's
	// stack at 16 KB instead of 8 (measured), and keeps the middleware
	// that matters to it. Other methods go through the router, which
	// answers them as usual.
	stream := requestID(s.logRequests(s.recoverPanics(s.handle(s.statsStream))))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stats/stream" && r.Method == http.MethodGet {
			stream.ServeHTTP(w, r)
			return
		}
		router.ServeHTTP(w, r)
	})
}

// router is every route but the live stream's fast path.
func (s *server) router() http.Handler {
	r := chi.NewRouter()
	r.Use(requestID, s.logRequests, s.recoverPanics, securityHeaders(s.ImageOrigins))
	// A POST from another site is refused before any handler sees it.
	r.Use(s.crossOriginProtection().Handler)
	// HEAD answers like GET without a body; countsAsView keeps it uncounted.
	r.Use(headAsGet)

	// Probes stay outside the session middleware: the load balancer has no cookie.
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	notFound := s.handle(func(w http.ResponseWriter, r *http.Request) error { return errNoPage })
	r.Get(static.Prefix+"*", static.Handler(notFound).ServeHTTP)
	r.Get("/leaderboard", s.handle(s.leaderboard))
	r.Get("/stats/stream", s.handle(s.statsStream))

	r.Group(func(r chi.Router) {
		r.Use(s.loadSession)
		r.Get("/", s.handle(s.home))
		r.Get("/random", s.handle(s.pick(s.random)))
		r.Get("/latest", s.handle(s.pick(s.latest)))
		r.Get("/comic/{num}", s.handle(s.comic))
		r.Get("/history", s.handle(s.showHistory))
		r.Post("/history/clear", s.handle(s.clearHistory))
	})

	// The admin console: 404 unless configured, never cached. A mounted
	// router matches HEAD for itself: the headAsGet above cannot see its routes.
	r.Route("/admin", func(r chi.Router) {
		r.Use(headAsGet, s.adminOnly, s.loadSession)
		r.Get("/", s.handle(s.adminHome))
		r.Post("/sign-in", s.handle(s.adminSignIn))
		r.Group(func(r chi.Router) {
			r.Use(s.signedIn)
			r.Post("/sign-out", s.handle(s.adminSignOut))
			r.Post("/sync", s.handle(s.syncNow))
			r.Get("/views", s.handle(s.adminCounts))
			r.Get("/views/{num}", s.handle(s.adminComic))
			r.Post("/views/{num}", s.handle(s.setComicViews))
			r.Get("/audit", s.handle(s.adminAudit))
		})
	})

	r.NotFound(notFound)
	r.MethodNotAllowed(s.handle(func(w http.ResponseWriter, req *http.Request) error {
		return methodNotAllowed(allowed(r, req.URL.Path))
	}))
	return r
}

// allowed lists the methods routes answers at path, for the Allow header.
func allowed(routes chi.Routes, path string) string {
	var methods []string
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		if routes.Match(chi.NewRouteContext(), m, path) {
			methods = append(methods, m)
			if m == http.MethodGet {
				methods = append(methods, http.MethodHead)
			}
		}
	}
	return strings.Join(methods, ", ")
}

// crossOriginProtection refuses state-changing requests that a browser
// says come from another site (Sec-Fetch-Site), or whose Origin is not
// this host.
func (s *server) crossOriginProtection() *http.CrossOriginProtection {
	p := http.NewCrossOriginProtection()
	p.SetDenyHandler(s.handle(func(w http.ResponseWriter, r *http.Request) error { return errCrossSite }))
	return p
}
