package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/xkcdapp/xkcdapp/catalog"
	"github.com/xkcdapp/xkcdapp/config"
)

// syncAll backfills the whole catalog into the store and exits.
func syncAll(ctx context.Context, cfg config.Config, log *slog.Logger, stderr io.Writer) error {
	db, _, err := openStore(ctx, cfg, log, cfg.Migrate)
	if err != nil {
		return err
	}
	defer db.Close()
	cat := catalog.New(upstreamClient(cfg), db, log)
	if err := cat.Load(ctx); err != nil {
		return err
	}
	start := time.Now()
	progress := logProgress(log)
	if isTerminal(stderr) {
		progress = barProgress(stderr)
	}
	err = cat.Backfill(ctx, progress)
	st := cat.Status()
	log.Info("sync finished", "cached", st.Cached, "latest", st.Latest,
		"took", time.Since(start).Round(time.Millisecond), "ok", err == nil)
	return err
}

// barProgress draws a progress bar on a terminal.
func barProgress(w io.Writer) catalog.Progress {
	const width = 40
	return func(done, total int) {
		filled := width * done / max(total, 1)
		fmt.Fprintf(w, "\r[%s%s] %d/%d", strings.Repeat("#", filled), strings.Repeat(" ", width-filled), done, total)
		if done == total {
			fmt.Fprintln(w)
		}
	}
}

// logProgress logs every tenth of the way, for logs that are not a terminal.
func logProgress(log *slog.Logger) catalog.Progress {
	last := -1
	return func(done, total int) {
		if tenth := 10 * done / max(total, 1); tenth != last || done == total {
			last = tenth
			log.Info("sync progress", "done", done, "total", total)
		}
	}
}
