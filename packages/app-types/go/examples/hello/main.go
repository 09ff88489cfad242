// hello is the smallest app served by wardend: a plain net/http handler passed to warden.ListenAndServe.
//
//	GET  /            "Hello, <remote>!"
//	POST /echo        echoes the request body (streamed)
//	GET  /stream?n=N  N chunks, one per Flush
//	GET  /headers     the request as text (method, URL, proto, host, remote, TLS, headers)
package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"sort"
	"strconv"

	"warden.dev/warden"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello, %s!\n", r.RemoteAddr)
	})
	http.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		if _, err := io.Copy(w, r.Body); err != nil {
			log.Printf("echo: %v", err)
		}
	})
	http.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		for i := 0; i < n; i++ {
			fmt.Fprintf(w, "chunk %d\n", i)
			w.(http.Flusher).Flush()
		}
	})
	http.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "method=%s\nuri=%s\npath=%s\nquery=%s\nproto=%s\nhost=%s\nremote=%s\ntls=%v\nlength=%d\n",
			r.Method, r.RequestURI, r.URL.Path, r.URL.RawQuery, r.Proto, r.Host, r.RemoteAddr, r.TLS != nil, r.ContentLength)
		keys := make([]string, 0, len(r.Header))
		for k := range r.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			for _, v := range r.Header[k] {
				fmt.Fprintf(w, "h:%s=%s\n", k, v)
			}
		}
	})
	addr := ":8080"
	if p := os.Getenv("PORT"); p != "" {
		addr = ":" + p
	}
	if err := warden.ListenAndServe(addr, nil); err != nil {
		log.Fatal(err)
	}
}
