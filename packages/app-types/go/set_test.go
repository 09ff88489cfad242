package warden

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"

	"warden.dev/warden/internal/shmtest"
	"warden.dev/warden/shm"
)

// passChannel sends a new router's channel over main's end of the control socket, as wardend's main does, and
// waits for the app's READY on it.
func passChannel(t *testing.T, main int) *shmtest.Router {
	t.Helper()
	r, err := shmtest.New(t.TempDir(), 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	mem, bell := r.AppFds()
	if err := syscall.Sendmsg(main, []byte(`{"op":"channel"}`), syscall.UnixRights(mem, bell), nil, 0); err != nil {
		t.Fatal(err)
	}
	syscall.Close(mem)
	syscall.Close(bell)
	if f, err := r.Next(5 * time.Second); err != nil || f.Type != shmtest.TypeReady {
		t.Fatalf("first frame %+v (%v), want READY", f, err)
	}
	t.Cleanup(func() {
		r.Close()
		r.Unmap()
	})
	return r
}

// get sends GET target as stream id and returns the response body.
func get(t *testing.T, r *shmtest.Router, id uint32, target string) string {
	t.Helper()
	if err := r.Request(id, "GET", target, 0); err != nil {
		t.Fatal(err)
	}
	r.Flush()
	body := ""
	for {
		f, err := r.Next(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if f.Stream != id {
			continue
		}
		switch f.Type {
		case shmtest.TypeData:
			body += string(f.Payload)
			if f.Flags&shmtest.FlagEnd != 0 {
				return body
			}
		case shmtest.TypeEnd:
			return body
		case shmtest.TypeAbort:
			t.Fatalf("stream %d aborted", id)
		}
	}
}

func TestListenAndServeServesEveryRouterFromWardenControlAndReturnsWhenMainIsGone(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("WARDEN_CHANNEL", "")
	t.Setenv("WARDEN_CONTROL", "v1:fd="+strconv.Itoa(fds[1]))
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello "+r.URL.Path) })
	done := make(chan error, 1)
	go func() { done <- ListenAndServe(":0", mux) }()
	// No channel yet: it waits for main to pass one, then one more (a second router).
	r0 := passChannel(t, fds[0])
	r1 := passChannel(t, fds[0])
	if b := get(t, r0, 1, "/zero"); b != "hello /zero" {
		t.Fatalf("body %q", b)
	}
	if b := get(t, r1, 1, "/one"); b != "hello /one" {
		t.Fatalf("body %q", b)
	}
	r0.Close() // one router died: the other serves on
	if b := get(t, r1, 2, "/again"); b != "hello /again" {
		t.Fatalf("body %q", b)
	}
	syscall.Close(fds[0]) // main is gone
	select {
	case err := <-done:
		if !errors.Is(err, shm.ErrControlGone) {
			t.Fatalf("ListenAndServe: %v, want ErrControlGone", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ListenAndServe did not return after the control socket closed")
	}
}

func TestServeSetReturnsNilAfterShutdownOnEveryChannel(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fds[0])
	set, err := shm.NewChannelSet(nil, fds[1])
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- ServeSet(set, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	}()
	routers := []*shmtest.Router{passChannel(t, fds[0]), passChannel(t, fds[0])}
	for i, r := range routers {
		if b := get(t, r, 1, "/"); b != "ok" {
			t.Fatalf("router %d: body %q", i, b)
		}
		r.Simple(shmtest.TypeShutdown, 0, 0)
		r.Flush()
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ServeSet: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeSet did not return after SHUTDOWN on both channels")
	}
}

func TestListenAndServeIgnoresTheWardenCLIsControlAddressOutsideWardend(t *testing.T) {
	for _, cli := range []string{"unix:/run/warden/control.sock", "127.0.0.1:8443"} {
		t.Setenv("WARDEN_CHANNEL", "")
		t.Setenv("WARDEN_CONTROL", cli)
		if _, err := shm.SetFromEnv(); !errors.Is(err, shm.ErrNotUnderWarden) {
			t.Fatalf("WARDEN_CONTROL=%s: %v, want ErrNotUnderWarden (ListenAndServe then listens normally)", cli, err)
		}
	}
	t.Setenv("WARDEN_CONTROL", "v2:fd=5")
	if _, err := shm.SetFromEnv(); err == nil || errors.Is(err, shm.ErrNotUnderWarden) {
		t.Fatalf("WARDEN_CONTROL=v2:fd=5: %v, want a setup error", err)
	}
}
