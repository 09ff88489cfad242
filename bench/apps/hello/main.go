// hello is the benchmark app: a fixed small body, served directly (net/http) or through wardend (same binary).
package main

import (
	"log"
	"net/http"
	"os"

	"warden.dev/warden"
)

var body = []byte("Hello, World!\n")

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})
	addr := "127.0.0.1:8080"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	log.Fatal(warden.ListenAndServe(addr, nil))
}
