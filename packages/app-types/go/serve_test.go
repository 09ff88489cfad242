package warden

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"warden.dev/warden/internal/shmtest"
	"warden.dev/warden/shm"
)

// served is a Serve running over an in-process router end.
type served struct {
	r    *shmtest.Router
	done chan error
}

// startServe runs Serve(ch, handler) over a fresh channel and consumes its READY frame.
func startServe(tb testing.TB, handler http.Handler) *served {
	tb.Helper()
	return startServeWith(tb, handler, 0)
}

// startServeWith is startServe with the router's features word set (featureTrailers, featureEarlyHints, ...).
func startServeWith(tb testing.TB, handler http.Handler, features uint32) *served {
	tb.Helper()
	r, err := shmtest.New(tb.TempDir(), 1<<21)
	if err != nil {
		tb.Fatal(err)
	}
	r.SetFeatures(features)
	ch, err := shm.Open(r.AppFds())
	if err != nil {
		tb.Fatal(err)
	}
	s := &served{r: r, done: make(chan error, 1)}
	go func() { s.done <- Serve(ch, handler) }()
	f, err := r.Next(5 * time.Second)
	if err != nil || f.Type != shmtest.TypeReady {
		tb.Fatalf("first frame %+v (%v), want READY", f, err)
	}
	tb.Cleanup(func() {
		r.Close()
		ch.Close()
		<-s.done
		r.Unmap()
	})
	return s
}

// shutdown asks for a shutdown and waits for Serve to return.
func (s *served) shutdown(tb testing.TB) {
	tb.Helper()
	s.r.Simple(shmtest.TypeShutdown, 0, 0)
	s.r.Flush()
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		if err != nil {
			tb.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		tb.Fatal("Serve did not return after SHUTDOWN")
	}
}

// response is what the router received for one stream.
type response struct {
	status  int
	headers []string
	body    bytes.Buffer
	ended   bool
	aborted bool
}

// collect reads frames until every stream in ids ended or was aborted.
func (s *served) collect(tb testing.TB, ids ...uint32) map[uint32]*response {
	tb.Helper()
	out := map[uint32]*response{}
	open := map[uint32]bool{}
	for _, id := range ids {
		out[id] = &response{}
		open[id] = true
	}
	for len(open) > 0 {
		f, err := s.r.Next(5 * time.Second)
		if err != nil {
			tb.Fatalf("waiting for %v: %v", open, err)
		}
		resp := out[f.Stream]
		if resp == nil {
			continue
		}
		switch f.Type {
		case shmtest.TypeResponse:
			resp.status = int(f.Arg)
			if resp.headers, err = f.ResponseHeaders(); err != nil {
				tb.Fatal(err)
			}
		case shmtest.TypeData:
			resp.body.Write(f.Payload)
			if f.Flags&shmtest.FlagEnd != 0 {
				resp.ended = true
				delete(open, f.Stream)
			}
		case shmtest.TypeEnd:
			resp.ended = true
			delete(open, f.Stream)
		case shmtest.TypeAbort:
			resp.aborted = true
			delete(open, f.Stream)
		}
	}
	return out
}

func (r *response) header(name string) []string {
	var vs []string
	for i := 0; i+1 < len(r.headers); i += 2 {
		if r.headers[i] == name {
			vs = append(vs, r.headers[i+1])
		}
	}
	return vs
}

