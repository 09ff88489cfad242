// bad answers with what a misbehaving app might send: header names and values HTTP forbids, a status Node refuses.
// /slow?ms=N answers after N ms, to check that one bad response does not take down the app's other requests.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"time"

	"warden.dev/warden"
)

func main() {
	http.HandleFunc("/badname", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Bad Name"] = []string{"x"}
		w.Write([]byte("hi"))
	})
	http.HandleFunc("/badvalue", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["X-Ok"] = []string{"a\r\nInjected: 1"}
		w.Write([]byte("hi"))
	})
	http.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		fmt.Fprintf(w, "%d", os.Getpid())
	})
	log.Fatal(warden.ListenAndServe(":8080", nil))
}
