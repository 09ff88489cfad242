package shm

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// testRouter plays wardend's part in-process: it owns ring 0 (writer) and ring 1 (reader).
type testRouter struct {
	t    *testing.T
	mem  []byte
	out  ringWriter
	in   ringReader
	bell *os.File
}

const testRing = 1 << 16

func newTestPair(t *testing.T) (*testRouter, *Channel) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "chan")
	if err != nil {
		t.Fatal(err)
	}
	size := headerBytes + 2*testRing
	if err := f.Truncate(int64(size)); err != nil {
		t.Fatal(err)
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	le.PutUint32(mem[hMagic:], magic)
	le.PutUint32(mem[hVersion:], version)
	le.PutUint32(mem[hHeaderBytes:], headerBytes)
	le.PutUint32(mem[hRingBytes:], testRing)
	le.PutUint32(mem[hMaxFrame:], testRing/4)
	le.PutUint32(mem[hWindow:], testRing/4)
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	memFd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	ch, err := Open(memFd, fds[1])
	if err != nil {
		t.Fatal(err)
	}
	syscall.SetNonblock(fds[0], true)
	r := &testRouter{t: t, mem: mem, bell: os.NewFile(uintptr(fds[0]), "router-bell")}
	r.out = ringWriter{ring: newRing(mem, ctlRing0, headerBytes, testRing)}
	r.in = ringReader{ring: newRing(mem, ctlRing1, headerBytes+testRing, testRing), maxFrame: testRing / 4}
	t.Cleanup(func() { r.bell.Close(); ch.Close() })
	return r, ch
}

func (r *testRouter) send(f *frame) {
	r.t.Helper()
	enc := encodeFrame(f)
	n := le.Uint32(enc)
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := r.out.reserve(n)
		if err != nil {
			r.t.Fatal(err)
		}
		if b != nil {
			copy(b, enc[:n])
			if r.out.commit(n) {
				r.bell.Write([]byte{1})
			}
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatal("ring 0 stays full")
		}
		atomic.StoreUint32(r.out.waiting, 1)
		r.bell.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		r.bell.Read(make([]byte, 16))
	}
}

// recv waits (on the doorbell) for the next frame from the app.
func (r *testRouter) recv() *frame {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := r.in.next()
		if err != nil {
			r.t.Fatal(err)
		}
		if b != nil {
			f, err := decodeFrame(b)
			if err != nil {
				r.t.Fatal(err)
			}
			r.in.release(uint32(len(b)))
			if r.in.publish() {
				r.bell.Write([]byte{1})
			}
			return f
		}
		atomic.StoreUint32(r.in.sleeping, 1)
		if avail, _ := r.in.available(); avail > 0 {
			continue
		}
		if time.Now().After(deadline) {
			r.t.Fatal("no frame from the app")
		}
		r.bell.SetReadDeadline(deadline)
		r.bell.Read(make([]byte, 16))
	}
}

func req(stream uint32, method, target string, cl int64) *frame {
	return &frame{Type: typeRequest, Stream: stream, Request: &rawRequest{
		Method: method, Target: target, Version: "1.1", Headers: []string{"Host", "x"},
		RemoteAddress: "::1", RemotePort: 9, LocalAddress: "127.0.0.1", LocalPort: 80, ContentLength: cl,
	}}
}

func TestRequestBodyFlowControlAndResponse(t *testing.T) {
	r, ch := newTestPair(t)
	if err := ch.Ready(); err != nil {
		t.Fatal(err)
	}
	if f := r.recv(); f.Type != typeReady {
		t.Fatalf("first frame %d, want READY", f.Type)
	}
	body := bytes.Repeat([]byte("0123456789abcdef"), 3*testRing/16) // 3 rings: needs WINDOW credit to pass
	r.send(req(5, "POST", "/up", int64(len(body))))
	s, err := ch.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if h := s.Head(); h.Method != "POST" || h.RemoteAddr != "[::1]:9" || h.LocalAddr != "127.0.0.1:80" || h.Proto != "HTTP/1.1" {
		t.Fatalf("head %+v", h)
	}
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(s)
		got <- b
	}()
	credit := uint32(testRing / 4)
	for off := 0; off < len(body); {
		for credit == 0 {
			f := r.recv()
			if f.Type != typeWindow || f.Stream != 5 {
				t.Fatalf("frame %d while waiting for WINDOW", f.Type)
			}
			credit += f.Arg
		}
		n := 4096
		if n > int(credit) {
			n = int(credit)
		}
		r.send(&frame{Type: typeData, Stream: 5, Data: body[off : off+n]})
		off += n
		credit -= uint32(n)
	}
	r.send(&frame{Type: typeEnd, Stream: 5})
	if b := <-got; !bytes.Equal(b, body) {
		t.Fatalf("body of %d bytes, want %d", len(b), len(body))
	}
	if err := s.WriteHeader(201, []string{"X", "y"}); err != nil {
		t.Fatal(err)
	}
	s.Write([]byte("ok"))
	s.Close()
	var frames []*frame
	for len(frames) == 0 || frames[len(frames)-1].Type != typeEnd {
		f := r.recv()
		if f.Type != typeWindow {
			frames = append(frames, f)
		}
	}
	if len(frames) != 3 || frames[0].Type != typeResponse || frames[0].Arg != 201 || string(frames[1].Data) != "ok" {
		t.Fatalf("response frames %+v", frames)
	}
}

