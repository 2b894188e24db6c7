// Command xkcdapp serves xkcd comics: a random one per visit, swapped in
// place with htmx, every view counted.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	// Time-zone data inside the binary: the container image has none.
	_ "time/tzdata"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "xkcdapp:", err)
		os.Exit(1)
	}
}
