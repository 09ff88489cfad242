// probe answers every request with what its process holds and sees, for the isolation-escape tests: its pid, every
// open fd with the device and inode it refers to (found with fstat, so it works without /proc), and the pids that
// its /proc lists. GET /exists?path=P reports whether P exists for it; GET /groups its uid, gid and supplementary groups.
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"syscall"

	"warden.dev/warden"
)

type report struct {
	PID   int               `json:"pid"`
	UID   int               `json:"uid"`
	FDs   map[string]string `json:"fds"`
	Procs []int             `json:"procs"`
}

func openFDs() map[string]string {
	fds := map[string]string{}
	for fd := 0; fd < 1024; fd++ {
		var st syscall.Stat_t
		if err := syscall.Fstat(fd, &st); err != nil {
			continue
		}
		fds[strconv.Itoa(fd)] = fmt.Sprintf("%d:%d", st.Dev, st.Ino)
	}
	return fds
}

func procPids() []int {
	pids := []int{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return pids
	}
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, n)
		}
	}
	return pids
}

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(report{PID: os.Getpid(), UID: os.Getuid(), FDs: openFDs(), Procs: procPids()})
	})
	http.HandleFunc("/groups", func(w http.ResponseWriter, r *http.Request) {
		groups, _ := os.Getgroups()
		json.NewEncoder(w).Encode(map[string]interface{}{"uid": os.Getuid(), "gid": os.Getgid(), "groups": groups})
	})
	http.HandleFunc("/exists", func(w http.ResponseWriter, r *http.Request) {
		_, err := os.Lstat(r.URL.Query().Get("path"))
		fmt.Fprintf(w, "%t", err == nil)
	})
	addr := ":8080"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	log.Fatal(warden.ListenAndServe(addr, nil))
}
