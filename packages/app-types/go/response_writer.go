package warden

import (
	"bufio"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	"warden.dev/warden/shm"
)

// Pools: a response costs no large allocation (net/http pools the same things).
var (
	bufioPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, bufferBytes) }}
	headPool  = sync.Pool{New: func() any { b := make([]byte, 0, bufferBytes); return &b }}
	copyPool  = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
)

// bufferBytes is how much body the writer holds before committing the head, as net/http's chunking buffer: a
// handler that writes less than this and returns gets a Content-Length instead of a streamed body.
const bufferBytes = 4096

// responseStream is the part of *shm.Stream the writer uses (an interface so tests can record the calls).
type responseStream interface {
	WriteHeader(status int, headers []string) error
	Write(p []byte) (int, error)
	Close() error
}

var _ responseStream = (*shm.Stream)(nil)

// responseWriter is the http.ResponseWriter over a stream. It implements http.Flusher.
type responseWriter struct {
	s           responseStream
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
	noBody      bool // status or method forbids a body
}

func newResponseWriter(s responseStream, r *http.Request) *responseWriter {
	return &responseWriter{s: s, req: r, header: make(http.Header)}
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
	if w.wroteHeader {
		logger.Printf("warden: superfluous WriteHeader(%d) for %s %s", code, w.req.Method, w.req.RequestURI)
		return
	}
	if code >= 100 && code < 200 {
		return
	}
	w.wroteHeader = true
	w.status = code
	w.noBody = !bodyAllowed(code) || w.req.Method == http.MethodHead
}

func (w *responseWriter) Write(p []byte) (int, error) {
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

// wholeResponder is implemented by *shm.Stream: head, body and end in one go (fewer frames).
type wholeResponder interface {
	WriteResponse(status int, headers []string, body []byte) error
}

// commit sends the head; final = the handler returned (so the whole body is in w.buf).
func (w *responseWriter) commit(final bool) error {
	if w.committed {
		return w.err
	}
	w.committed = true
	w.completeHeader(final)
	if err := w.s.WriteHeader(w.status, flatten(w.header)); err != nil {
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

// completeHeader adds what net/http would before sending the head: a sniffed Content-Type, the Content-Length of
// a body that is complete in the buffer; drops body headers when the status allows no body.
func (w *responseWriter) completeHeader(final bool) {
	h := w.header
	if !bodyAllowed(w.status) {
		if w.status != http.StatusNotModified {
			h.Del("Content-Length")
		}
		h.Del("Transfer-Encoding")
	} else {
		if h.Get("Content-Type") == "" && len(w.buf) > 0 && h.Get("Transfer-Encoding") == "" {
			if _, haveType := h["Content-Type"]; !haveType {
				h.Set("Content-Type", http.DetectContentType(w.buf))
			}
		}
		if final && h.Get("Content-Length") == "" && h.Get("Transfer-Encoding") == "" {
			if w.req.Method != http.MethodHead || w.written > 0 {
				h.Set("Content-Length", strconv.FormatInt(w.written, 10))
			}
		}
	}
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
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if ws, ok := w.s.(wholeResponder); ok && !w.committed {
		// The whole body is in w.buf: head, body and end go out together.
		w.committed = true
		w.completeHeader(true)
		body := w.buf
		if w.noBody {
			body = nil
		}
		w.err = ws.WriteResponse(w.status, flatten(w.header), body)
		w.buf = nil
		return
	}
	if w.commit(true) != nil {
		return
	}
	if err := w.bw.Flush(); err != nil {
		return
	}
	w.s.Close()
}

// flatten turns the header map into a flat list with canonical names in sorted order (deterministic output).
func flatten(h http.Header) []string {
	keys := make([]string, 0, len(h))
	n := 0
	for k, v := range h {
		keys = append(keys, k)
		n += len(v)
	}
	sort.Strings(keys)
	out := make([]string, 0, 2*n)
	for _, k := range keys {
		for _, v := range h[k] {
			out = append(out, k, strings.TrimSpace(v))
		}
	}
	return out
}
