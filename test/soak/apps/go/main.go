// soak is the Go app of the soak test (test/soak/soak.js). Every answer starts with the header X-Soak-Pid (its pid
// as it sees it, so inside a pid namespace the namespace's pid) and X-Soak-App ($SOAK_APP), flushed before any
// work, so that the soak driver knows which process a request was in flight on when that process is killed.
//
//	GET  /get        a short body
//	POST /post       the request body streamed back
//	GET  /big?kb=N   N KiB (for slow readers)
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

var chunk = bytes.Repeat([]byte("0123456789abcdef"), 1024) // 16 KiB

func main() {
	pid := strconv.Itoa(os.Getpid())
	app := os.Getenv("SOAK_APP")
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Soak-Pid", pid)
		w.Header().Set("X-Soak-App", app)
		w.Header().Set("X-Soak-Gen", os.Getenv("SOAK_GEN"))
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		switch {
		case r.Method == http.MethodPost:
			if _, err := io.Copy(w, r.Body); err != nil {
				log.Printf("post: %v", err)
			}
		case len(r.URL.Path) >= 4 && r.URL.Path[len(r.URL.Path)-4:] == "/big":
			kb, _ := strconv.Atoi(r.URL.Query().Get("kb"))
			for i := 0; i < kb; i += 16 {
				n := 16
				if kb-i < 16 {
					n = kb - i
				}
				if _, err := w.Write(chunk[:n*1024]); err != nil {
					return
				}
			}
		default:
			io.WriteString(w, "ok "+pid+"\n")
		}
	})
	addr := "127.0.0.1:8080"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	log.Fatal(warden.ListenAndServe(addr, nil))
}
