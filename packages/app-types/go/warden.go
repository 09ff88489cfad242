// Package warden lets a Go net/http program run under wardend: ListenAndServe serves the handler over Warden's
// shared-memory channels — one per wardend router — when the process was started by wardend (WARDEN_CHANNEL or
// WARDEN_CONTROL set), and falls back to http.ListenAndServe otherwise. Standard library only.
package warden

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"unsafe"
)

// The package's files name no other package of their module: the channel's types and the hook come from deps.go,
// the one file that imports them. So these files are shared, unchanged, with the unit.nginx.org/go module (../unit),
// which has its own deps.go.

// ListenAndServe serves handler (nil = http.DefaultServeMux). Under wardend it serves over the channels of every
// wardend router (the first from WARDEN_CHANNEL, the others passed over the WARDEN_CONTROL socket), each request in
// its own goroutine, and returns nil after wardend asked for a shutdown and all in-flight requests finished, or an
// error when wardend went away. Outside wardend it is http.ListenAndServe(addr, handler).
func ListenAndServe(addr string, handler http.Handler) error {
	set, err := channelSetFromEnv()
	if errors.Is(err, errNotUnderWarden) {
		return http.ListenAndServe(addr, handler)
	}
	if err != nil {
		return err
	}
	return serveSet(set, handler)
}

// serveSet serves handler over every channel of set until a shutdown (nil) or until wardend is gone (an error).
func serveSet(set *channelSet, handler http.Handler) error {
	if handler == nil {
		handler = http.DefaultServeMux
	}
	reuseStreams(set) // serveStream does not touch a stream after it returned
	return set.Serve(func(s *stream) { serveStream(s, handler) })
}

// serve serves handler over an open channel until shutdown (nil) or until the channel fails (its error).
func serve(ch *channel, handler http.Handler) error {
	if handler == nil {
		handler = http.DefaultServeMux
	}
	reuseStreams(ch) // serveStream does not touch a stream after it returned
	if err := ch.Ready(); err != nil {
		return err
	}
	// The channel runs each request in its own goroutine and reuses the goroutines (a fresh one per request would
	// grow its stack again every time, which costs more than the handler in small requests).
	if err := ch.Serve(func(s *stream) { serveStream(s, handler) }); err != nil {
		return err
	}
	if ch.ShutdownRequested() {
		ch.Close()
	}
	return nil
}

// requestBody is the http.Request Body over a stream.
type requestBody struct {
	s      *stream
	closed int32 // atomic
}

