// ns-inspect answers every request with what the process sees of itself: its pid, uid, gid, the ids of its
// namespaces (read from /proc/self/ns/*), its hostname, its network interfaces and whether /bin/sh exists. Run under wardend it shows the effect of the app's "isolation" object.
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"
	"strings"

	"warden.dev/warden"
)

// report is the JSON body: Unit's well-known ns_inspect fields.
type report struct {
	PID      int               `json:"PID"`
	UID      int               `json:"UID"`
	GID      int               `json:"GID"`
	NS       map[string]uint64 `json:"NS"`
	Hostname string            `json:"Hostname"`
	Ifaces   []string          `json:"Interfaces"`
	BinSh    bool              `json:"HasBinSh"`
}

var namespaces = map[string]string{
	"USER": "user", "PID": "pid", "IPC": "ipc", "CGROUP": "cgroup", "UTS": "uts", "MNT": "mnt", "NET": "net",
}

func nsID(name string) uint64 {
	var fi os.FileInfo
	fi, err := os.Stat("/proc/self/ns/" + name)
	if err != nil {
		return 0
	}
	return statIno(fi)
}

// interfaces lists the network interfaces this process sees, from /proc/self/net/dev.
func interfaces() []string {
	data, err := os.ReadFile("/proc/self/net/dev")
	if err != nil {
		return nil
	}
	var names []string
	for i, line := range strings.Split(string(data), "\n") {
		if i < 2 || !strings.Contains(line, ":") {
			continue
		}
		names = append(names, strings.TrimSpace(strings.SplitN(line, ":", 2)[0]))
	}
	return names
}

func handler(w http.ResponseWriter, r *http.Request) {
	host, _ := os.Hostname()
	rep := report{PID: os.Getpid(), UID: os.Getuid(), GID: os.Getgid(), NS: map[string]uint64{}, Hostname: host, Ifaces: interfaces()}
	if _, err := os.Stat("/bin/sh"); err == nil {
		rep.BinSh = true
	}
	for key, file := range namespaces {
		rep.NS[key] = nsID(file)
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		log.Printf("encode: %v", err)
	}
}

func main() {
	http.HandleFunc("/", handler)
	addr := ":8080"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	if err := warden.ListenAndServe(addr, nil); err != nil {
		log.Fatal(err)
	}
}