// BenchmarkServeEcho measures one small echo round trip through Serve (64 B body, 64 requests in flight), the router
// end running in the same process: allocations per request are the app end's (the router end allocates nothing).
func BenchmarkServeEcho(b *testing.B) {
	s := startServe(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		io.Copy(w, r.Body)
	}))
	payload := bytes.Repeat([]byte{'a'}, 64)
	hdr := []string{"host", "bench", "content-type", "application/octet-stream"}
	next := uint32(1)
	send := func() {
		if err := s.r.Request(next, "POST", "/echo", 64, hdr...); err != nil {
			b.Fatal(err)
		}
		if err := s.r.Data(next, payload, true); err != nil {
			b.Fatal(err)
		}
		next++
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	issued, completed := 0, 0
	for ; issued < 64 && issued < b.N; issued++ {
		send()
	}
	s.r.Flush()
	for completed < b.N {
		f, err := s.r.Next(5 * time.Second)
		if err != nil {
			b.Fatal(err)
		}
		if (f.Type == shmtest.TypeData && f.Flags&shmtest.FlagEnd != 0) || f.Type == shmtest.TypeEnd {
			completed++
			if issued < b.N {
				send()
				issued++
				s.r.Flush()
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	s.shutdown(b)
}

// cpuTime is the CPU time (user + system) the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestReusedObjectsDoNotCarryOverBetweenRequests: writers, header maps and streams are reused across requests; the
// next request must see none of the previous one's response headers, request headers or body.
func TestReusedObjectsDoNotCarryOverBetweenRequests(t *testing.T) {
	type seen struct {
		respHeader http.Header
		reqHeader  http.Header
		body       string
	}
	got := make(chan seen, 1)
	s := startServe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		before := w.Header().Clone()
		body, _ := io.ReadAll(r.Body)
		got <- seen{before, r.Header.Clone(), string(body)}
		if v := r.Header.Get("X-Set"); v != "" {
			w.Header().Set("X-Leak", v)
			w.Header().Add("X-Leak", "again")
			w.Header()["X-Raw"] = []string{v}
		}
		w.Write(body)
	}))
	for i := uint32(1); i <= 20; i++ {
		headers := []string{"host", "h"}
		body := []byte{}
		if i%2 == 1 { // odd requests set headers and send a body; even ones send neither
			headers = append(headers, "x-set", "v"+string(rune('a'+i)))
			body = []byte("body of " + string(rune('a'+i)))
		}
		if err := s.r.Request(i, "POST", "/", int64(len(body)), headers...); err != nil {
			t.Fatal(err)
		}
		if len(body) > 0 {
			s.r.Data(i, body, true)
		} else {
			s.r.Simple(shmtest.TypeEnd, i, 0)
		}
		s.r.Flush()
		resp := s.collect(t, i)[i]
		g := <-got
		if len(g.respHeader) != 0 {
			t.Fatalf("request %d: the writer's header map starts with %v", i, g.respHeader)
		}
		if g.body != string(body) {
			t.Fatalf("request %d: body %q, want %q", i, g.body, body)
		}
		if i%2 == 0 {
			if len(g.reqHeader) != 0 {
				t.Fatalf("request %d: request headers %v", i, g.reqHeader)
			}
			if resp.header("X-Leak") != nil || resp.header("X-Raw") != nil || resp.body.Len() != 0 {
				t.Fatalf("request %d: response carries an earlier request's headers or body: %v %q", i, resp.headers, resp.body.String())
			}
		} else if len(resp.header("X-Leak")) != 2 || resp.body.String() != string(body) {
			t.Fatalf("request %d: response %v %q", i, resp.headers, resp.body.String())
		}
	}
	s.shutdown(t)
}

// TestManyConcurrentRequestsEachGetTheirOwnAnswer: with objects reused while others are in flight, every response
// matches its own request.
func TestManyConcurrentRequestsEachGetTheirOwnAnswer(t *testing.T) {
	s := startServe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Id", r.Header.Get("X-Id"))
		io.Copy(w, r.Body)
	}))
	const n = 2000
	const inflight = 64
	want := func(id uint32) string { return "payload-" + string(rune('A'+id%26)) + "-" + itoa(id) }
	next, done := uint32(1), 0
	send := func() {
		id := next
		next++
		body := want(id)
		s.r.Request(id, "POST", "/echo", int64(len(body)), "host", "h", "x-id", itoa(id))
		s.r.Data(id, []byte(body), true)
	}
	for ; next <= inflight; send() {
	}
	s.r.Flush()
	open := map[uint32]*response{}
	for done < n {
		f, err := s.r.Next(5 * time.Second)
		if err != nil {
			t.Fatalf("after %d responses: %v", done, err)
		}
		resp := open[f.Stream]
		if resp == nil {
			resp = &response{}
			open[f.Stream] = resp
		}
		switch f.Type {
		case shmtest.TypeResponse:
			resp.headers, _ = f.ResponseHeaders()
		case shmtest.TypeData:
			resp.body.Write(f.Payload)
			if f.Flags&shmtest.FlagEnd == 0 {
				continue
			}
		case shmtest.TypeEnd:
		default:
			continue
		}
		if f.Type == shmtest.TypeResponse {
			continue
		}
		if id := resp.header("X-Id"); len(id) != 1 || id[0] != itoa(f.Stream) || resp.body.String() != want(f.Stream) {
			t.Fatalf("stream %d: X-Id %v, body %q", f.Stream, id, resp.body.String())
		}
		delete(open, f.Stream)
		done++
		if next <= n {
			send()
			s.r.Flush()
		}
	}
	s.shutdown(t)
}

