package shm

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// Head is the request head of a stream.
type Head struct {
	Method, Target, Proto string
	Headers               []string // flat [name, value, ...]
	RemoteAddr, LocalAddr string   // host:port
	TLS                   bool
	ContentLength         int64 // -1 unknown
	// Upgrade: an upgrade request the router tunnels if the response is 101 (PROTOCOL.md "Upgrades"): the body is
	// the client's byte stream after the head (ContentLength -1).
	Upgrade bool
	// Connection is the client connection's id, the same for the requests of one connection, unique across the
	// channels of a ChannelSet (channel n's are n<<32 + the router's id); 0 = not told (this package does not ask
	// the router for connection ids today).
	Connection uint64
}

// Stream is one request/response exchange. Its methods are safe to call from the goroutine serving it while other
// goroutines use other streams; Read and Write may also run concurrently with each other.
type Stream struct {
	c    *Channel
	id   uint32
	head Head

	mu         sync.Mutex
	cond       sync.Cond // L = &mu
	recvQ      [][]byte
	recvArr    [2][]byte // recvQ's first backing array: a small body needs no queue allocation
	recvOff    int       // bytes of recvQ[0] already read
	recvEnd    bool
	recvCredit uint32 // bytes the router may still send
	unacked    uint32
	sendCredit uint32
	aborted    bool
	done       chan struct{} // made on the first Done call (most requests never ask)
	headerSent bool
	ended      bool
	onAbort    func()
	forgotten  int32 // atomic: taken out of the channel's map by forget (see recycle)
	tunnel     bool  // a 101 answered an upgrade request: each direction lasts until its own END
	hijacked   int32 // atomic: handed to code that may outlive the handler (never recycled)
}

// closedChan is what Done returns for a stream aborted before anyone asked for its channel.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// newStream makes the stream of a new request (reader goroutine only), reusing a finished one when the channel
// recycles them (every field is reset here).
func newStream(c *Channel, id uint32, r *rawRequest) *Stream {
	var s *Stream
	if atomic.LoadInt32(&c.reuseStreams) != 0 {
		s, _ = c.streamPool.Get().(*Stream)
	}
	if s == nil {
		s = new(Stream)
	}
	*s = Stream{
		c: c, id: id, recvCredit: c.window, sendCredit: c.window,
		head: Head{
			Method: r.Method, Target: r.Target, Proto: protoName(r.Version), Headers: r.Headers,
			RemoteAddr: c.remoteAddr.hostPort(r.RemoteAddress, r.RemotePort),
			LocalAddr:  c.localAddr.hostPort(r.LocalAddress, r.LocalPort),
			TLS:        r.TLS, ContentLength: r.ContentLength, Upgrade: r.Upgrade,
			Connection: connectionID(c.connBase, r.Connection),
		},
	}
	s.cond.L = &s.mu
	s.recvQ = s.recvArr[:0]
	return s
}

// connectionID is a router connection id made unique across a ChannelSet (0 stays 0: not told).
func connectionID(base uint64, id uint32) uint64 {
	if id == 0 {
		return 0
	}
	return base + uint64(id)
}

func protoName(version string) string {
	switch version {
	case "1.1":
		return "HTTP/1.1"
	case "1.0":
		return "HTTP/1.0"
	}
	return "HTTP/" + version
}

// ID is the stream id (unique among open streams of the channel).
func (s *Stream) ID() uint32 { return s.id }

// Head returns the request head.
func (s *Stream) Head() *Head { return &s.head }

// Done is closed when the stream is aborted (client went away, channel closed, or Abort called).
func (s *Stream) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		if s.aborted {
			return closedChan
		}
		s.done = make(chan struct{})
	}
	return s.done
}

// OnAbort registers f to run (once, in another goroutine's context) when the stream is aborted; at once if it
// already was. Cheaper than a goroutine waiting on Done.
func (s *Stream) OnAbort(f func()) {
	s.mu.Lock()
	if s.aborted {
		s.mu.Unlock()
		f()
		return
	}
	s.onAbort = f
	s.mu.Unlock()
}

