package warden

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"warden.dev/warden/internal/shmtest"
)

// The unit.nginx.org/go module builds requests with newUnitRequest (unitRequests is true there); these tests call it
// directly. test/e2e/unit-go-request.test.ts checks the same fields through wardend with an app built against the
// module.

// unitRequestOf is the request newUnitRequest builds for the first request fill queues, with its exchange.
func unitRequestOf(t *testing.T, fill func(r *shmtest.Router) error) (*http.Request, *exchange) {
	t.Helper()
	s, err := openFixture(t, fill).Accept()
	if err != nil {
		t.Fatal(err)
	}
	x := &exchange{}
	r, cancel, err := newUnitRequest(s, x)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	return r, x
}

func TestUnitRequestKeepsEveryFieldAndSetsHostAndRemoteAddrAsUnit(t *testing.T) {
	r, x := unitRequestOf(t, func(r *shmtest.Router) error {
		if err := r.Request(1, "POST", "/p/a?x=1&y", 4,
			"host", "Example.TEST.:8080", "x-multi", "one", "content-length", "4", "X-Multi", "two",
			"connection", "close", "x-empty", ""); err != nil {
			return err
		}
		return r.Data(1, []byte("body"), true)
	})
	want := http.Header{"Host": {"Example.TEST.:8080"}, "X-Multi": {"one", "two"}, "Content-Length": {"4"},
		"Connection": {"close"}, "X-Empty": {""}}
	if !reflect.DeepEqual(r.Header, want) {
		t.Errorf("Header %v, want %v", r.Header, want)
	}
	if r.Host != "example.test" || r.RemoteAddr != "10.0.0.1" || r.Close || r.TLS != nil || r.TransferEncoding != nil {
		t.Errorf("Host %q, RemoteAddr %q, Close %v, TLS %v, TransferEncoding %v", r.Host, r.RemoteAddr, r.Close,
			r.TLS, r.TransferEncoding)
	}
	if r.URL.String() != "http:///p/a?x=1&y" || r.RequestURI != "/p/a?x=1&y" || r.ContentLength != 4 ||
		r.Proto != "HTTP/1.1" || r.ProtoMinor != 1 {
		t.Errorf("URL %q, RequestURI %q, ContentLength %d, Proto %q", r.URL, r.RequestURI, r.ContentLength, r.Proto)
	}
	// One Read gives the whole body; io.EOF comes on the next one; Close does not end it (Unit's Close does nothing).
	buf := make([]byte, 64)
	if n, err := r.Body.Read(buf); n != 4 || err != nil || string(buf[:n]) != "body" {
		t.Errorf("Read: %d %v %q", n, err, buf[:n])
	}
	r.Body.Close()
	if n, err := r.Body.Read(buf); n != 0 || err != io.EOF {
		t.Errorf("Read after the body: %d %v", n, err)
	}
	x.releaseBody()
	if _, err := r.Body.Read(buf); err != http.ErrBodyReadAfterClose {
		t.Errorf("Read after the handler returned: %v", err)
	}
}

func TestUnitRequestReadsAChunkedBodyAheadAndGivesItsLength(t *testing.T) {
	r, x := unitRequestOf(t, func(r *shmtest.Router) error {
		if err := r.Request(1, "POST", "/", -1, "Host", "localhost", "Transfer-Encoding", "chunked"); err != nil {
			return err
		}
		if err := r.Data(1, []byte("hello"), false); err != nil {
			return err
		}
		return r.Data(1, []byte(" world"), true)
	})
	defer x.releaseBody()
	want := http.Header{"Host": {"localhost"}, "Content-Length": {"11"}}
	if !reflect.DeepEqual(r.Header, want) || r.ContentLength != 11 || r.TransferEncoding != nil {
		t.Errorf("Header %v, ContentLength %d, TransferEncoding %v", r.Header, r.ContentLength, r.TransferEncoding)
	}
	if b, err := io.ReadAll(r.Body); err != nil || string(b) != "hello world" {
		t.Errorf("body %q (%v)", b, err)
	}
}

