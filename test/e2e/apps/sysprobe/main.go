// sysprobe serves HTTP through warden and, on /calls?names=a,b, makes those system calls with arguments the kernel
// rejects (or that change nothing) and answers {"name": errno} (0 = success): the seccomp e2e test reads what its
// filter lets through. Without a filter each call gets its own errno (ENOENT, EINVAL, ESRCH, ...), never EPERM,
// when the app runs as root.
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"
	"runtime"
	"strings"
	"syscall"
	"unsafe"

	"warden.dev/warden"
)

// bpf(2) is missing from the syscall package's tables.
var sysBPF = map[string]uintptr{"amd64": 321, "arm64": 280}[runtime.GOARCH]

func errno(_, _ uintptr, e syscall.Errno) int { return int(e) }

func cstr(s string) *byte {
	b, _ := syscall.BytePtrFromString(s)
	return b
}

var calls = map[string]func() int{
	"getpid": func() int { return errno(syscall.RawSyscall(syscall.SYS_GETPID, 0, 0, 0)) },
	"mount": func() int {
		src, dst, typ := cstr("none"), cstr("/nonexistent/warden-probe"), cstr("tmpfs")
		return errno(syscall.RawSyscall6(syscall.SYS_MOUNT, uintptr(unsafe.Pointer(src)), uintptr(unsafe.Pointer(dst)), uintptr(unsafe.Pointer(typ)), 0, 0, 0))
	},
	"unshare":    func() int { return errno(syscall.RawSyscall(syscall.SYS_UNSHARE, 1, 0, 0)) },
	"kexec_load": func() int { return errno(syscall.RawSyscall6(syscall.SYS_KEXEC_LOAD, 0, 0, 0, 0xffff0000, 0, 0)) },
	"bpf":        func() int { return errno(syscall.RawSyscall(sysBPF, ^uintptr(0), 0, 0)) },
	"ptrace": func() int {
		return errno(syscall.RawSyscall6(syscall.SYS_PTRACE, syscall.PTRACE_PEEKDATA, uintptr(os.Getpid()), 0, 0, 0, 0))
	},
	"keyctl":  func() int { return errno(syscall.RawSyscall6(syscall.SYS_KEYCTL, ^uintptr(0), 0, 0, 0, 0, 0)) },
	"add_key": func() int { return errno(syscall.RawSyscall6(syscall.SYS_ADD_KEY, 0, 0, 0, 0, 0, 0)) },
	"perf_event_open": func() int {
		return errno(syscall.RawSyscall6(syscall.SYS_PERF_EVENT_OPEN, 0, 0, ^uintptr(0), ^uintptr(0), 0, 0))
	},
}

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("sysprobe\n"))
	})
	http.HandleFunc("/calls", func(w http.ResponseWriter, r *http.Request) {
		out := map[string]int{}
		for _, name := range strings.Split(r.URL.Query().Get("names"), ",") {
			if f, ok := calls[name]; ok {
				out[name] = f()
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	})
	addr := ":8080"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	log.Fatal(warden.ListenAndServe(addr, nil))
}
