package shm

import (
	"encoding/binary"
	"fmt"
)

var le = binary.LittleEndian

// rawRequest is the REQUEST payload as on the wire.
type rawRequest struct {
	Method, Target, Version string
	Headers                 []string
	RemoteAddress           string
	RemotePort              uint16
	LocalAddress            string
	LocalPort               uint16
	TLS                     bool
	Upgrade                 bool   // flagUpgrade: the stream becomes a tunnel if the app answers 101
	ContentLength           int64  // -1 unknown
	Connection              uint32 // client connection id (frame arg), 0 = not told
}

// frame is one frame as a value (tests, vectors); the hot path encodes in place.
type frame struct {
	Type    uint8
	Flags   uint8 // DATA: flagEnd
	Stream  uint32
	Arg     uint32 // status (RESPONSE, INFO), reason (ABORT), credit (WINDOW), capabilities (READY), connection (REQUEST, CONN_CLOSED)
	Request *rawRequest
	Headers []string   // RESPONSE, TRAILERS, INFO
	Data    []byte     // DATA
	Line    statusLine // RESPONSE: the status-line extensions (flagReason, flagHTTP10)
}

func protoErr(format string, a ...interface{}) error {
	return fmt.Errorf("warden/shm: protocol error: "+format, a...)
}

func putHeader(b []byte, length uint32, typ, flags uint8, stream, arg uint32) {
	le.PutUint32(b[0:], length)
	b[4] = typ
	b[5] = flags
	b[6] = 0
	b[7] = 0
	le.PutUint32(b[8:], stream)
	le.PutUint32(b[12:], arg)
}

func stringsLen(list []string) int {
	n := 4 * len(list)
	for _, s := range list {
		n += len(s)
	}
	return n
}

func putString(b []byte, p int, s string) int {
	le.PutUint32(b[p:], uint32(len(s)))
	return p + 4 + copy(b[p+4:], s)
}

func requestLen(r *rawRequest) int {
	return frameHeader + 16 + 20 + len(r.Method) + len(r.Target) + len(r.Version) + len(r.RemoteAddress) +
		len(r.LocalAddress) + stringsLen(r.Headers)
}

func encodeRequest(b []byte, stream uint32, r *rawRequest) {
	n := requestLen(r)
	var flags uint8
	if r.TLS {
		flags = flagTLS
	}
	if r.Upgrade {
		flags |= flagUpgrade
	}
	putHeader(b, uint32(n), typeRequest, flags, stream, r.Connection)
	p := frameHeader
	le.PutUint64(b[p:], uint64(r.ContentLength)) // -1 → all ones
	le.PutUint16(b[p+8:], r.RemotePort)
	le.PutUint16(b[p+10:], r.LocalPort)
	le.PutUint32(b[p+12:], uint32(len(r.Headers)/2))
	p += 16
	p = putString(b, p, r.Method)
	p = putString(b, p, r.Target)
	p = putString(b, p, r.Version)
	p = putString(b, p, r.RemoteAddress)
	p = putString(b, p, r.LocalAddress)
	for _, h := range r.Headers {
		p = putString(b, p, h)
	}
}

// statusLine is what a RESPONSE says about its status line beyond the status: its own reason phrase and/or HTTP/1.0.
type statusLine struct {
	Reason    string
	HasReason bool
	HTTP10    bool
}

func (l statusLine) flags() uint8 {
	var f uint8
	if l.HasReason {
		f |= flagReason
	}
	if l.HTTP10 {
		f |= flagHTTP10
	}
	return f
}

func responseLen(headers []string, l statusLine) int {
	n := frameHeader + 4 + stringsLen(headers)
	if l.HasReason {
		n += 4 + len(l.Reason)
	}
	return n
}

func encodeResponse(b []byte, stream uint32, status int, headers []string, l statusLine) {
	putHeader(b, uint32(responseLen(headers, l)), typeResponse, l.flags(), stream, uint32(status))
	le.PutUint32(b[frameHeader:], uint32(len(headers)/2))
	p := frameHeader + 4
	for _, h := range headers {
		p = putString(b, p, h)
	}
	if l.HasReason {
		putString(b, p, l.Reason)
	}
}