func (b *requestBody) Read(p []byte) (int, error) {
	if atomic.LoadInt32(&b.closed) != 0 {
		return 0, http.ErrBodyReadAfterClose
	}
	n, err := b.s.Read(p)
	if err != nil && err != io.EOF && errors.Is(err, errAborted) {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (b *requestBody) Close() error {
	atomic.StoreInt32(&b.closed, 1)
	return nil
}

// exchange holds the *http.Request of one request with its URL and body, in one allocation. (Not pooled: the
// handler may keep the request, its URL and body after it returned.)
type exchange struct {
	req  http.Request
	url  url.URL
	body requestBody
	unit *unitBody // r.Body of a unit.nginx.org/go request (unit_request.go), released with body
}

// releaseBody ends the request body once the handler returned.
func (x *exchange) releaseBody() {
	x.body.Close()
	if x.unit != nil {
		x.unit.release()
	}
}

// requestCtxOffset is the offset of http.Request's unexported context field, found by reflection once
// (requestCtxFound is false when this Go version has no such field of type context.Context). With it, newRequest
// stores the request's context in the Request it built instead of calling WithContext, which would copy the whole
// Request into a new allocation: the same result (WithContext sets exactly that field on its copy), one allocation
// less per request. Without it, newRequest uses WithContext.
var requestCtxOffset, requestCtxFound = func() (uintptr, bool) {
	f, ok := reflect.TypeOf(http.Request{}).FieldByName("ctx")
	if !ok || f.Type != reflect.TypeOf((*context.Context)(nil)).Elem() {
		return 0, false
	}
	return f.Offset, true
}()

// withContext is r.WithContext(ctx), in place when the context field was found.
func withContext(r *http.Request, ctx context.Context) *http.Request {
	if !requestCtxFound {
		return r.WithContext(ctx)
	}
	*(*context.Context)(unsafe.Add(unsafe.Pointer(r), requestCtxOffset)) = ctx
	return r
}

// newRequest builds the *http.Request of a stream (the URL and body inside x): as net/http builds it, or, in the
// unit.nginx.org/go module, as Unit's Go package does (newUnitRequest).
func newRequest(s *stream, x *exchange) (*http.Request, context.CancelFunc, error) {
	if unitRequests {
		return newUnitRequest(s, x)
	}
	h := s.Head()
	major, minor, err := parseLine(h.Proto, h.Target, &x.url)
	if err != nil {
		return nil, nil, err
	}
	u := &x.url
	// The header map as net/http builds it: canonical keys, repeated headers in order; Host and a non-empty
	// Transfer-Encoding move out of the map. A header's value slice is a window of capacity 1 on the flat list the
	// stream decoded (no allocation; appending a repeated header's next value copies it elsewhere).
	n := len(h.Headers) / 2
	hdr := make(http.Header, n)
	var host, conn string
	haveHost, haveConn, haveTE := false, false, false
	for i := 0; i < n; i++ {
		k := http.CanonicalHeaderKey(h.Headers[2*i])
		v := h.Headers[2*i+1]
		switch k {
		case "Host":
			if !haveHost {
				host, haveHost = v, true
			}
			continue
		case "Connection":
			if !haveConn {
				conn, haveConn = v, true
			}
		case "Transfer-Encoding":
			haveTE = true
		}
		addHeader(hdr, k, h.Headers[2*i+1:2*i+2:2*i+2])
	}
	if u.Host != "" {
		host = u.Host
	}
	r := &x.req
	*r = http.Request{
		Method: h.Method, URL: u, Proto: h.Proto, ProtoMajor: major, ProtoMinor: minor, Header: hdr,
		Host: host, RemoteAddr: h.RemoteAddr, RequestURI: h.Target, ContentLength: h.ContentLength,
	}
	if h.ContentLength == 0 || h.Upgrade {
		// An upgrade request has no body: the client's bytes after the head are read through Hijack.
		r.Body = http.NoBody
	} else {
		x.body.s = s
		r.Body = &x.body
	}
	if haveTE {
		if te := hdr.Get("Transfer-Encoding"); te != "" {
			r.TransferEncoding = []string{strings.ToLower(te)}
			delete(hdr, "Transfer-Encoding")
		}
	}
	if h.TLS {
		sn := host
		if i := strings.LastIndexByte(sn, ':'); i >= 0 && !strings.Contains(sn[i:], "]") {
			sn = sn[:i]
		}
		r.TLS = &tls.ConnectionState{HandshakeComplete: true, ServerName: sn}
	}
	r.Close = conn == "close"
	ctx, cancel := context.WithCancel(context.Background())
	s.OnAbort(cancel) // client gone: the handler's context is cancelled
	return withContext(r, ctx), cancel, nil
}

// parseLine parses a request's version and target (the URL into u).
func parseLine(proto, target string, u *url.URL) (major, minor int, err error) {
	major, minor, ok := parseProto(proto)
	if !ok {
		return 0, 0, fmt.Errorf("bad HTTP version %q", proto)
	}
	if err := parseTarget(target, u); err != nil {
		return 0, 0, fmt.Errorf("bad request target %q: %v", target, err)
	}
	return major, minor, nil
}

// addHeader adds a field to hdr as http.Header.Add does, its value given as a window of capacity 1 on the list the
// stream decoded: the first value of a key costs no allocation (appending the next one copies it elsewhere).
func addHeader(hdr http.Header, key string, value []string) {
	if old, ok := hdr[key]; ok {
		hdr[key] = append(old, value[0])
		return
	}
	hdr[key] = value
}

// parseProto is http.ParseHTTPVersion with the two versions wardend forwards answered at once.
func parseProto(p string) (int, int, bool) {
	switch p {
	case "HTTP/1.1":
		return 1, 1, true
	case "HTTP/1.0":
		return 1, 0, true
	}
	return http.ParseHTTPVersion(p)
}

// parseTarget is url.ParseRequestURI into u. Origin-form targets made only of characters that need no escaping in
// a path (the common case) are split at the first '?' directly, giving the URL ParseRequestURI would; anything
// else (escapes, absolute-form, "*", control bytes) goes through url.ParseRequestURI.
func parseTarget(t string, u *url.URL) error {
	if len(t) > 0 && t[0] == '/' {
		i := 1
		for i < len(t) && pathByte(t[i]) {
			i++
		}
		if i == len(t) {
			*u = url.URL{Path: t}
			return nil
		}
		if t[i] == '?' {
			q := t[i+1:]
			ok := true
			for j := 0; j < len(q); j++ {
				if c := q[j]; c < 0x20 || c == 0x7f {
					ok = false
					break
				}
			}
			if ok {
				*u = url.URL{Path: t[:i], RawQuery: q, ForceQuery: q == ""}
				return nil
			}
		}
	}
	p, err := url.ParseRequestURI(t)
	if err != nil {
		return err
	}
	*u = *p
	return nil
}

// pathByte reports whether c stands for itself in a URL path (url.URL.EscapedPath leaves it as is, so RawPath
// stays empty).
func pathByte(c byte) bool {
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
		return true
	}
	switch c {
	case '-', '_', '.', '~', '$', '&', '+', ',', '/', ':', ';', '=', '@':
		return true
	}
	return false
}

func serveStream(s *stream, handler http.Handler) {
	x := &exchange{}
	r, cancel, err := newRequest(s, x)
	if err == errBodyLost {
		s.Abort()
		return
	}
	if err != nil {
		s.WriteHeader(http.StatusBadRequest, []string{"Content-Type", "text/plain; charset=utf-8"})
		s.Write([]byte(err.Error() + "\n"))
		s.Close()
		return
	}
	defer cancel()
	w := getResponseWriter(s, r)
	defer func() {
		if p := recover(); p != nil {
			x.releaseBody()
			if p == http.ErrAbortHandler {
				// As net/http: the client connection is dropped without a response (or the rest of one), no log.
				s.Reset()
				return
			}
			buf := make([]byte, 16<<10)
			buf = buf[:runtime.Stack(buf, false)]
			logger.Printf("warden: panic serving %s %s: %v\n%s", r.Method, r.RequestURI, p, buf)
			s.Abort()
		}
	}()
	handler.ServeHTTP(w, r)
	w.handlerReturned()
	// As net/http, the body is closed once the handler returned: a body kept and read later fails with
	// ErrBodyReadAfterClose (the stream serves another request by then). Before the response ends, so that whoever
	// sees the end can rely on it.
	x.releaseBody()
	w.finish()
	if err := w.err; err != nil && err != errAborted {
		// The head was refused before anything went out (over the frame limit, a status out of range): the request
		// fails (502) instead of waiting for an answer that never comes, and the app's log says why.
		logger.Printf("warden: cannot send the response to %s %s: %v", r.Method, r.RequestURI, err)
		s.Abort()
	}
	w.release()
}

var logger = log.New(os.Stderr, "", log.LstdFlags)
