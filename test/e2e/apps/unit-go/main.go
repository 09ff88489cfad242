// A Go app written for NGINX Unit, unchanged: it imports unit.nginx.org/go and calls unit.ListenAndServe. The e2e
// test adds the one line a Unit user adds to go.mod (replace unit.nginx.org/go => Warden's module) and builds it.
package main

import (
	"fmt"
	"io"
	"net/http"

	"unit.nginx.org/go"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello from a Unit Go app: %s %s (%s)\n", r.Method, r.URL.Path, r.URL.Scheme)
	})
	http.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		io.Copy(w, r.Body)
	})
	unit.ListenAndServe(":8080", nil)
}