// headersLen is the length of a TRAILERS or INFO frame: header pairs as in RESPONSE.
func headersLen(headers []string) int { return frameHeader + 4 + stringsLen(headers) }

// encodeHeaders writes a TRAILERS (arg 0) or INFO (arg = 1xx status) frame.
func encodeHeaders(b []byte, typ uint8, stream, arg uint32, headers []string) {
	putHeader(b, uint32(headersLen(headers)), typ, 0, stream, arg)
	le.PutUint32(b[frameHeader:], uint32(len(headers)/2))
	p := frameHeader + 4
	for _, h := range headers {
		p = putString(b, p, h)
	}
}

// decodeHeaders decodes the header pairs of a TRAILERS or INFO frame (b exactly the frame).
func decodeHeaders(b []byte) ([]string, error) {
	if len(b) < frameHeader+4 {
		return nil, protoErr("TRAILERS/INFO frame too short")
	}
	if b[4] == typeInfo {
		if st := le.Uint32(b[12:]); st < 100 || st > 199 || st == 101 {
			return nil, protoErr("INFO status %d is not 1xx (101 excluded)", st)
		}
	}
	pairs := int(le.Uint32(b[frameHeader:]))
	rd := &strReader{b: b, str: string(b), p: frameHeader + 4}
	if pairs < 0 || pairs > (len(b)-rd.p)/8 {
		return nil, protoErr("TRAILERS/INFO header count larger than the frame")
	}
	hs := make([]string, 2*pairs)
	var err error
	for i := range hs {
		if hs[i], err = rd.next(); err != nil {
			return nil, err
		}
	}
	if rd.p != len(b) {
		return nil, protoErr("TRAILERS/INFO frame has trailing bytes")
	}
	return hs, nil
}

// strReader reads the length-prefixed strings of a frame: lengths from b, the strings themselves as substrings of
// str, which holds the same bytes (one string conversion per frame instead of one per field).
type strReader struct {
	b   []byte
	str string
	p   int
}

func (r *strReader) next() (string, error) {
	if r.p+4 > len(r.b) {
		return "", protoErr("string length runs past the end of the frame")
	}
	n := int(le.Uint32(r.b[r.p:]))
	s := r.p + 4
	if n < 0 || n > len(r.b)-s {
		return "", protoErr("string of %d bytes runs past the end of the frame", n)
	}
	r.p = s + n
	return r.str[s : s+n], nil
}

// decodeRequest decodes a REQUEST frame; b is exactly the frame (header included, unpadded).
func decodeRequest(b []byte) (*rawRequest, error) {
	r := &rawRequest{}
	if err := decodeRequestInto(b, r); err != nil {
		return nil, err
	}
	return r, nil
}

// decodeRequestInto is decodeRequest into a caller's struct. All strings of the request share one allocation.
func decodeRequestInto(b []byte, r *rawRequest) error {
	if len(b) < frameHeader+16 {
		return protoErr("REQUEST frame too short")
	}
	p := b[frameHeader:]
	r.TLS = b[5]&flagTLS != 0
	r.Connection = le.Uint32(b[12:])
	r.Upgrade = b[5]&flagUpgrade != 0
	cl := le.Uint64(p)
	if cl == ^uint64(0) {
		r.ContentLength = -1
	} else if cl >= 1<<53 {
		return protoErr("REQUEST content length out of range")
	} else {
		r.ContentLength = int64(cl)
	}
	r.RemotePort = le.Uint16(p[8:])
	r.LocalPort = le.Uint16(p[10:])
	pairs := int(le.Uint32(p[12:]))
	rd := strReader{b: b, p: frameHeader + 16}
	if pairs < 0 || pairs > (len(b)-rd.p)/8 {
		return protoErr("REQUEST header count larger than the frame")
	}
	// The strings start at frameHeader+16; convert from there (the fixed fields are not needed as text).
	rd.str = string(b[rd.p:])
	rd.b = b[rd.p:]
	rd.p = 0
	var err error
	if r.Method, err = rd.next(); err != nil {
		return err
	}
	if r.Target, err = rd.next(); err != nil {
		return err
	}
	if r.Version, err = rd.next(); err != nil {
		return err
	}
	if r.RemoteAddress, err = rd.next(); err != nil {
		return err
	}
	if r.LocalAddress, err = rd.next(); err != nil {
		return err
	}
	r.Headers = make([]string, 2*pairs)
	for i := range r.Headers {
		if r.Headers[i], err = rd.next(); err != nil {
			return err
		}
	}
	if rd.p != len(rd.b) {
		return protoErr("REQUEST frame has trailing bytes")
	}
	return nil
}