func itoa(n uint32) string {
	if n == 0 {
		return "0"
	}
	var b [10]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}

// TestBlockedHandlerDoesNotStallOthers: handlers run concurrently; one waiting (here for its release and for the
// rest of its body) does not hold up the requests that come after it.
func TestBlockedHandlerDoesNotStallOthers(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	s := startServe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			close(started)
			<-release
		}
		io.Copy(w, r.Body)
	}))
	s.r.Request(1, "POST", "/block", -1, "host", "h")
	s.r.Data(1, []byte("first half "), false) // the rest comes later: the handler also blocks reading it
	s.r.Flush()
	<-started
	for id := uint32(2); id <= 10; id++ {
		s.r.Request(id, "POST", "/fast", 4, "host", "h")
		s.r.Data(id, []byte("fast"), true)
	}
	s.r.Flush()
	ids := []uint32{2, 3, 4, 5, 6, 7, 8, 9, 10}
	for id, resp := range s.collect(t, ids...) {
		if resp.body.String() != "fast" {
			t.Fatalf("stream %d: %q", id, resp.body.String())
		}
	}
	close(release)
	s.r.Data(1, []byte("second half"), true)
	s.r.Flush()
	if got := s.collect(t, 1)[1].body.String(); got != "first half second half" {
		t.Fatalf("blocked stream: %q", got)
	}
	s.shutdown(t)
}

// TestBodyReadAfterTheHandlerReturnedFails: net/http closes the request body when the handler returns; a body kept
// and read later fails instead of reading from a stream that now serves another request.
func TestBodyReadAfterTheHandlerReturnedFails(t *testing.T) {
	kept := make(chan io.ReadCloser, 1)
	s := startServe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/keep" {
			kept <- r.Body
			return
		}
		io.Copy(w, r.Body)
	}))
	s.r.Request(1, "POST", "/keep", 5, "host", "h")
	s.r.Simple(shmtest.TypeEnd, 1, 0) // the router ends the body early: not read by the handler
	s.r.Flush()
	s.collect(t, 1)
	body := <-kept
	s.r.Request(2, "POST", "/echo", 5, "host", "h")
	s.r.Data(2, []byte("hello"), true)
	s.r.Flush()
	if _, err := body.Read(make([]byte, 8)); err != http.ErrBodyReadAfterClose {
		t.Fatalf("late Read: %v, want ErrBodyReadAfterClose", err)
	}
	if got := s.collect(t, 2)[2].body.String(); got != "hello" {
		t.Fatalf("next request's body %q", got)
	}
	s.shutdown(t)
}

