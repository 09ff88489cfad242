package warden

import (
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"os"
	"reflect"
	"syscall"
	"testing"
	"time"

	"warden.dev/warden/shm"
)

// frames of the router side, written straight into ring 0 before the channel is opened (PROTOCOL.md §2, §3).
type ringFixture struct {
	mem  []byte
	tail int
}

const fixtureRing = 1 << 16

func (f *ringFixture) put(typ, flags uint8, stream uint32, payload []byte) {
	le := binary.LittleEndian
	b := f.mem[4096+f.tail:]
	le.PutUint32(b, uint32(16+len(payload)))
	b[4], b[5] = typ, flags
	le.PutUint32(b[8:], stream)
	copy(b[16:], payload)
	f.tail += (16 + len(payload) + 7) &^ 7
	le.PutUint32(f.mem[64:], uint32(f.tail)) // ring 0 tail
}

func requestPayload(method, target string, contentLength uint64, headers ...string) []byte {
	le := binary.LittleEndian
	p := make([]byte, 16)
	le.PutUint64(p, contentLength)
	le.PutUint16(p[8:], 5555)
	le.PutUint16(p[10:], 80)
	le.PutUint32(p[12:], uint32(len(headers)/2))
	for _, s := range append([]string{method, target, "1.1", "10.0.0.1", "127.0.0.1"}, headers...) {
		p = le.AppendUint32(p, uint32(len(s)))
		p = append(p, s...)
	}
	return p
}

// openFixture opens a channel whose ring 0 already holds what fill wrote.
func openFixture(t *testing.T, fill func(f *ringFixture)) *shm.Channel {
	t.Helper()
	file, err := os.CreateTemp(t.TempDir(), "chan")
	if err != nil {
		t.Fatal(err)
	}
	size := 4096 + 2*fixtureRing
	file.Truncate(int64(size))
	mem, err := syscall.Mmap(int(file.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	le := binary.LittleEndian
	for i, v := range []uint32{0x4e445257, 1, 4096, fixtureRing, fixtureRing / 4, fixtureRing / 4} {
		le.PutUint32(mem[4*i:], v)
	}
	fill(&ringFixture{mem: mem})
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	memFd, _ := syscall.Dup(int(file.Fd()))
	file.Close()
	ch, err := shm.Open(memFd, fds[1])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fds[0]); ch.Close() })
	return ch
}

func TestRequestHeadAsNetHTTPBuildsIt(t *testing.T) {
	ch := openFixture(t, func(f *ringFixture) {
		f.put(1, 0, 1, requestPayload("POST", "/p/a?x=1&y", 1<<64-1,
			"host", "example.test:8080", "x-multi", "one", "content-type", "text/plain", "X-Multi", "two",
			"Transfer-Encoding", "Chunked", "connection", "close", "HOST", "ignored.test", "x-empty", ""))
		f.put(3, 1, 1, []byte("body")) // DATA with END
	})
	s, err := ch.Accept()
	if err != nil {
		t.Fatal(err)
	}
	r, cancel, err := newRequest(s, &exchange{})
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	want := http.Header{"X-Multi": {"one", "two"}, "Content-Type": {"text/plain"}, "Connection": {"close"}, "X-Empty": {""}}
	if !reflect.DeepEqual(r.Header, want) {
		t.Errorf("Header %v, want %v", r.Header, want)
	}
	if r.Host != "example.test:8080" || !reflect.DeepEqual(r.TransferEncoding, []string{"chunked"}) || !r.Close {
		t.Errorf("Host %q, TransferEncoding %v, Close %v", r.Host, r.TransferEncoding, r.Close)
	}
	if r.URL.Path != "/p/a" || r.URL.RawQuery != "x=1&y" || r.RequestURI != "/p/a?x=1&y" || r.ContentLength != -1 {
		t.Errorf("URL %#v, RequestURI %q, ContentLength %d", r.URL, r.RequestURI, r.ContentLength)
	}
	if r.RemoteAddr != "10.0.0.1:5555" || r.Proto != "HTTP/1.1" || r.ProtoMajor != 1 || r.ProtoMinor != 1 {
		t.Errorf("RemoteAddr %q, Proto %q %d.%d", r.RemoteAddr, r.Proto, r.ProtoMajor, r.ProtoMinor)
	}
	// A repeated header's values do not overwrite the list the rest of the head lives in.
	r.Header.Add("X-Multi", "three")
	r.Header["Content-Type"] = append(r.Header["Content-Type"], "more")
	if got := r.Header["Connection"]; len(got) != 1 || got[0] != "close" {
		t.Errorf("Connection after appends: %v", got)
	}
	if b, err := io.ReadAll(r.Body); err != nil || string(b) != "body" {
		t.Errorf("body %q (%v)", b, err)
	}
	r.Body.Close()
	if _, err := r.Body.Read(make([]byte, 1)); err != http.ErrBodyReadAfterClose {
		t.Errorf("Read after Close: %v", err)
	}
}

// TestRequestContextIsSetInPlace: the request's context is stored into the Request built in the exchange (no copy
// by WithContext), and it is the context cancelled when the router aborts the stream.
func TestRequestContextIsSetInPlace(t *testing.T) {
	if !requestCtxFound {
		t.Fatal("http.Request has no ctx field of type context.Context in this Go version: newRequest falls back to WithContext")
	}
	ch := openFixture(t, func(f *ringFixture) {
		f.put(1, 0, 1, requestPayload("GET", "/", 0, "host", "h"))
		f.put(4, 0, 1, nil)
	})
	s, err := ch.Accept()
	if err != nil {
		t.Fatal(err)
	}
	x := &exchange{}
	r, cancel, err := newRequest(s, x)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	if r != &x.req {
		t.Fatal("the request was copied")
	}
	ctx := r.Context()
	if ctx == context.Background() || ctx.Err() != nil {
		t.Fatalf("context %v (%v)", ctx, ctx.Err())
	}
	if r2 := r.WithContext(ctx); !reflect.DeepEqual(r2, r) {
		t.Fatal("WithContext with the same context gives a different request")
	}
	s.Abort()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the context is not cancelled by the abort")
	}
}
