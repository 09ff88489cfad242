// hello is the benchmark app, served directly (net/http) or through wardend (same binary):
//   GET /      a fixed 64-byte body
//   GET /64k   a fixed 64 KiB body
//   POST /echo the request body back (read whole, then written with its Content-Length)
package main

import (
	"bytes"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"

	"warden.dev/warden"
)

var (
	small = []byte("Hello, World! This is the 64-byte response of the bench app....\n")
	large = bytes.Repeat([]byte("0123456789abcdef"), 4096)
)

func fixed(body []byte) http.HandlerFunc {
	n := strconv.Itoa(len(body))
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", n)
		w.Write(body)
	}
}

func echo(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

func main() {
	http.HandleFunc("/", fixed(small))
	http.HandleFunc("/64k", fixed(large))
	http.HandleFunc("/echo", echo)
	addr := "127.0.0.1:8080"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	log.Fatal(warden.ListenAndServe(addr, nil))
}
