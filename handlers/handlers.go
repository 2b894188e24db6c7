// Package handlers is the HTTP side of the app: routes, middleware, one
// file per feature, and one place where errors become pages.
package handlers

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/xkcdapp/xkcdapp/admin"
	"github.com/xkcdapp/xkcdapp/catalog"
	"github.com/xkcdapp/xkcdapp/session"
	"github.com/xkcdapp/xkcdapp/views"
	"github.com/xkcdapp/xkcdapp/xkcd"
)

// Catalog finds comics; *catalog.Catalog is one.
type Catalog interface {
	Comic(ctx context.Context, n int) (*xkcd.Comic, error)
	Random(ctx context.Context, skip func(num int) bool) (*xkcd.Comic, error)
	Latest(ctx context.Context) (*xkcd.Comic, error)
	Cached(n int) (*xkcd.Comic, bool)
	Status() catalog.Status
	RecentErrors() []catalog.UpstreamError
	SyncNow() error
}

// Counter counts a view and returns the comic's new count.
type Counter interface {
	Record(ctx context.Context, num int) (int64, error)
	// Forget drops what it knows of a comic's count, once an operator set it.
	Forget(num int)
}

// Rankings reads view counts; both stores are one.
type Rankings interface {
	Views(ctx context.Context, num int) (int64, error)
	Ping(ctx context.Context) error
	// Listening is nil while the store hears of other instances' views.
	Listening() error
}

// server holds what the handlers need. Build it with New.
type server struct {
	Deps
	pages   views.ComicCache
	streams clientStreams
}

// Deps is everything the handlers are given.
type Deps struct {
	Catalog  Catalog
	Counter  Counter
	Rankings Rankings
	Live     Live
	Sessions *session.Sessions
	Log      *slog.Logger
	// DatabaseKind names the database for /readyz: "postgres" or "memory".
	DatabaseKind string
	// ImageOrigins are the origins comic images may load from (CSP img-src).
	ImageOrigins []string
	// Admin checks the operator's sign-ins; nil: no admin console (404).
	Admin *admin.Guard
	// AdminStore keeps count changes and the audit log.
	AdminStore AdminStore
}

// New returns the app's HTTP handler.
func New(d Deps) http.Handler {
	s := &server{Deps: d}
	return s.routes()
}