// Read reads the request body; io.EOF at its end, ErrAborted if the request was aborted.
func (s *Stream) Read(p []byte) (int, error) {
	s.mu.Lock()
	for len(s.recvQ) == 0 && !s.recvEnd && !s.aborted {
		s.cond.Wait()
	}
	if s.aborted {
		s.mu.Unlock()
		return 0, ErrAborted
	}
	if len(s.recvQ) == 0 {
		s.mu.Unlock()
		return 0, io.EOF
	}
	if len(p) == 0 {
		s.mu.Unlock()
		return 0, nil
	}
	q := s.recvQ[0][s.recvOff:]
	n := copy(p, q)
	if n == len(q) {
		recycleChunk(s.recvQ[0])
		s.recvOff = 0
		s.recvQ[0] = nil
		s.recvQ = s.recvQ[1:]
		if len(s.recvQ) == 0 {
			s.recvArr = [2][]byte{}
			s.recvQ = s.recvArr[:0] // reuse the inline array (the slice moved past it)
		}
	} else {
		s.recvOff += n
	}
	s.unacked += uint32(n)
	var grant uint32
	if s.unacked >= s.c.window/4 && !s.recvEnd {
		grant = s.unacked
		s.recvCredit += grant
		s.unacked = 0
	}
	s.mu.Unlock()
	if grant > 0 {
		s.c.sendSimple(typeWindow, s.id, grant)
	}
	return n, nil
}

// WriteHeader sends the response status and headers (flat [name, value, ...]). Call once, before Write.
func (s *Stream) WriteHeader(status int, headers []string) error {
	n, err := s.lockForHead(status, headers)
	if err != nil {
		return err
	}
	s.headerSent = true
	s.tunnel = status == 101 && s.head.Upgrade
	s.mu.Unlock()
	l := s.statusLine(status)
	return s.c.writeFrame(n, func(b []byte) { encodeResponse(b, s.id, status, headers, l) })
}

// Hijack marks the stream as used beyond its handler (a hijacked connection): it is never recycled.
func (s *Stream) Hijack() { atomic.StoreInt32(&s.hijacked, 1) }

// Tunnel reports whether the stream became a tunnel (101 to an upgrade request).
func (s *Stream) Tunnel() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tunnel
}

// ReasonPhrase, when set (the warden package sets it to net/http's phrases), gives the reason phrase of a status
// and whether the router must be told it (false: the router's standard phrase, node:http's, is the same).
var ReasonPhrase func(status int) (string, bool)

// statusLine is this stream's status-line extensions, sent only to a router that reads them (featureResponseLine):
// an HTTP/1.0 line for an HTTP/1.0 request, and the reason phrase where ReasonPhrase says it differs.
func (s *Stream) statusLine(status int) statusLine {
	var l statusLine
	if s.c.features&featureResponseLine == 0 {
		return l
	}
	l.HTTP10 = s.head.Proto == "HTTP/1.0"
	if ReasonPhrase != nil {
		l.Reason, l.HasReason = ReasonPhrase(status)
	}
	return l
}

// lockForHead checks a response head (its encoded size is returned) and takes s.mu, held on success only, when
// the head may still be sent.
func (s *Stream) lockForHead(status int, headers []string) (int, error) {
	n, err := s.checkHead(status, headers)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	if err := s.headBlockedLocked(); err != nil {
		s.mu.Unlock()
		return 0, err
	}
	return n, nil
}

// headBlockedLocked says why no head may be sent now (s.mu held): the stream was aborted, or a head went out.
func (s *Stream) headBlockedLocked() error {
	if s.aborted {
		return ErrAborted
	}
	if s.headerSent {
		return fmt.Errorf("warden/shm: WriteHeader called twice")
	}
	return nil
}

// checkHead validates a response head before anything is sent or marked sent, and returns its encoded length.
func (s *Stream) checkHead(status int, headers []string) (int, error) {
	if status < 100 || status > 999 {
		return 0, fmt.Errorf("warden/shm: status %d out of range", status)
	}
	if len(headers)%2 != 0 {
		return 0, fmt.Errorf("warden/shm: headers must be a flat [name, value, ...] list")
	}
	n := responseLen(headers, s.statusLine(status))
	if n > s.c.maxChunk+frameHeader {
		return 0, fmt.Errorf("warden/shm: response head of %d bytes exceeds the frame limit", n)
	}
	return n, nil
}

