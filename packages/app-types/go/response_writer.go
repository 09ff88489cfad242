package warden

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Pools: a response costs no large allocation (net/http pools the same things).
var (
	bufioPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, bufferBytes) }}
	headPool  = sync.Pool{New: func() any { b := make([]byte, 0, bufferBytes); return &b }}
	copyPool  = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
	listPool  = sync.Pool{New: func() any { b := make([]string, 0, 16); return &b }}
)

// bufferBytes is how much body the writer holds before committing the head, as net/http's chunking buffer: a
// handler that writes less than this and returns gets a Content-Length instead of a streamed body.
const bufferBytes = 4096

// responseStream is the part of *stream the writer uses (an interface so tests can record the calls). The
// headers list passed to WriteHeader is reused by the writer after the call: the stream must copy what it keeps.
type responseStream interface {
	WriteHeader(status int, headers []string) error
	Write(p []byte) (int, error)
	Close() error
	// CloseWithTrailers ends the response with trailer fields (Close when there are none).
	CloseWithTrailers(trailers []string) error
	// Info sends a 1xx response head before the final one.
	Info(status int, headers []string) error
}

var _ responseStream = (*stream)(nil)

// responseWriter is the http.ResponseWriter over a stream. It implements http.Flusher.
type responseWriter struct {
	s           responseStream
	whole       wholeResponder // s when it can send a whole response at once (set without a type assertion)
	req         *http.Request
	header      http.Header
	status      int
	wroteHeader bool // WriteHeader decided the status (head maybe not sent yet)
	committed   bool // head sent to the router
	buf         []byte
	bufRef      *[]byte // pooled backing array of buf
	bw          *bufio.Writer
	written     int64
	err         error
	noBody      bool     // status or method forbids a body
	trailers    bool     // the head announced trailers (a Trailer header or a TrailerPrefix key): no Content-Length
	declared    []string // trailer names the Trailer header declared (canonical), as net/http's declareTrailer keeps them
	hijacked    bool     // Hijack took the connection (hijack.go): the handler's return ends nothing
	// returned is set (atomically) once the handler returned, before the response is finished: a writer kept by
	// another goroutine then fails at once, before the end of the response reaches anyone who could send a request
	// that such a goroutine serves (it raced the release of the writer's buffers: a nil bufio.Writer).
	returned uint32
}

// handlerReturned marks w as no longer usable by the app (see returned).
func (w *responseWriter) handlerReturned() { atomic.StoreUint32(&w.returned, 1) }

func (w *responseWriter) afterReturn() bool { return atomic.LoadUint32(&w.returned) != 0 }

// errWriterAfterReturn is what a ResponseWriter gives once its handler returned (net/http's rule: it may not be used
// then). Writers are not pooled: a writer kept by a goroutine after its handler returned wrote into whichever request
// got the object next (another client's response).
var errWriterAfterReturn = errors.New("warden: ResponseWriter used after its handler returned")

func getResponseWriter(s *stream, r *http.Request) *responseWriter {
	return &responseWriter{s: s, whole: s, req: r, header: make(http.Header)}
}

func (w *responseWriter) Header() http.Header { return w.header }

func bodyAllowed(status int) bool {
	return !(status >= 100 && status < 200) && status != http.StatusNoContent && status != http.StatusNotModified
}

// WriteHeader follows net/http: 1xx informational codes are not forwarded (wardend answers the client's
// Expect itself) and may be followed by the final status; a second final status is ignored.
func (w *responseWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	if w.afterReturn() {
		return
	}
	w.writeHeader(code)
}

