package shm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"warden.dev/warden/internal/shmtest"
)

// setFixture is a ChannelSet serving in a goroutine, its first channel's router, and main's end of the control
// socket (-1 without one), all in this process.
type setFixture struct {
	t       *testing.T
	set     *ChannelSet
	main    int
	routers []*shmtest.Router
	done    chan error
	aborted chan string // targets of held requests that were aborted
}

func newRouter(t *testing.T) *shmtest.Router {
	t.Helper()
	r, err := shmtest.New(t.TempDir(), 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	r.SetFeatures(featureConnections)
	return r
}

// testHandle answers "<target>" with header x-conn = the connection id; /hold* reads the request body to its end
// and answers "held <bytes>", or reports the abort on f.aborted.
func (f *setFixture) handle(s *Stream) {
	h := s.Head()
	if len(h.Target) >= 5 && h.Target[:5] == "/hold" {
		b, err := io.ReadAll(s)
		if err != nil {
			f.aborted <- h.Target
			return
		}
		s.WriteResponse(200, nil, []byte(fmt.Sprintf("held %d", len(b))))
		return
	}
	s.WriteResponse(200, []string{"x-conn", strconv.FormatUint(h.Connection, 10)}, []byte(h.Target))
}

func startSet(t *testing.T, withControl bool) *setFixture {
	t.Helper()
	f := &setFixture{t: t, main: -1, done: make(chan error, 1), aborted: make(chan string, 16)}
	r := newRouter(t)
	ch, err := Open(r.AppFds())
	if err != nil {
		t.Fatal(err)
	}
	controlFd := -1
	if withControl {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.main, controlFd = fds[0], fds[1]
	}
	if f.set, err = NewChannelSet(ch, controlFd); err != nil {
		t.Fatal(err)
	}
	f.routers = append(f.routers, r)
	go func() { f.done <- f.set.Serve(f.handle) }()
	f.expectReady(r)
	t.Cleanup(func() {
		f.set.Close()
		if f.main >= 0 {
			syscall.Close(f.main)
		}
		select {
		case err := <-f.done:
			f.done <- err
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Close")
		}
		for _, r := range f.routers {
			r.Close()
			r.Unmap()
		}
	})
	return f
}

func (f *setFixture) expectReady(r *shmtest.Router) {
	f.t.Helper()
	fr, err := r.Next(5 * time.Second)
	if err != nil || fr.Type != shmtest.TypeReady {
		f.t.Fatalf("first frame %+v (%v), want READY", fr, err)
	}
}

// send sends one control message with fds (main's part).
func (f *setFixture) send(payload string, fds ...int) {
	f.t.Helper()
	var oob []byte
	if len(fds) > 0 {
		oob = syscall.UnixRights(fds...)
	}
	if err := syscall.Sendmsg(f.main, []byte(payload), oob, nil, 0); err != nil {
		f.t.Fatal(err)
	}
}

// give passes a new router's channel over the control socket, as main does, and waits for its READY.
func (f *setFixture) give() *shmtest.Router {
	f.t.Helper()
	r := f.pass()
	f.expectReady(r)
	return r
}

// pass passes a new router's channel over the control socket and closes this side's copies of its fds.
func (f *setFixture) pass() *shmtest.Router {
	f.t.Helper()
	r := newRouter(f.t)
	mem, bell := r.AppFds()
	f.send(`{"op":"channel"}`, mem, bell)
	syscall.Close(mem)
	syscall.Close(bell)
	f.routers = append(f.routers, r)
	return r
}

type answer struct {
	status  uint32
	headers []string
	body    string
	aborted bool
}

// request sends a GET and reads its answer.
func request(t *testing.T, r *shmtest.Router, id uint32, target string) answer {
	t.Helper()
	if err := r.Request(id, "GET", target, 0); err != nil {
		t.Fatal(err)
	}
	r.Flush()
	return readAnswer(t, r, id)
}

func readAnswer(t *testing.T, r *shmtest.Router, id uint32) answer {
	t.Helper()
	var a answer
	for {
		fr, err := r.Next(5 * time.Second)
		if err != nil {
			t.Fatalf("stream %d: %v", id, err)
		}
		if fr.Stream != id {
			continue
		}
		switch fr.Type {
		case shmtest.TypeResponse:
			a.status = fr.Arg
			if a.headers, err = fr.ResponseHeaders(); err != nil {
				t.Fatal(err)
			}
		case shmtest.TypeData:
			a.body += string(fr.Payload)
			if fr.Flags&shmtest.FlagEnd != 0 {
				return a
			}
		case shmtest.TypeEnd:
			return a
		case shmtest.TypeAbort:
			a.aborted = true
			return a
		}
	}
}

// hold sends a POST to /hold whose body stays open (3 bytes sent).
func hold(t *testing.T, r *shmtest.Router, id uint32, target string) {
	t.Helper()
	if err := r.Request(id, "POST", target, -1); err != nil {
		t.Fatal(err)
	}
	if err := r.Data(id, []byte("abc"), false); err != nil {
		t.Fatal(err)
	}
	r.Flush()
}

func (f *setFixture) waitDone(timeout time.Duration) (error, bool) {
	select {
	case err := <-f.done:
		f.done <- err
		return err, true
	case <-time.After(timeout):
		return nil, false
	}
}

func TestControlMessagesAreClassifiedAsTheSharedVectorsSay(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(vectorDir, "control.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Cases []struct {
			Payload string `json:"payload"`
			Fds     int    `json:"fds"`
			Expect  string `json:"expect"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Cases) < 10 {
		t.Fatalf("only %d cases", len(v.Cases))
	}
	for _, c := range v.Cases {
		if got := classifyControl([]byte(c.Payload), c.Fds); got != c.Expect {
			t.Errorf("%s with %d fds: %s, want %s", c.Payload, c.Fds, got, c.Expect)
		}
	}
}

func TestSetServesChannelsFromTheControlSocketWithConnectionIDsUniqueAcrossThem(t *testing.T) {
	f := startSet(t, true)
	r0 := f.routers[0]
	r1 := f.give()
	r0.Connection, r1.Connection = 5, 5
	a0 := request(t, r0, 1, "/a")
	a1 := request(t, r1, 1, "/b")
	if a0.body != "/a" || a1.body != "/b" {
		t.Fatalf("bodies %q %q", a0.body, a1.body)
	}
	if a0.headers[1] != "5" || a1.headers[1] != strconv.FormatUint(1<<32+5, 10) {
		t.Fatalf("connection ids %v %v", a0.headers, a1.headers)
	}
	if n := f.set.Len(); n != 2 {
		t.Fatalf("Len %d", n)
	}
}

func TestSetDropsAChannelWhoseRouterDiedAndServesTheOthers(t *testing.T) {
	f := startSet(t, true)
	r1 := f.give()
	hold(t, r1, 1, "/hold-r1")
	r1.Close() // the router died
	select {
	case got := <-f.aborted:
		if got != "/hold-r1" {
			t.Fatalf("aborted %s", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the dead router's request was not aborted")
	}
	if a := request(t, f.routers[0], 1, "/still"); a.body != "/still" {
		t.Fatalf("body %q", a.body)
	}
	if _, done := f.waitDone(0); done {
		t.Fatal("Serve returned")
	}
}

func TestSetWithNoChannelLeftWaitsAndServesAChannelAddedLater(t *testing.T) {
	f := startSet(t, true)
	f.routers[0].Close()
	for f.set.Len() != 0 {
		time.Sleep(time.Millisecond) // polling the set's state, not synchronising on time
	}
	r1 := f.give()
	if a := request(t, r1, 1, "/back"); a.body != "/back" {
		t.Fatalf("body %q", a.body)
	}
	if _, done := f.waitDone(0); done {
		t.Fatal("Serve returned")
	}
}

func TestSetEndsWithErrControlGoneWhenTheControlSocketCloses(t *testing.T) {
	f := startSet(t, true)
	hold(t, f.routers[0], 1, "/hold")
	request(t, f.routers[0], 2, "/sync") // the held request is in its handler
	syscall.Close(f.main)
	f.main = -1
	err, done := f.waitDone(5 * time.Second)
	if !done || !errors.Is(err, ErrControlGone) {
		t.Fatalf("Serve: %v (returned %v), want ErrControlGone", err, done)
	}
	if got := <-f.aborted; got != "/hold" {
		t.Fatalf("aborted %s", got)
	}
}

func TestSetWithoutControlEndsWithItsOneChannelAsChannelServe(t *testing.T) {
	f := startSet(t, false)
	f.routers[0].Close()
	err, done := f.waitDone(5 * time.Second)
	if !done || !errors.Is(err, ErrPeerGone) {
		t.Fatalf("Serve: %v (returned %v), want ErrPeerGone", err, done)
	}
}

func TestSetShutsDownOnceEveryOpenChannelGotShutdownAfterInFlightRequests(t *testing.T) {
	f := startSet(t, true)
	r0 := f.routers[0]
	r1 := f.give()
	hold(t, r0, 1, "/hold")
	hold(t, r1, 1, "/hold")
	r0.Simple(shmtest.TypeShutdown, 0, 0)
	r0.Flush()
	// One router retired the process: the other's new requests are still served, Serve goes on.
	if a := request(t, r1, 2, "/more"); a.body != "/more" {
		t.Fatalf("body %q", a.body)
	}
	if _, done := f.waitDone(0); done {
		t.Fatal("Serve returned after SHUTDOWN on one channel of two")
	}
	r1.Simple(shmtest.TypeShutdown, 0, 0)
	r1.Flush()
	for _, r := range []*shmtest.Router{r0, r1} {
		r.Data(1, nil, true)
		r.Flush()
		if a := readAnswer(t, r, 1); a.body != "held 3" {
			t.Fatalf("held answer %+v", a)
		}
	}
	if err, done := f.waitDone(5 * time.Second); !done || err != nil {
		t.Fatalf("Serve: %v (returned %v), want nil", err, done)
	}
}

func TestSetShutsDownOnTheControlOpAndClosesChannelsThatArriveAfterIt(t *testing.T) {
	f := startSet(t, true)
	r0 := f.routers[0]
	hold(t, r0, 1, "/hold")
	request(t, r0, 2, "/sync")
	f.send(`{"op":"shutdown"}`)
	late := f.pass()
	if fr, err := late.Next(5 * time.Second); err == nil {
		t.Fatalf("a channel after the shutdown got frame %+v, want it closed", fr)
	} else if !errors.Is(err, io.EOF) {
		t.Fatalf("late channel: %v, want EOF", err)
	}
	r0.Data(1, nil, true)
	r0.Flush()
	if a := readAnswer(t, r0, 1); a.body != "held 3" {
		t.Fatalf("held answer %+v", a)
	}
	if err, done := f.waitDone(5 * time.Second); !done || err != nil {
		t.Fatalf("Serve: %v (returned %v), want nil", err, done)
	}
}

func TestSetIgnoresMalformedAndUnknownControlMessagesAndClosesTheirFds(t *testing.T) {
	f := startSet(t, true)
	next := newRouter(t)
	f.routers = append(f.routers, next)
	count := func() int {
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	before := count()
	devnull := func() int {
		fd, err := syscall.Open("/dev/null", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		return fd
	}
	for _, m := range []struct {
		payload string
		fds     int
	}{{"not json", 1}, {`{"op":"channel"}`, 1}, {`{"op":"channel"}`, 3}, {`{"op":"channel"}`, 2}, {`{"op":"future"}`, 2}, {`[1]`, 0}} {
		fds := make([]int, m.fds)
		for i := range fds {
			fds[i] = devnull()
		}
		f.send(m.payload, fds...)
		closeFds(fds)
	}
	mem, bell := next.AppFds()
	f.send(`{"op":"channel"}`, mem, bell)
	syscall.Close(mem)
	syscall.Close(bell)
	f.expectReady(next) // everything before it was handled
	// This side closed the new channel's two app fds; the app holds its doorbell (the memfd is closed once mapped):
	// every fd of the messages before it was closed.
	if got := count(); got != before-1 {
		t.Fatalf("%d fds open, want %d", got, before-1)
	}
	if a := request(t, next, 1, "/ok"); a.body != "/ok" {
		t.Fatalf("body %q", a.body)
	}
}
