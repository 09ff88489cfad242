// hog misbehaves on request, for cgroup limit tests: /alloc?mb=N allocates and touches N MiB; /spawn?n=N starts up to
// N `sleep` children and reports how many it could start; /pid reports its pid.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"os/exec"
	"strconv"

	"warden.dev/warden"
)

var held [][]byte

func main() {
	http.HandleFunc("/alloc", func(w http.ResponseWriter, r *http.Request) {
		mb, _ := strconv.Atoi(r.URL.Query().Get("mb"))
		for i := 0; i < mb; i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(j)
			}
			held = append(held, b)
		}
		fmt.Fprintf(w, "allocated %d MiB\n", mb)
	})
	http.HandleFunc("/spawn", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		started := 0
		var cmds []*exec.Cmd
		for i := 0; i < n; i++ {
			cmd := exec.Command("/bin/sleep", "30")
			if err := cmd.Start(); err != nil {
				break
			}
			cmds = append(cmds, cmd)
			started++
		}
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
		fmt.Fprintf(w, "%d", started)
	})
	http.HandleFunc("/pid", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%d", os.Getpid())
	})
	log.Fatal(warden.ListenAndServe(":8080", nil))
}
