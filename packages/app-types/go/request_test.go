package warden

import (
	"context"
	"io"
	"net/http"
	"reflect"
	"testing"
	"time"

	"warden.dev/warden/internal/shmtest"
	"warden.dev/warden/shm"
)

// openFixture opens a channel whose ring 0 already holds the frames fill queued through the router end.
func openFixture(t *testing.T, fill func(r *shmtest.Router) error) *shm.Channel {
	t.Helper()
	r, err := shmtest.New(t.TempDir(), 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	if err := fill(r); err != nil {
		t.Fatal(err)
	}
	r.Flush()
	ch, err := shm.Open(r.AppFds())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Close()
		ch.Close()
		r.Unmap()
	})
	return ch
}

func TestRequestHeadAsNetHTTPBuildsIt(t *testing.T) {
	ch := openFixture(t, func(r *shmtest.Router) error {
		if err := r.Request(1, "POST", "/p/a?x=1&y", -1,
			"host", "example.test:8080", "x-multi", "one", "content-type", "text/plain", "X-Multi", "two",
			"Transfer-Encoding", "Chunked", "connection", "close", "HOST", "ignored.test", "x-empty", ""); err != nil {
			return err
		}
		return r.Data(1, []byte("body"), true)
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
	ch := openFixture(t, func(r *shmtest.Router) error {
		if err := r.Request(1, "GET", "/", 0, "host", "h"); err != nil {
			return err
		}
		return r.Simple(shmtest.TypeEnd, 1, 0)
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
