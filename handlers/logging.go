package handlers

import (
	"context"
	"log/slog"
)

// LogHandler wraps h so that every record logged with a request's context
// carries that request's id, wherever in the app it is logged.
func LogHandler(h slog.Handler) slog.Handler { return requestIDHandler{h} }

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// maxLoggedURI bounds what a request's path or URI adds to a log line; the
// rest is the client's to keep.
const maxLoggedURI = 256

// loggable cuts s to maxLoggedURI bytes.
func loggable(s string) string {
	if len(s) <= maxLoggedURI {
		return s
	}
	return s[:maxLoggedURI] + "…"
}
