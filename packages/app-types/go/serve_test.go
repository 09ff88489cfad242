package warden

import (
	"bytes"
	"io"
	"net/http"
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
	r, err := shmtest.New(tb.TempDir(), 1<<21)
	if err != nil {
		tb.Fatal(err)
	}
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
	s.shutdown(b)
}