func TestUnitRequestWithoutHostOrBodyIsLocalhostWithAnEmptyBody(t *testing.T) {
	r, x := unitRequestOf(t, func(r *shmtest.Router) error { return r.Request(1, "GET", "/", 0) })
	defer x.releaseBody()
	if r.Host != "localhost" || len(r.Header) != 0 || r.Body == http.NoBody || r.ContentLength != 0 {
		t.Errorf("Host %q, Header %v, Body %T, ContentLength %d", r.Host, r.Header, r.Body, r.ContentLength)
	}
	if n, err := r.Body.Read(nil); n != 0 || err != nil {
		t.Errorf("Read(nil): %d %v", n, err)
	}
	if n, err := r.Body.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Errorf("Read: %d %v", n, err)
	}
}

func TestUnitServerNameIsUnitsHostWithoutPortInLowerCase(t *testing.T) {
	for host, want := range map[string]string{
		"":                    "localhost",
		"localhost":           "localhost",
		"Example.COM":         "example.com",
		"example.com:8080":    "example.com",
		"Example.COM.:8080":   "example.com",
		"example.com.":        "example.com",
		"[::1]:8080":          "[::1]",
		"[::1]":               "[::1]",
		"[FE80::1]":           "[fe80::1]",
		"127.0.0.1:80":        "127.0.0.1",
		":80":                 "localhost",
		".":                   "localhost",
		"a.b:80.":             "a.b",
		"héllo.TEST":          "héllo.test",
		"example.com:8080:90": "example.com",
	} {
		if got := unitServerName(host); got != want {
			t.Errorf("unitServerName(%q) = %q, want %q", host, got, want)
		}
	}
}

func TestUnitRemoteAddrHasNoPort(t *testing.T) {
	for _, c := range []struct{ host, want string }{{"127.0.0.1", "127.0.0.1"}, {"::1", "::1"}, {"unix:", "unix:"}} {
		if got := unitRemoteAddr(net.JoinHostPort(c.host, "5555")); got != c.want {
			t.Errorf("unitRemoteAddr(%q) = %q, want %q", net.JoinHostPort(c.host, "5555"), got, c.want)
		}
	}
}

func TestUnitBodyReadFillsTheBufferFromShortReads(t *testing.T) {
	b := &unitBody{src: iotest.OneByteReader(strings.NewReader("0123456789"))}
	buf := make([]byte, 4)
	var got []string
	for {
		n, err := b.Read(buf)
		if err == io.EOF {
			if n != 0 {
				t.Errorf("data with io.EOF: %d", n)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(buf[:n]))
	}
	if strings.Join(got, "|") != "0123|4567|89" {
		t.Errorf("reads %q", got)
	}
}

func TestUnitBodyReadAheadSpillsALongBodyToAnUnlinkedFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	body := bytes.Repeat([]byte("0123456789abcdef"), (unitBodyInMemory+100)/16)
	b := &unitBody{src: bytes.NewReader(body)}
	n, err := b.readAhead()
	if err != nil || n != int64(len(body)) || b.file == nil {
		t.Fatalf("readAhead: %d %v, file %v", n, err, b.file)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("temporary file left in %s: %v", dir, left)
	}
	if got, err := io.ReadAll(b); err != nil || !bytes.Equal(got, body) {
		t.Errorf("body read back: %d bytes (%v)", len(got), err)
	}
	b.release()
	if _, err := b.file.Stat(); err == nil {
		t.Error("the file is still open after release")
	}

	// Without a usable temporary directory the body stays in memory.
	t.Setenv("TMPDIR", dir+"/missing")
	b = &unitBody{src: bytes.NewReader(body)}
	if n, err := b.readAhead(); err != nil || n != int64(len(body)) || b.file != nil {
		t.Fatalf("readAhead without a temporary directory: %d %v, file %v", n, err, b.file)
	}
	if got, err := io.ReadAll(b); err != nil || !bytes.Equal(got, body) {
		t.Errorf("body read back: %d bytes (%v)", len(got), err)
	}
}

func TestUnitBodyReadAheadFailsWhenTheClientGoesAway(t *testing.T) {
	b := &unitBody{src: io.MultiReader(strings.NewReader("part"), iotest.ErrReader(io.ErrUnexpectedEOF))}
	if _, err := b.readAhead(); err != io.ErrUnexpectedEOF {
		t.Errorf("readAhead: %v", err)
	}
}