// writeHeader is WriteHeader without the check that the handler has not returned (finish calls it after).
func (w *responseWriter) writeHeader(code int) {
	if w.wroteHeader {
		logger.Printf("warden: superfluous WriteHeader(%d) for %s %s", code, w.req.Method, w.req.RequestURI)
		return
	}
	if s, ok := w.s.(*stream); ok && code == http.StatusSwitchingProtocols && s.Head().Upgrade {
		// The head of an upgrade: sent at Hijack (hijack.go), as net/http does.
		w.wroteHeader = true
		w.status = code
		w.noBody = true
		return
	}
	if code >= 100 && code < 200 {
		// As net/http (Go 1.19+): a 1xx other than 100 and 101 goes out at once with the headers set so far (minus
		// Content-Length and Transfer-Encoding); wardend answers Expect: 100-continue itself.
		if code != http.StatusContinue && code != http.StatusSwitchingProtocols {
			lp := listPool.Get().(*[]string)
			list := flatten(w.header, &headExtras{dropLength: true, dropTE: true}, (*lp)[:0])
			if err := w.s.Info(code, list); err != nil {
				logger.Printf("warden: cannot send %d for %s %s: %v", code, w.req.Method, w.req.RequestURI, err)
			}
			putList(lp, list)
		}
		return
	}
	w.wroteHeader = true
	w.status = code
	w.noBody = !bodyAllowed(code) || w.req.Method == http.MethodHead
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.afterReturn() {
		return 0, errWriterAfterReturn
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return 0, w.err
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(len(p))
	if w.req.Method == http.MethodHead {
		return len(p), nil
	}
	if !w.committed {
		if len(w.buf)+len(p) <= bufferBytes {
			if w.buf == nil {
				w.bufRef = headPool.Get().(*[]byte)
				w.buf = (*w.bufRef)[:0]
			}
			w.buf = append(w.buf, p...)
			return len(p), nil
		}
		if err := w.commit(false); err != nil {
			return 0, err
		}
	}
	n, err := w.bw.Write(p)
	if err != nil {
		w.err = err
	}
	return n, err
}

// WriteString avoids a copy for io.WriteString callers.
func (w *responseWriter) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// wholeResponder is implemented by *stream: head, body and end in one go (fewer frames).
type wholeResponder interface {
	WriteResponse(status int, headers []string, body []byte) error
}

// commit sends the head; final = the handler returned (so the whole body is in w.buf).
func (w *responseWriter) commit(final bool) error {
	if w.committed {
		return w.err
	}
	w.committed = true
	w.trailers = hasTrailers(w.header)
	if w.trailers {
		w.declareTrailers()
	}
	lp := listPool.Get().(*[]string)
	list := w.headList(final, (*lp)[:0])
	err := w.s.WriteHeader(w.status, list)
	putList(lp, list)
	if err != nil {
		w.err = err
		return err
	}
	w.bw = bufioPool.Get().(*bufio.Writer)
	w.bw.Reset(w.s)
	if len(w.buf) > 0 && !w.noBody {
		if _, err := w.bw.Write(w.buf); err != nil {
			w.err = err
		}
	}
	w.buf = nil
	return w.err
}

// headList returns the response head as a flat list (appended to list): the handler's headers plus what net/http
// adds before sending the head — a sniffed Content-Type, the Content-Length of a body that is complete in the
// buffer — without body headers when the status allows no body. The handler's map is left as it is (net/http too
// sends these additions without putting them into it).
func (w *responseWriter) headList(final bool, list []string) []string {
	h := w.header
	var x headExtras
	if !bodyAllowed(w.status) {
		x.dropLength = w.status != http.StatusNotModified
		x.dropTE = true
	} else {
		te := first(h, "Transfer-Encoding")
		if _, haveType := h["Content-Type"]; !haveType {
			if defaultContentType != "" {
				x.contentType = defaultContentType
			} else if te == "" && len(w.buf) > 0 {
				x.contentType = http.DetectContentType(w.buf)
			}
		}
		if final && te == "" && first(h, "Content-Length") == "" && !w.trailers {
			if w.req.Method != http.MethodHead || w.written > 0 {
				x.contentLength = strconv.FormatInt(w.written, 10)
			}
		}
	}
	x.dropTrailers = true
	return flatten(h, &x, list)
}

// first is h.Get(k) for a canonical k (no canonicalisation on the way).
func first(h http.Header, k string) string {
	if v := h[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// headExtras are changes to the handler's headers made while flattening them.
type headExtras struct {
	contentType   string // add (the map has no Content-Type)
	contentLength string // replace the map's Content-Length, if any
	dropLength    bool   // leave out Content-Length
	dropTE        bool   // leave out Transfer-Encoding
	dropTrailers  bool   // leave out the TrailerPrefix keys (they are trailers, not head fields)
}

// ReadFrom implements io.ReaderFrom so that io.Copy(w, r.Body) uses a pooled buffer instead of allocating 32 KiB.
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	bp := copyPool.Get().(*[]byte)
	defer copyPool.Put(bp)
	buf := *bp
	var total int64
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// release returns pooled buffers once the response is complete.
func (w *responseWriter) release() {
	if w.bw != nil {
		w.bw.Reset(nil)
		bufioPool.Put(w.bw)
		w.bw = nil
	}
	if w.bufRef != nil {
		*w.bufRef = (*w.bufRef)[:0]
		headPool.Put(w.bufRef)
		w.bufRef = nil
		w.buf = nil
	}
}

// Flush implements http.Flusher: sends the head if needed and everything written so far.
func (w *responseWriter) Flush() {
	if w.afterReturn() {
		return
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.commit(false) != nil {
		return
	}
	if err := w.bw.Flush(); err != nil {
		w.err = err
	}
}

// finish runs after the handler returned: head (with Content-Length if the body is still buffered), body, END.
func (w *responseWriter) finish() {
	if w.hijacked {
		return // the hijacked connection's Close ends the stream
	}
	if !w.wroteHeader {
		w.writeHeader(http.StatusOK)
	}
	if ws := w.whole; ws != nil && !w.committed && !hasTrailers(w.header) {
		// The whole body is in w.buf: head, body and end go out together.
		w.committed = true
		lp := listPool.Get().(*[]string)
		list := w.headList(true, (*lp)[:0])
		body := w.buf
		if w.noBody {
			body = nil
		}
		w.err = ws.WriteResponse(w.status, list, body)
		putList(lp, list)
		w.buf = nil
		return
	}
	if w.commit(true) != nil {
		return
	}
	if err := w.bw.Flush(); err != nil {
		return
	}
	if !w.trailers && !hasTrailerKeys(w.header) {
		w.s.Close()
		return
	}
	lp := listPool.Get().(*[]string)
	list := w.finalTrailers((*lp)[:0])
	w.s.CloseWithTrailers(list)
	putList(lp, list)
}

// hasTrailers reports whether the handler announced trailers: a Trailer header or a TrailerPrefix key (net/http's
// chunkWriter then sends no Content-Length, so that the trailers can follow a chunked body).
func hasTrailers(h http.Header) bool {
	_, declared := h["Trailer"]
	return declared || hasTrailerKeys(h)
}

func hasTrailerKeys(h http.Header) bool {
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return true
		}
	}
	return false
}

// forbiddenTrailers are the names net/http never sends as trailers (httpguts.ValidTrailerHeader).
var forbiddenTrailers = map[string]bool{
	"Authorization": true, "Cache-Control": true, "Connection": true, "Content-Encoding": true, "Content-Length": true,
	"Content-Range": true, "Content-Type": true, "Expect": true, "Host": true, "Keep-Alive": true, "Max-Forwards": true,
	"Pragma": true, "Proxy-Authenticate": true, "Proxy-Authorization": true, "Proxy-Connection": true, "Range": true,
	"Realm": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Www-Authenticate": true,
}

// declareTrailers notes the names of the Trailer header when the head goes out (net/http's declareTrailer).
func (w *responseWriter) declareTrailers() {
	for _, v := range w.header["Trailer"] {
		for _, name := range strings.Split(v, ",") {
			name = http.CanonicalHeaderKey(strings.TrimSpace(name))
			if name != "" && !forbiddenTrailers[name] {
				w.declared = append(w.declared, name)
			}
		}
	}
}

// finalTrailers is net/http's finalTrailers as a flat list in the order its Header.Write writes them (sorted names):
// the TrailerPrefix keys (prefix removed, name as given) and the declared names' values at the end of the handler.
func (w *responseWriter) finalTrailers(out []string) []string {
	t := make(http.Header)
	for k, vv := range w.header {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			t[strings.TrimPrefix(k, http.TrailerPrefix)] = vv
		}
	}
	for _, k := range w.declared {
		for _, v := range w.header[k] {
			t.Add(k, v)
		}
	}
	return flatten(t, &headExtras{}, out)
}

// putList returns a head list to the pool (the stream copied it into the ring; nothing keeps it).
func putList(lp *[]string, list []string) {
	if cap(list) > 256 {
		return // an unusually large head: let it go
	}
	for i := range list {
		list[i] = ""
	}
	*lp = list[:0]
	listPool.Put(lp)
}

// flatten appends the header map, changed as x says, to out as a flat list: canonical names in sorted order
// (deterministic output), values trimmed.
func flatten(h http.Header, x *headExtras, out []string) []string {
	n := len(h) + 2
	var keys []string
	if n <= 16 {
		var keyArr [16]string // on the stack: sorted with an insertion sort below, which does not keep it
		keys = keyArr[:0]
	} else {
		keys = make([]string, 0, n)
	}
	for k := range h {
		switch {
		case k == "Content-Length" && (x.dropLength || x.contentLength != ""):
			continue
		case k == "Transfer-Encoding" && x.dropTE:
			continue
		case x.dropTrailers && strings.HasPrefix(k, http.TrailerPrefix):
			continue
		}
		keys = append(keys, k)
	}
	if x.contentType != "" {
		keys = append(keys, "Content-Type")
	}
	if x.contentLength != "" {
		keys = append(keys, "Content-Length")
	}
	sortKeys(keys)
	for _, k := range keys {
		switch {
		case k == "Content-Type" && x.contentType != "":
			out = append(out, k, x.contentType)
			continue
		case k == "Content-Length" && x.contentLength != "":
			out = append(out, k, x.contentLength)
			continue
		}
		for _, v := range h[k] {
			out = append(out, k, strings.TrimSpace(v))
		}
	}
	return out
}

// sortKeys sorts header names: an insertion sort for the usual handful (no allocation, unlike sort.Strings, whose
// interface conversion would move the caller's array to the heap), a merge of sorted halves above that.
func sortKeys(keys []string) {
	if len(keys) > 16 {
		mid := len(keys) / 2
		sortKeys(keys[:mid])
		sortKeys(keys[mid:])
		merged := make([]string, 0, len(keys))
		i, j := 0, mid
		for i < mid && j < len(keys) {
			if keys[j] < keys[i] {
				merged = append(merged, keys[j])
				j++
			} else {
				merged = append(merged, keys[i])
				i++
			}
		}
		merged = append(merged, keys[i:mid]...)
		merged = append(merged, keys[j:]...)
		copy(keys, merged)
		return
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
}

// netHTTPReason is the reason phrase net/http writes for a status ("status code N" for one it has no text for), and
// whether it differs from node:http's, which wardend writes when told nothing: those are sent over the channel.
func netHTTPReason(code int) (string, bool) {
	text := http.StatusText(code)
	switch {
	case text == "":
		return "status code " + strconv.Itoa(code), true
	case code == 413, code == 414, code == 416, code == 418:
		return text, true
	}
	return text, false
}