// WriteResponse sends a complete response: status, headers, the whole body and the end. When the body fits in one
// frame and in the send credit, that is two frames published at once (RESPONSE, then DATA with the END flag);
// otherwise it is WriteHeader, Write and Close. Use it instead of those when the body is known in full.
func (s *Stream) WriteResponse(status int, headers []string, body []byte) error {
	n, err := s.lockForHead(status, headers)
	if err != nil {
		return err
	}
	if len(body) > s.c.maxChunk || len(body) > int(s.sendCredit) {
		s.mu.Unlock()
		if err := s.WriteHeader(status, headers); err != nil {
			return err
		}
		if _, err := s.Write(body); err != nil {
			return err
		}
		return s.Close()
	}
	s.headerSent = true
	s.ended = true
	s.sendCredit -= uint32(len(body))
	s.mu.Unlock()
	s.c.forget(s)
	d := frameHeader + len(body)
	l := s.statusLine(status)
	return s.c.writeFrames2(n, func(b []byte) { encodeResponse(b, s.id, status, headers, l) }, d, func(b []byte) {
		putHeader(b, uint32(d), typeData, flagEnd, s.id, 0)
		copy(b[frameHeader:], body)
	})
}

// Write sends response body bytes (WriteHeader must have been called); it blocks under flow control.
func (s *Stream) Write(p []byte) (int, error) {
	total := 0
	for len(p) > 0 {
		s.mu.Lock()
		for s.sendCredit == 0 && !s.aborted {
			s.cond.Wait()
		}
		if s.aborted {
			s.mu.Unlock()
			return total, ErrAborted
		}
		if !s.headerSent || s.ended {
			s.mu.Unlock()
			return total, fmt.Errorf("warden/shm: Write before WriteHeader or after Close")
		}
		n := len(p)
		if n > int(s.sendCredit) {
			n = int(s.sendCredit)
		}
		if n > s.c.maxChunk {
			n = s.c.maxChunk
		}
		s.sendCredit -= uint32(n)
		s.mu.Unlock()
		chunk := p[:n]
		err := s.c.writeFrame(frameHeader+n, func(b []byte) {
			putHeader(b, uint32(frameHeader+n), typeData, 0, s.id, 0)
			copy(b[frameHeader:], chunk)
		})
		if err != nil {
			return total, err
		}
		p = p[n:]
		total += n
	}
	return total, nil
}

// Flush is a no-op kept for symmetry: every Write is published to the router as it happens.
func (s *Stream) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.aborted {
		return ErrAborted
	}
	return nil
}

// Close ends the response (END frame). The stream is finished afterwards; unread request body is discarded.
func (s *Stream) Close() error {
	if done, err := s.markEnded(); done {
		return err
	}
	return s.c.sendSimple(typeEnd, s.id, 0)
}

// markEnded marks the response ended and forgets the stream; done = nothing more to send (err says why, nil when
// it had ended already).
func (s *Stream) markEnded() (done bool, err error) {
	s.mu.Lock()
	switch {
	case s.aborted:
		err = ErrAborted
	case s.ended:
	case !s.headerSent:
		err = fmt.Errorf("warden/shm: Close before WriteHeader")
	default:
		s.ended = true
		// A tunnel's client side stays open until its own END (then pushEnd forgets the stream).
		keep := s.tunnel && !s.recvEnd
		s.mu.Unlock()
		if !keep {
			s.c.forget(s) // outside s.mu: forget takes the channel's lock
		}
		return false, nil
	}
	s.mu.Unlock()
	return true, err
}

