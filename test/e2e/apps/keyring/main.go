// keyring answers GET / with the serial number of its session keyring (keyctl GET_KEYRING_ID), so that a test can
// tell whether app processes share a keyring with wardend or with each other. `keyring join FILE CMD ARGS...` joins
// a new session keyring (as a systemd service has one of its own), writes its serial number to FILE and execs CMD in
// it: wardend started so holds a keyring its apps must not possess.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"syscall"
	"unsafe"

	"warden.dev/warden"
)

// sessionKeyring is keyctl(KEYCTL_GET_KEYRING_ID = 0, KEY_SPEC_SESSION_KEYRING = -3, create = 0).
func sessionKeyring() (int64, error) {
	id, _, errno := syscall.Syscall(syscall.SYS_KEYCTL, 0, ^uintptr(2), 0)
	if errno != 0 {
		return 0, errno
	}
	return int64(int32(id)), nil
}

func main() {
	if len(os.Args) > 3 && os.Args[1] == "join" {
		// keyctl(KEYCTL_JOIN_SESSION_KEYRING = 1, name)
		name, _ := syscall.BytePtrFromString("warden-test")
		if _, _, errno := syscall.Syscall(syscall.SYS_KEYCTL, 1, uintptr(unsafe.Pointer(name)), 0); errno != 0 {
			log.Fatal(errno)
		}
		id, err := sessionKeyring()
		if err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(os.Args[2], []byte(fmt.Sprint(id)), 0o644); err != nil {
			log.Fatal(err)
		}
		log.Fatal(syscall.Exec(os.Args[3], os.Args[3:], os.Environ()))
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		id, err := sessionKeyring()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, id)
	})
	log.Fatal(warden.ListenAndServe(":8080", nil))
}