// TestAbortedStreamIsRecycledSafely: a stream the router aborts while its handler waits ends that handler's context;
// the requests after it (which may reuse its stream) are answered normally, and frames the router still sends for
// the aborted id are ignored.
func TestAbortedStreamIsRecycledSafely(t *testing.T) {
	cancelled := make(chan struct{})
	s := startServe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/wait" {
			<-r.Context().Done()
			close(cancelled)
			return
		}
		io.Copy(w, r.Body)
	}))
	s.r.Request(1, "POST", "/wait", -1, "host", "h")
	s.r.Flush()
	s.r.Simple(shmtest.TypeAbort, 1, 1)
	s.r.Flush()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the aborted request's context was not cancelled")
	}
	for id := uint32(2); id <= 40; id++ {
		s.r.Data(1, []byte("late"), false) // for the aborted stream: ignored
		s.r.Request(id, "POST", "/echo", 2, "host", "h")
		s.r.Data(id, []byte{'a' + byte(id%26), 'z'}, true)
		s.r.Flush()
		if got := s.collect(t, id)[id].body.String(); got != string([]byte{'a' + byte(id%26), 'z'}) {
			t.Fatalf("stream %d: %q", id, got)
		}
	}
	s.shutdown(t)
}

// TestResponsesBeforeShutdownWakeTheRouter: responses finished just before a requested shutdown wake the sleeping
// router with the doorbell (also when their ring was left to the reader goroutine) before the app closes it.
func TestResponsesBeforeShutdownWakeTheRouter(t *testing.T) {
	for round := 0; round < 20; round++ {
		s := startServe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "bye") }))
		s.r.Request(1, "GET", "/", 0, "host", "h")
		s.r.Simple(shmtest.TypeShutdown, 0, 0)
		s.r.Flush()
		// collect sleeps on the doorbell and fails on its EOF: the ring must come first.
		if got := s.collect(t, 1)[1].body.String(); got != "bye" {
			t.Fatalf("round %d: body %q", round, got)
		}
		if err := <-s.done; err != nil {
			t.Fatalf("Serve: %v", err)
		}
		s.done <- nil
	}
}

// TestRefusedHeadAbortsTheRequest: a response head over the frame limit (a header of 1 MiB) is refused before
// anything is sent; the request fails (the router answers 502) instead of waiting for an answer that never comes,
// and the next request on the channel is served.
func TestRefusedHeadAbortsTheRequest(t *testing.T) {
	s := startServe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/huge" {
			w.Header().Set("X-H", strings.Repeat("a", 1<<20))
		}
		w.Write([]byte("hh"))
	}))
	s.r.Request(1, "GET", "/huge", 0, "host", "h")
	s.r.Request(2, "GET", "/ok", 0, "host", "h")
	s.r.Flush()
	got := s.collect(t, 1, 2)
	if !got[1].aborted {
		t.Fatalf("stream 1: %+v, want aborted", got[1])
	}
	if got[2].status != 200 || got[2].body.String() != "hh" {
		t.Fatalf("stream 2: %+v", got[2])
	}
	s.shutdown(t)
}

// TestWriterKeptAfterReturnReachesNoOtherRequest: a ResponseWriter kept by the app after its handler returned (a
// misuse net/http forbids) wrote into whichever request got the pooled writer next: another client's response. Now
// it fails and changes nothing.
func TestWriterKeptAfterReturnReachesNoOtherRequest(t *testing.T) {
	var late http.ResponseWriter
	lateErr := make(chan error, 1)
	s := startServe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/keep":
			w.Write([]byte("first"))
			late = w
		case "/uselate":
			late.Header().Set("X-Late", "1")
			_, err := late.Write([]byte("LATE"))
			lateErr <- err
			w.Write([]byte("mine"))
		}
	}))
	s.r.Request(1, "GET", "/keep", 0, "host", "h")
	s.r.Flush()
	if got := s.collect(t, 1)[1].body.String(); got != "first" {
		t.Fatalf("stream 1: %q", got)
	}
	for id := uint32(2); id <= 6; id++ {
		s.r.Request(id, "GET", "/uselate", 0, "host", "h")
		s.r.Flush()
		got := s.collect(t, id)[id]
		if got.body.String() != "mine" || len(got.header("X-Late")) != 0 {
			t.Fatalf("stream %d got %q %v: the kept writer reached it", id, got.body.String(), got.headers)
		}
		if err := <-lateErr; err == nil {
			t.Fatalf("a write through the kept writer succeeded")
		}
	}
	s.shutdown(t)
}