func TestAbortFromRouterFailsReadsAndWrites(t *testing.T) {
	r, ch := newTestPair(t)
	r.send(req(1, "POST", "/", -1))
	s, _ := ch.Accept()
	r.send(&frame{Type: typeAbort, Stream: 1, Arg: abortClientGone})
	if _, err := s.Read(make([]byte, 10)); !errors.Is(err, ErrAborted) {
		t.Fatalf("Read after abort: %v", err)
	}
	<-s.Done()
	if err := s.WriteHeader(200, nil); !errors.Is(err, ErrAborted) {
		t.Fatalf("WriteHeader after abort: %v", err)
	}
}

func TestShutdownEndsAcceptAfterQueuedRequests(t *testing.T) {
	r, ch := newTestPair(t)
	r.send(req(1, "GET", "/", 0))
	r.send(&frame{Type: typeShutdown})
	if s, err := ch.Accept(); err != nil || s.ID() != 1 {
		t.Fatalf("Accept: %v", err)
	}
	if _, err := ch.Accept(); err != io.EOF {
		t.Fatalf("Accept after shutdown: %v", err)
	}
	if ch.Err() != nil {
		t.Fatalf("Err after shutdown: %v", ch.Err())
	}
}

func TestCreditOverrunClosesTheChannel(t *testing.T) {
	r, ch := newTestPair(t)
	r.send(req(1, "POST", "/", -1))
	s, _ := ch.Accept()
	chunk := make([]byte, testRing/8)
	for i := 0; i < 3; i++ { // 3/8 of a ring > the window of 1/4 ring
		r.send(&frame{Type: typeData, Stream: 1, Data: chunk})
	}
	<-s.Done()
	if ch.Err() == nil {
		t.Fatal("no channel error after a credit overrun")
	}
	if _, err := ch.Accept(); err != io.EOF {
		t.Fatalf("Accept on a failed channel: %v", err)
	}
}

func TestTailMovedBackwardsClosesTheChannel(t *testing.T) {
	r, ch := newTestPair(t)
	r.send(req(1, "GET", "/", 0))
	s, _ := ch.Accept()
	atomic.StoreUint32(r.out.tail, r.out.myTail-8) // behind what the app already consumed
	r.bell.Write([]byte{1})
	<-s.Done()
	if ch.Err() == nil {
		t.Fatal("no channel error after the tail moved backwards")
	}
}

func TestPeerGone(t *testing.T) {
	r, ch := newTestPair(t)
	r.bell.Close()
	if _, err := ch.Accept(); err != io.EOF {
		t.Fatalf("Accept: %v", err)
	}
	if !errors.Is(ch.Err(), ErrPeerGone) {
		t.Fatalf("Err: %v", ch.Err())
	}
}