// CloseWithTrailers ends the response with trailer fields (flat [name, value, ...]): a TRAILERS frame, then END.
// wardend writes them as the trailer section of a chunked response. To a router without trailer support (or with
// no trailers) it is Close.
func (s *Stream) CloseWithTrailers(trailers []string) error {
	if len(trailers) == 0 || !s.c.Trailers() {
		return s.Close()
	}
	if len(trailers)%2 != 0 {
		return fmt.Errorf("warden/shm: trailers must be a flat [name, value, ...] list")
	}
	n := headersLen(trailers)
	if n > s.c.maxChunk+frameHeader {
		return fmt.Errorf("warden/shm: trailers of %d bytes exceed the frame limit", n)
	}
	if done, err := s.markEnded(); done {
		return err
	}
	return s.c.writeFrames2(n, func(b []byte) { encodeHeaders(b, typeTrailers, s.id, 0, trailers) }, frameHeader, func(b []byte) {
		putHeader(b, frameHeader, typeEnd, 0, s.id, 0)
	})
}

// Info sends a 1xx response (103 Early Hints, 102 Processing; not 101) before the final head, with its own fields.
// To a router without 1xx support it sends nothing (nil).
func (s *Stream) Info(status int, headers []string) error {
	if status < 100 || status > 199 || status == 101 {
		return fmt.Errorf("warden/shm: informational status %d must be 1xx other than 101", status)
	}
	if s.c.features&featureEarlyHints == 0 {
		return nil
	}
	if len(headers)%2 != 0 {
		return fmt.Errorf("warden/shm: headers must be a flat [name, value, ...] list")
	}
	n := headersLen(headers)
	if n > s.c.maxChunk+frameHeader {
		return fmt.Errorf("warden/shm: a 1xx head of %d bytes exceeds the frame limit", n)
	}
	s.mu.Lock()
	if err := s.headBlockedLocked(); err != nil {
		s.mu.Unlock()
		return err
	}
	s.mu.Unlock()
	return s.c.writeFrame(n, func(b []byte) { encodeHeaders(b, typeInfo, s.id, uint32(status), headers) })
}

// Reset drops the client connection on purpose, as net/http does for panic(http.ErrAbortHandler): wardend closes
// the client connection without any (further) response.
func (s *Stream) Reset() { s.abort(abortReset) }

// Abort fails the request: wardend answers 502 if no response head was sent yet, else cuts the response.
func (s *Stream) Abort() { s.abort(abortAppError) }

func (s *Stream) abort(reason uint32) {
	s.mu.Lock()
	if s.aborted || s.ended {
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.c.forget(s)
	s.c.sendSimple(typeAbort, s.id, reason)
	s.peerAbort()
}

func (s *Stream) peerAbort() {
	s.mu.Lock()
	var f func()
	if !s.aborted {
		s.aborted = true
		s.recvQ = nil
		s.recvOff = 0
		if s.done != nil {
			close(s.done)
		}
		s.cond.Broadcast()
		f, s.onAbort = s.onAbort, nil
	}
	s.mu.Unlock()
	if f != nil {
		f()
	}
}

// pushData queues a DATA payload (and the end of the body when end is set).
func (s *Stream) pushData(b []byte, end bool) error {
	s.mu.Lock()
	if uint32(len(b)) > s.recvCredit {
		s.mu.Unlock()
		return protoErr("stream %d: %d bytes sent with %d of credit", s.id, len(b), s.recvCredit)
	}
	s.recvCredit -= uint32(len(b))
	if s.aborted || s.recvEnd {
		s.mu.Unlock()
		return nil
	}
	if len(b) > 0 {
		s.recvQ = append(s.recvQ, b)
	}
	done := false
	if end {
		s.recvEnd = true
		done = s.tunnel && s.ended
	}
	if len(b) > 0 || end {
		s.cond.Broadcast()
	}
	s.mu.Unlock()
	if done {
		s.c.forget(s) // both directions of a tunnel ended
	}
	return nil
}

func (s *Stream) pushEnd() {
	s.mu.Lock()
	s.recvEnd = true
	done := s.tunnel && s.ended
	s.cond.Broadcast()
	s.mu.Unlock()
	if done {
		s.c.forget(s) // both directions of a tunnel ended
	}
}

func (s *Stream) addCredit(n uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n == 0 || uint64(s.sendCredit)+uint64(n) > 1<<31 {
		return protoErr("bad WINDOW credit %d on stream %d", n, s.id)
	}
	s.sendCredit += n
	s.cond.Broadcast()
	return nil
}
