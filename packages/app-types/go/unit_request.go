package warden

// The *http.Request of the unit.nginx.org/go module (../unit): built as NGINX Unit's Go package builds it
// (go/request.go new_request, with the fields Unit's router fills in), not as net/http does, so that an app written
// for Unit sees what it saw under Unit. Package warden's own requests keep net/http's fields (newRequest);
// unitRequests in deps.go chooses.

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
)

// errBodyLost: the client went away while a chunked body was read ahead; the handler is not called (Unit's router
// passes no request whose body it could not read).
var errBodyLost = errors.New("warden: request body lost before the handler ran")

// unitBodyInMemory is how much of a chunked body read ahead stays in memory; the rest goes to a temporary file.
const unitBodyInMemory = 1 << 20

// newUnitRequest builds the *http.Request of a stream as Unit's Go module does:
//   - Header: every field of the request in order, keys canonical (http.Header.Add), Host included; no
//     Transfer-Encoding (Unit's router never passes it on);
//   - Host: the Host field without its port and one trailing dot, in lower case (the router's server_name), or
//     "localhost" when the request has none;
//   - RemoteAddr: the client address without a port ("127.0.0.1", "::1", "unix:");
//   - URL: the request-target parsed, with Scheme "http" or "https"; RequestURI: the target; Proto, ProtoMajor,
//     ProtoMinor from the version;
//   - TLS: an empty tls.ConnectionState when the client connection is TLS, else nil;
//   - ContentLength: the body's length, never -1: a chunked body is read whole before the handler runs and passed
//     with a Content-Length field added (what Unit's router does with chunked_transform);
//   - Body: never http.NoBody (except on an upgrade request); one Read fills p as far as the body goes (Unit's
//     router has the whole body before the app sees the request), data never comes with io.EOF, Close does nothing;
//   - Close: false. The context is cancelled when the client goes away, as in package warden.
func newUnitRequest(s *stream, x *exchange) (*http.Request, context.CancelFunc, error) {
	h := s.Head()
	major, minor, err := parseLine(h.Proto, h.Target, &x.url)
	if err != nil {
		return nil, nil, err
	}
	u := &x.url
	if h.TLS {
		u.Scheme = "https"
	} else {
		u.Scheme = "http"
	}
	n := len(h.Headers) / 2
	hdr := make(http.Header, n+1)
	host, haveHost := "", false
	for i := 0; i < n; i++ {
		switch k := http.CanonicalHeaderKey(h.Headers[2*i]); k {
		case "Transfer-Encoding":
		case "Host":
			if !haveHost {
				host, haveHost = h.Headers[2*i+1], true
			}
			fallthrough
		default:
			addHeader(hdr, k, h.Headers[2*i+1:2*i+2:2*i+2])
		}
	}
	r := &x.req
	*r = http.Request{
		Method: h.Method, URL: u, Proto: h.Proto, ProtoMajor: major, ProtoMinor: minor, Header: hdr,
		Host: unitServerName(host), RemoteAddr: unitRemoteAddr(h.RemoteAddr), RequestURI: h.Target,
		ContentLength: h.ContentLength,
	}
	if h.TLS {
		r.TLS = &tls.ConnectionState{}
	}
	if h.Upgrade {
		// Unit's module has no Hijacker; the package's upgrade support stays as in package warden.
		r.Body = http.NoBody
	} else {
		b := &unitBody{src: http.NoBody} // no body: io.EOF (the stream has no body to read)
		if h.ContentLength != 0 {
			x.body.s = s
			b.src = &x.body
		}
		if h.ContentLength < 0 {
			size, err := b.readAhead()
			if err != nil {
				return nil, nil, errBodyLost
			}
			r.ContentLength = size
			hdr["Content-Length"] = []string{fmt.Sprint(size)}
		}
		x.unit = b
		r.Body = b
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.OnAbort(cancel) // client gone: the handler's context is cancelled
	return withContext(r, ctx), cancel, nil
}

// unitServerName is Unit's server_name for the value of a request's Host field (nxt_http_validate_host): the value
// up to its port (an IPv6 literal keeps its brackets), without one trailing dot, with ASCII letters in lower case;
// "localhost" when that leaves nothing (no Host field, or an empty one).
func unitServerName(v string) string {
	end, lastDot := len(v), -1
	literal, cut, upper := false, false, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '.':
			lastDot = i
		case c == ':':
			if !literal && !cut {
				end, cut = i, true
			}
		case c == '[':
			literal = literal || i == 0
		case c == ']':
			if literal && !cut {
				end, cut = i+1, true
			}
		case 'A' <= c && c <= 'Z':
			upper = true
		}
	}
	if lastDot == end-1 {
		end--
	}
	if end <= 0 {
		return "localhost"
	}
	v = v[:end]
	if !upper {
		return v
	}
	b := []byte(v)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// unitRemoteAddr is the client address of a host:port text, without the port, as Unit's router passes it
// (nxt_sockaddr_address): "127.0.0.1", "::1" (no brackets), "unix:" for a unix socket.
func unitRemoteAddr(hostPort string) string {
	if a, _, err := net.SplitHostPort(hostPort); err == nil {
		return a
	}
	return hostPort
}

// unitBody is r.Body as Unit's module gives it: Read fills p as far as the body goes, and returns (0, io.EOF) only
// once the body is exhausted; Close does nothing (the body is released when the handler returned: reading it later
// fails with http.ErrBodyReadAfterClose, as in package warden).
type unitBody struct {
	src  io.Reader // the stream's body, or the chunked body read ahead
	file *os.File  // the body read ahead into a temporary file, closed by release
	done int32     // atomic: released
}

func (b *unitBody) Read(p []byte) (int, error) {
	if atomic.LoadInt32(&b.done) != 0 {
		return 0, http.ErrBodyReadAfterClose
	}
	n := 0
	for n < len(p) {
		m, err := b.src.Read(p[n:])
		n += m
		if err != nil {
			if err == io.EOF && n > 0 {
				err = nil // io.EOF on the next Read
			}
			return n, err
		}
	}
	return n, nil
}

// Close does nothing, as in Unit's module (the app may still read the body).
func (b *unitBody) Close() error { return nil }

// release ends the body once the handler returned.
func (b *unitBody) release() {
	if atomic.SwapInt32(&b.done, 1) == 0 && b.file != nil {
		b.file.Close()
	}
}

// readAhead reads a body of unknown length (chunked) whole and serves it from there; it returns its length. Up to
// unitBodyInMemory bytes stay in memory, a longer body goes to an unlinked temporary file (as Unit's router writes
// one to its body_temp_path), or stays in memory when no temporary file can be made (a rootfs without /tmp).
func (b *unitBody) readAhead() (int64, error) {
	var buf bytes.Buffer
	n, err := io.CopyN(&buf, b.src, unitBodyInMemory+1)
	if err == io.EOF {
		b.src = bytes.NewReader(buf.Bytes())
		return n, nil
	}
	if err != nil {
		return 0, err
	}
	f, ferr := os.CreateTemp("", "warden-body-")
	if ferr != nil {
		if _, err := buf.ReadFrom(b.src); err != nil {
			return 0, err
		}
		b.src = bytes.NewReader(buf.Bytes())
		return int64(buf.Len()), nil
	}
	os.Remove(f.Name())
	n, err = io.Copy(f, io.MultiReader(&buf, b.src))
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return 0, err
	}
	b.src, b.file = f, f
	return n, nil
}
