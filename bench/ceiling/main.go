// Command ceiling serves a fixed 2 KB HTML page from a bare net/http
// handler: the most any page of this machine can do, for comparison.
package main

import (
	"flag"
	"log"
	"net/http"
	"strings"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8002", "address to listen on")
	flag.Parse()
	page := []byte("<!doctype html><html><head><title>ceiling</title></head><body><p>" +
		strings.Repeat("x", 2048-76) + "</p></body></html>")
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	})
	log.Printf("ceiling: %d-byte page at http://%s/", len(page), *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}
