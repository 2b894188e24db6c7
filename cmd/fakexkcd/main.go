// Command fakexkcd serves a fake xkcd upstream on a local port, for the
// load script and for trying the app without reaching xkcd.com.
// GET /_calls reports how many comic requests it has answered.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"

	"github.com/xkcdapp/xkcdapp/xkcd/xkcdtest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8001", "address to listen on")
	latest := flag.Int("latest", 3000, "number of the newest comic")
	flag.Parse()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	up := xkcdtest.NewUpstream(*latest, "http://"+ln.Addr().String())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_calls", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, up.Calls())
	})
	mux.Handle("/", up)
	log.Printf("fake xkcd at http://%s with comics 1..%d", ln.Addr(), *latest)
	log.Fatal(http.Serve(ln, mux))
}