func TestWriteResponseSendsHeadAndBodyWithEnd(t *testing.T) {
	r, ch := newTestPair(t)
	r.send(req(7, "GET", "/", 0))
	r.send(req(8, "GET", "/big", 0))
	s7, err := ch.Accept()
	if err != nil {
		t.Fatal(err)
	}
	s8, err := ch.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if err := s7.WriteResponse(200, []string{"Content-Length", "5"}, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	f := r.recv()
	if f.Type != typeResponse || f.Stream != 7 || f.Arg != 200 || len(f.Headers) != 2 || f.Headers[1] != "5" {
		t.Fatalf("head frame %+v", f)
	}
	f = r.recv()
	if f.Type != typeData || f.Stream != 7 || f.Flags != flagEnd || string(f.Data) != "hello" {
		t.Fatalf("body frame %+v, want DATA with the END flag", f)
	}
	if _, err := s7.Write([]byte("x")); err == nil {
		t.Fatal("Write after WriteResponse succeeded")
	}
	if err := s7.WriteResponse(200, nil, nil); err == nil {
		t.Fatal("second WriteResponse succeeded")
	}
	// A body larger than one frame: RESPONSE, DATA, DATA, END.
	big := bytes.Repeat([]byte{'b'}, ch.maxChunk+2)
	if err := s8.WriteResponse(404, nil, big); err != nil {
		t.Fatal(err)
	}
	var got []byte
	types := []uint8{}
	for len(types) == 0 || types[len(types)-1] != typeEnd {
		f := r.recv()
		types = append(types, f.Type)
		got = append(got, f.Data...)
	}
	if !bytes.Equal(types, []uint8{typeResponse, typeData, typeData, typeEnd}) || !bytes.Equal(got, big) {
		t.Fatalf("frames %v, %d body bytes", types, len(got))
	}
}

func TestRefusedHeadLeavesTheStreamAbleToRespond(t *testing.T) {
	r, ch := newTestPair(t)
	r.send(req(3, "GET", "/", 0))
	s, err := ch.Accept()
	if err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("v", 4<<20)
	if err := s.WriteHeader(200, []string{"X-Huge", huge}); err == nil {
		t.Fatal("a head larger than a frame was accepted")
	}
	if err := s.WriteHeader(500, nil); err != nil {
		t.Fatalf("after a refused head, WriteHeader: %v", err)
	}
	s.Close()
	f := r.recv()
	for f.Type == typeWindow {
		f = r.recv()
	}
	if f.Type != typeResponse || f.Arg != 500 {
		t.Fatalf("first frame %+v, want RESPONSE 500", f)
	}
}

func TestServeRunsHandlersAndWaitsForThemAtShutdown(t *testing.T) {
	r, ch := newTestPair(t)
	release := make(chan struct{})
	served := make(chan uint32, 8)
	done := make(chan error, 1)
	r.send(req(1, "GET", "/queued", 0)) // queued for Accept before Serve: served too
	r.send(&frame{Type: typeEnd, Stream: 1})
	for ch.lookup(1) == nil { // registered and queued under the same lock
		time.Sleep(time.Millisecond)
	}
	go func() {
		done <- ch.Serve(func(s *Stream) {
			body, _ := io.ReadAll(s)
			served <- s.ID()
			if s.Head().Target == "/slow" {
				<-release
			}
			s.WriteResponse(200, nil, body)
		})
	}()
	r.send(req(2, "POST", "/slow", 3))
	r.send(&frame{Type: typeData, Stream: 2, Data: []byte("abc"), Flags: flagEnd})
	r.send(req(3, "GET", "/", 0))
	r.send(&frame{Type: typeEnd, Stream: 3})
	got := map[uint32]bool{}
	for len(got) < 3 {
		got[<-served] = true
	}
	r.send(&frame{Type: typeShutdown})
	select {
	case err := <-done:
		t.Fatalf("Serve returned (%v) while a handler still runs", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Serve after shutdown: %v", err)
	}
	bodies := map[uint32]string{}
	for len(bodies) < 3 {
		f := r.recv()
		if f.Type == typeData {
			if f.Flags != flagEnd {
				t.Fatalf("DATA without END: %+v", f)
			}
			bodies[f.Stream] = string(f.Data)
		}
	}
	if bodies[2] != "abc" {
		t.Fatalf("echoed bodies %q", bodies)
	}
}

func TestServeReturnsTheChannelError(t *testing.T) {
	r, ch := newTestPair(t)
	done := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		done <- ch.Serve(func(s *Stream) {
			close(started)
			<-s.Done() // blocks until the channel fails
		})
	}()
	r.send(req(1, "GET", "/", 0))
	<-started
	r.bell.Close()
	if err := <-done; !errors.Is(err, ErrPeerGone) {
		t.Fatalf("Serve: %v, want ErrPeerGone", err)
	}
}

func TestSmallBodiesShareSlabsButStayIntact(t *testing.T) {
	r, ch := newTestPair(t)
	const n = 200 // 200 * 100 bytes: several slabs
	for i := 1; i <= n; i++ {
		r.send(req(uint32(i), "POST", "/", 100))
		r.send(&frame{Type: typeData, Stream: uint32(i), Data: bytes.Repeat([]byte{byte(i)}, 100), Flags: flagEnd})
	}
	for i := 1; i <= n; i++ {
		s, err := ch.Accept()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(s)
		if err != nil || !bytes.Equal(b, bytes.Repeat([]byte{byte(s.ID())}, 100)) {
			t.Fatalf("stream %d body %v (%v)", s.ID(), b, err)
		}
	}
}

// Writers that find ring 1 full get space in the order they started waiting: woken all at once, they raced for it
// (and with writers that had just arrived), and at 256 connections the unlucky ones made the p99 latency.
// fillRing1 writes n-byte DATA frames of streams 1000, 1001, ... into ring 1 until it is full; returns how many.
func fillRing1(t *testing.T, ch *Channel, n uint32) int {
	t.Helper()
	filled := 0
	for {
		ch.wmu.Lock()
		b, err := ch.out.reserve(n)
		if err != nil {
			ch.wmu.Unlock()
			t.Fatal(err)
		}
		if b == nil {
			ch.wmu.Unlock()
			return filled
		}
		putHeader(b, n, typeData, 0, uint32(1000+filled), 0)
		ch.out.commit(n)
		ch.wmu.Unlock()
		filled++
	}
}

func TestWritersWaitingForSpaceGoInArrivalOrder(t *testing.T) {
	r, ch := newTestPair(t)
	const n = 8192
	data := func(stream uint32) func(b []byte) {
		return func(b []byte) { putHeader(b, n, typeData, 0, stream, 0) }
	}
	filled := fillRing1(t, ch, n) // the router reads nothing meanwhile
	const writers = 20
	done := make(chan error, writers)
	for i := 0; i < writers; i++ {
		go func(i int) { done <- ch.writeFrame(n, data(uint32(i))) }(i)
		deadline := time.Now().Add(5 * time.Second)
		for atomic.LoadInt32(&ch.writersWaiting) != int32(i+1) {
			if time.Now().After(deadline) {
				t.Fatalf("writer %d never waited (%d waiting)", i, atomic.LoadInt32(&ch.writersWaiting))
			}
			time.Sleep(time.Millisecond)
		}
	}
	for i := 0; i < filled; i++ {
		if f := r.recv(); f.Stream != uint32(1000+i) {
			t.Fatalf("filler frame %d came as stream %d", i, f.Stream)
		}
	}
	for i := 0; i < writers; i++ {
		if f := r.recv(); f.Stream != uint32(i) {
			t.Fatalf("frame %d of the waiting writers is writer %d's: not in the order they waited", i, f.Stream)
		}
	}
	for i := 0; i < writers; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// A writer that finds ring 1 full asks the router to ring when it frees space. The doorbell that answers may come, and
// the reader goroutine pass it on, before the writer sleeps: the writer must still be woken. (It was not when it had
// not queued up yet: the reader saw no writer waiting and let the doorbell go, and the writer slept with ring 1
// empty and the flag cleared, until some other traffic came; under 32 concurrent 1 MiB echoes that stalled every
// request of the app.)
func TestAWriterIsWokenByADoorbellThatComesBeforeItSleeps(t *testing.T) {
	r, ch := newTestPair(t)
	const n = 8192
	fillRing1(t, ch, n)
	// The router frees the whole ring and rings, and the reader handles that doorbell, all before the writer sleeps.
	testHookAskedForSpace = func() {
		testHookAskedForSpace = nil
		for {
			b, err := r.in.next()
			if err != nil {
				t.Error(err)
				return
			}
			if b == nil {
				break
			}
			r.in.release(uint32(len(b)))
		}
		if !r.in.publish() {
			t.Error("the writer did not ask for space")
		}
		r.bell.Write([]byte{1})
		time.Sleep(100 * time.Millisecond) // the reader goroutine takes the doorbell meanwhile
	}
	t.Cleanup(func() { testHookAskedForSpace = nil })
	done := make(chan error, 1)
	go func() { done <- ch.writeFrame(n, func(b []byte) { putHeader(b, n, typeData, 0, 7, 0) }) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the writer still sleeps: the doorbell that answered its request for space was lost")
	}
	if f := r.recv(); f.Stream != 7 {
		t.Fatalf("got a frame of stream %d, want the writer's (7)", f.Stream)
	}
}