func decodeResponse(b []byte) (int, []string, statusLine, error) {
	var l statusLine
	l.HTTP10 = b[5]&flagHTTP10 != 0
	l.HasReason = b[5]&flagReason != 0
	status, hs, reason, err := decodeResponseStrings(b, l.HasReason)
	l.Reason = reason
	return status, hs, l, err
}

func decodeResponseStrings(b []byte, hasReason bool) (int, []string, string, error) {
	if len(b) < frameHeader+4 {
		return 0, nil, "", protoErr("RESPONSE frame too short")
	}
	status := int(le.Uint32(b[12:]))
	if status < 100 || status > 999 {
		return 0, nil, "", protoErr("RESPONSE status %d out of range", status)
	}
	pairs := int(le.Uint32(b[frameHeader:]))
	rd := &strReader{b: b, str: string(b), p: frameHeader + 4}
	if pairs < 0 || pairs > (len(b)-rd.p)/8 {
		return 0, nil, "", protoErr("RESPONSE header count larger than the frame")
	}
	hs := make([]string, 2*pairs)
	var err error
	for i := range hs {
		if hs[i], err = rd.next(); err != nil {
			return 0, nil, "", err
		}
	}
	var reason string
	if hasReason {
		if reason, err = rd.next(); err != nil {
			return 0, nil, "", err
		}
	}
	if rd.p != len(b) {
		return 0, nil, "", protoErr("RESPONSE frame has trailing bytes")
	}
	return status, hs, reason, nil
}

// encodeFrame encodes f padded with zeros to a multiple of 8 bytes (its size in a ring).
func encodeFrame(f *frame) []byte {
	n := frameHeader
	switch f.Type {
	case typeRequest:
		n = requestLen(f.Request)
	case typeResponse:
		n = responseLen(f.Headers, f.Line)
	case typeData:
		n = frameHeader + len(f.Data)
	case typeTrailers, typeInfo:
		n = headersLen(f.Headers)
	}
	b := make([]byte, align8(uint32(n)))
	switch f.Type {
	case typeRequest:
		encodeRequest(b, f.Stream, f.Request)
	case typeResponse:
		encodeResponse(b, f.Stream, int(f.Arg), f.Headers, f.Line)
	case typeData:
		putHeader(b, uint32(n), typeData, f.Flags, f.Stream, 0)
		copy(b[frameHeader:], f.Data)
	case typeTrailers, typeInfo:
		encodeHeaders(b, f.Type, f.Stream, f.Arg, f.Headers)
	default:
		putHeader(b, uint32(n), f.Type, 0, f.Stream, f.Arg)
	}
	return b
}

// decodeFrame decodes one frame at the start of b (padding after it is ignored).
func decodeFrame(b []byte) (*frame, error) {
	if len(b) < frameHeader {
		return nil, protoErr("frame shorter than its header")
	}
	n := le.Uint32(b)
	if n < frameHeader || uint64(n) > uint64(len(b)) {
		return nil, protoErr("frame length %d out of range", n)
	}
	b = b[:n]
	f := &frame{Type: b[4], Stream: le.Uint32(b[8:]), Arg: le.Uint32(b[12:])}
	var err error
	switch f.Type {
	case typeRequest:
		f.Request, err = decodeRequest(b)
	case typeResponse:
		var st int
		st, f.Headers, f.Line, err = decodeResponse(b)
		f.Arg = uint32(st)
	case typeData:
		f.Data = append([]byte{}, b[frameHeader:]...)
		f.Flags = b[5] & flagEnd
	case typeTrailers, typeInfo:
		f.Headers, err = decodeHeaders(b)
	case typeEnd, typeAbort, typeWindow, typeReady, typeShutdown, typeConnClosed:
		if n != frameHeader {
			err = protoErr("frame type %d with a payload", f.Type)
		}
	default:
		err = protoErr("unknown frame type %d", f.Type)
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}
