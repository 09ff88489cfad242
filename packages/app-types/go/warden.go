// Package warden lets a Go net/http program run under wardend: ListenAndServe serves the handler over Warden's
// shared-memory channel when the process was started by wardend (WARDEN_CHANNEL set), and falls back to
// http.ListenAndServe otherwise. Standard library only.
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
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"warden.dev/warden/shm"
)

// ListenAndServe serves handler (nil = http.DefaultServeMux). Under wardend it serves over the channel, each request
// in its own goroutine, and returns nil after wardend asked for a shutdown and all in-flight requests finished.
// Outside wardend it is http.ListenAndServe(addr, handler).
func ListenAndServe(addr string, handler http.Handler) error {
	ch, err := shm.FromEnv()
	if errors.Is(err, shm.ErrNotUnderWarden) {
		return http.ListenAndServe(addr, handler)
	}
	if err != nil {
		return err
	}
	return Serve(ch, handler)
}

// Serve serves handler over an open channel until shutdown (nil) or until the channel fails (its error).
func Serve(ch *shm.Channel, handler http.Handler) error {
	if handler == nil {
		handler = http.DefaultServeMux
	}
	var wg sync.WaitGroup
	if err := ch.Ready(); err != nil {
		return err
	}
	// Each request runs in its own goroutine. Goroutines that finished a request wait a while for the next one
	// instead of exiting (up to maxParked of them): a fresh goroutine per request would grow its stack again every
	// time, which costs more than the handler in small requests.
	next := make(chan *shm.Stream)
	var parked int32
	var worker func(s *shm.Stream)
	worker = func(s *shm.Stream) {
		for {
			serveStream(s, handler)
			wg.Done()
			if atomic.AddInt32(&parked, 1) > maxParked {
				atomic.AddInt32(&parked, -1)
				return
			}
			var ok bool
			s, ok = <-next
			atomic.AddInt32(&parked, -1)
			if !ok {
				return
			}
		}
	}
	defer close(next)
	for {
		s, err := ch.Accept()
		if err != nil {
			wg.Wait()
			if cerr := ch.Err(); cerr != nil {
				return cerr
			}
			if ch.ShutdownRequested() {
				ch.Close()
			}
			return nil
		}
		wg.Add(1)
		select {
		case next <- s:
		default:
			go worker(s)
		}
	}
}

// maxParked bounds the goroutines kept waiting for the next request.
const maxParked = 256

// requestBody is the http.Request Body over a stream.
type requestBody struct {
	s      *shm.Stream
	mu     sync.Mutex
	closed bool
}

func (b *requestBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return 0, http.ErrBodyReadAfterClose
	}
	n, err := b.s.Read(p)
	if errors.Is(err, shm.ErrAborted) {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (b *requestBody) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}

func newRequest(s *shm.Stream) (*http.Request, context.CancelFunc, error) {
	h := s.Head()
	major, minor, ok := http.ParseHTTPVersion(h.Proto)
	if !ok {
		return nil, nil, fmt.Errorf("bad HTTP version %q", h.Proto)
	}
	u, err := url.ParseRequestURI(h.Target)
	if err != nil {
		return nil, nil, fmt.Errorf("bad request target %q: %v", h.Target, err)
	}
	hdr := make(http.Header, len(h.Headers)/2)
	for i := 0; i+1 < len(h.Headers); i += 2 {
		k := http.CanonicalHeaderKey(h.Headers[i])
		hdr[k] = append(hdr[k], h.Headers[i+1])
	}
	host := u.Host
	if host == "" {
		host = hdr.Get("Host")
	}
	delete(hdr, "Host") // net/http moves Host out of the header map
	ctx, cancel := context.WithCancel(context.Background())
	r := &http.Request{
		Method: h.Method, URL: u, Proto: h.Proto, ProtoMajor: major, ProtoMinor: minor, Header: hdr,
		Host: host, RemoteAddr: h.RemoteAddr, RequestURI: h.Target, ContentLength: h.ContentLength,
	}
	if h.ContentLength == 0 {
		r.Body = http.NoBody
	} else {
		r.Body = &requestBody{s: s}
	}
	if te := hdr.Get("Transfer-Encoding"); te != "" {
		r.TransferEncoding = []string{strings.ToLower(te)}
		delete(hdr, "Transfer-Encoding")
	}
	if h.TLS {
		sn := host
		if i := strings.LastIndexByte(sn, ':'); i >= 0 && !strings.Contains(sn[i:], "]") {
			sn = sn[:i]
		}
		r.TLS = &tls.ConnectionState{HandshakeComplete: true, ServerName: sn}
	}
	r.Close = hdr.Get("Connection") == "close"
	s.OnAbort(cancel) // client gone: the handler's context is cancelled
	return r.WithContext(ctx), cancel, nil
}

func serveStream(s *shm.Stream, handler http.Handler) {
	r, cancel, err := newRequest(s)
	if err != nil {
		s.WriteHeader(http.StatusBadRequest, []string{"Content-Type", "text/plain; charset=utf-8"})
		s.Write([]byte(err.Error() + "\n"))
		s.Close()
		return
	}
	defer cancel()
	w := newResponseWriter(s, r)
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				s.Abort()
				return
			}
			buf := make([]byte, 16<<10)
			buf = buf[:runtime.Stack(buf, false)]
			logger.Printf("warden: panic serving %s %s: %v\n%s", r.Method, r.RequestURI, p, buf)
			s.Abort()
		}
	}()
	handler.ServeHTTP(w, r)
	w.finish()
	w.release()
}

var logger = log.New(os.Stderr, "", log.LstdFlags)
