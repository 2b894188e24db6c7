package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/xkcdapp/xkcdapp/live/livetest"
	"github.com/xkcdapp/xkcdapp/session/sessiontest"
	"github.com/xkcdapp/xkcdapp/store/storetest"
	"github.com/xkcdapp/xkcdapp/xkcd/xkcdtest"
)

// deliveryBudget is how soon a view on one instance must show on a
// stream of another.
const deliveryBudget = time.Second

// stalledStream opens a stream on base and never reads from it, as a
// browser on a dead network would; the connection closes when the test
// ends.
func stalledStream(t *testing.T, base, query string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	// The smallest receive window the kernel allows, so that the server's
	// writes to it back up soon.
	conn.(*net.TCPConn).SetReadBuffer(1)
	fmt.Fprintf(conn, "GET /stats/stream?%s HTTP/1.1\r\nHost: %s\r\nHX-Request: true\r\n\r\n", query, u.Host)
	// The status line says the stream is open; nothing is read after it.
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || status != "HTTP/1.1 200 OK\r\n" {
		t.Fatalf("stalled stream: status line %q, %v", status, err)
	}
}

func rowViews(num int) func(*goquery.Document) string {
	return func(d *goquery.Document) string {
		return livetest.Attr(d, `#leaderboard tr[data-num="`+strconv.Itoa(num)+`"]`, "data-views")
	}
}

// TestLiveAcrossInstances: two instances share Postgres and Redis; a view
// made on A shows on streams read from B within a second, whatever a
// stream on B that never reads does, and B counts the watchers of both.
func TestLiveAcrossInstances(t *testing.T) {
	upstream := xkcdtest.NewServer(40)
	t.Cleanup(upstream.Stop)
	env := map[string]string{
		"XKCD_BASE_URL": upstream.URL,
		"DATABASE_URL":  storetest.NewDatabase(t),
		"REDIS_URL":     sessiontest.URL(t),
	}
	a, b := startApp(t, env), startApp(t, env)
	a.waitUntilSynced(t)
	b.waitUntilSynced(t)
	view(t, http.DefaultClient, a.URL+"/comic/12")

	for range 3 {
		stalledStream(t, b.URL, "comic=12")
		stalledStream(t, b.URL, "n=10")
	}
	comic := livetest.Open(t, b.URL+"/stats/stream?comic=12")
	board := livetest.Open(t, b.URL+"/stats/stream?n=10")
	onA := livetest.Open(t, a.URL+"/stats/stream?n=10")
	if got := livetest.Attr(comic.Next(t, 10*time.Second), "#comic-views", "data-views"); got != "1" {
		t.Fatalf("B's first count of comic 12: got %q, want 1", got)
	}
	// Streams on both instances, the stalled ones too, are people watching.
	board.NextWhere(t, 10*time.Second, "9 watching on A and B", func(d *goquery.Document) bool {
		return livetest.Attr(d, "#live-totals [data-watching]", "data-watching") == "9"
	})
	onA.NextWhere(t, 10*time.Second, "9 watching, seen from A", func(d *goquery.Document) bool {
		return livetest.Attr(d, "#live-totals [data-watching]", "data-watching") == "9"
	})

	for i := 2; i <= 4; i++ {
		want := strconv.Itoa(i)
		view(t, http.DefaultClient, a.URL+"/comic/12")
		comic.NextWhere(t, deliveryBudget, "comic 12's count "+want+" on B", func(d *goquery.Document) bool {
			return livetest.Attr(d, "#comic-views", "data-views") == want
		})
		doc := board.NextWhere(t, deliveryBudget, "comic 12 at "+want+" on B's leaderboard", func(d *goquery.Document) bool {
			return rowViews(12)(d) == want
		})
		if row := doc.Find(`#leaderboard tr[data-num="12"]`); !row.HasClass("changed") || row.Find("a").Text() != xkcdtest.Title(12) {
			t.Errorf("row of comic 12: class %q, title %q; want changed and %q", row.AttrOr("class", ""), row.Find("a").Text(), xkcdtest.Title(12))
		}
	}
}

// TestLiveStreamsEndOnShutdown: on SIGTERM open streams end at once, so
// that browsers reconnect to another instance instead of waiting out the
// drain.
func TestLiveStreamsEndOnShutdown(t *testing.T) {
	upstream := xkcdtest.NewServer(10)
	t.Cleanup(upstream.Stop)
	app := startApp(t, map[string]string{"XKCD_BASE_URL": upstream.URL})
	s := livetest.Open(t, app.URL+"/stats/stream?n=10")
	s.Next(t, 10*time.Second)
	stopped := make(chan error, 1)
	go func() { stopped <- app.Stop() }()
	// Well inside the drain: a stream left open would hold it to the end.
	s.Ended(t, drainTimeout/4)
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("stop: %v", err)
		}
	case <-time.After(drainTimeout / 2):
		t.Error("the app did not stop within half the drain timeout")
	}
}
