package warden

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// recorder is a responseStream that records what the router would receive.
type recorder struct {
	status  int
	headers []string
	heads   int
	body    bytes.Buffer
	writes  int
	closed  bool
	trailer []string   // what CloseWithTrailers got
	infos   [][]string // what Info got: status first, then the fields
}

func (r *recorder) WriteHeader(status int, headers []string) error {
	r.heads++
	r.status = status
	r.headers = append([]string(nil), headers...) // the writer reuses the list once the call returns
	return nil
}
func (r *recorder) Write(p []byte) (int, error) { r.writes++; return r.body.Write(p) }
func (r *recorder) Close() error                { r.closed = true; return nil }
func (r *recorder) CloseWithTrailers(t []string) error {
	r.trailer = append([]string(nil), t...)
	return r.Close()
}
func (r *recorder) Info(status int, h []string) error {
	r.infos = append(r.infos, append([]string{fmt.Sprint(status)}, h...))
	return nil
}

func (r *recorder) header(name string) (string, bool) {
	for i := 0; i+1 < len(r.headers); i += 2 {
		if r.headers[i] == name {
			return r.headers[i+1], true
		}
	}
	return "", false
}

// newResponseWriter is a writer over a recording stream (no WriteResponse: the head, body and end go separately).
func newResponseWriter(s responseStream, r *http.Request) *responseWriter {
	return &responseWriter{s: s, req: r, header: make(http.Header)}
}

func run(method string, h http.HandlerFunc) *recorder {
	rec := &recorder{}
	req := httptest.NewRequest(method, "/", nil)
	w := newResponseWriter(rec, req)
	h(w, req)
	w.finish()
	return rec
}

func TestSmallBodyGetsContentLengthAndSniffedType(t *testing.T) {
	rec := run("GET", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html><body>hi</body></html>") })
	if rec.status != 200 || rec.heads != 1 || !rec.closed {
		t.Fatalf("status %d heads %d closed %v", rec.status, rec.heads, rec.closed)
	}
	if ct, _ := rec.header("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cl, _ := rec.header("Content-Length"); cl != "28" {
		t.Errorf("Content-Length %q", cl)
	}
	if rec.body.String() != "<html><body>hi</body></html>" {
		t.Errorf("body %q", rec.body.String())
	}
}

func TestEmptyHandlerGives200WithZeroLengthAndNoType(t *testing.T) {
	rec := run("GET", func(w http.ResponseWriter, r *http.Request) {})
	if rec.status != 200 {
		t.Fatalf("status %d", rec.status)
	}
	if cl, _ := rec.header("Content-Length"); cl != "0" {
		t.Errorf("Content-Length %q", cl)
	}
	if _, ok := rec.header("Content-Type"); ok {
		t.Errorf("unexpected Content-Type")
	}
}

func TestExplicitContentTypeIsKept(t *testing.T) {
	rec := run("GET", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-thing")
		w.Write([]byte("<html>"))
	})
	if ct, _ := rec.header("Content-Type"); ct != "application/x-thing" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestLargeBodyStreamsWithoutContentLength(t *testing.T) {
	big := strings.Repeat("x", 100000)
	rec := run("GET", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, big) })
	if _, ok := rec.header("Content-Length"); ok {
		t.Errorf("Content-Length set on a streamed body")
	}
	if rec.body.String() != big {
		t.Errorf("body of %d bytes, want %d", rec.body.Len(), len(big))
	}
}

func TestHandlerContentLengthIsKept(t *testing.T) {
	big := strings.Repeat("y", 10000)
	rec := run("GET", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(big)))
		io.WriteString(w, big)
	})
	if cl, _ := rec.header("Content-Length"); cl != "10000" {
		t.Errorf("Content-Length %q", cl)
	}
}

func TestFlushSendsHeadAndDataBeforeHandlerReturns(t *testing.T) {
	rec := &recorder{}
	req := httptest.NewRequest("GET", "/", nil)
	w := newResponseWriter(rec, req)
	io.WriteString(w, "first")
	w.Flush()
	if rec.heads != 1 || rec.body.String() != "first" {
		t.Fatalf("after Flush: heads %d body %q", rec.heads, rec.body.String())
	}
	if _, ok := rec.header("Content-Length"); ok {
		t.Errorf("Content-Length set although the body was flushed")
	}
	io.WriteString(w, " second")
	w.finish()
	if rec.body.String() != "first second" || !rec.closed {
		t.Errorf("body %q closed %v", rec.body.String(), rec.closed)
	}
	var _ http.Flusher = w
}

func TestNoBodyStatuses(t *testing.T) {
	for _, code := range []int{204, 304} {
		var werr error
		rec := run("GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(code)
			_, werr = w.Write([]byte("nope"))
		})
		if rec.status != code || werr != http.ErrBodyNotAllowed || rec.body.Len() != 0 {
			t.Errorf("%d: status %d err %v body %q", code, rec.status, werr, rec.body.String())
		}
		if _, ok := rec.header("Content-Length"); ok && code == 204 {
			t.Errorf("204 with Content-Length")
		}
	}
}

func TestInformationalStatusIsNotFinal(t *testing.T) {
	rec := run("GET", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(103)
		w.WriteHeader(201)
		w.WriteHeader(500) // superfluous: ignored
		io.WriteString(w, "made")
	})
	if rec.status != 201 || rec.body.String() != "made" || rec.heads != 1 {
		t.Errorf("status %d body %q heads %d", rec.status, rec.body.String(), rec.heads)
	}
}

func TestInvalidStatusPanicsLikeNetHTTP(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("no panic for WriteHeader(42)")
		}
	}()
	run("GET", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(42) })
}

func TestHeadRequestGetsLengthButNoBody(t *testing.T) {
	rec := run("HEAD", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "twelve bytes") })
	if rec.body.Len() != 0 {
		t.Errorf("HEAD body %q", rec.body.String())
	}
	if cl, _ := rec.header("Content-Length"); cl != "12" {
		t.Errorf("Content-Length %q", cl)
	}
}

func TestRepeatedHeadersKeepOrderAndAreSortedByName(t *testing.T) {
	rec := run("GET", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("X-B", "1")
		w.Header().Add("X-A", "2")
		w.Header().Add("X-B", "3")
		w.WriteHeader(200)
	})
	got := strings.Join(rec.headers, ",")
	want := "Content-Length,0,X-A,2,X-B,1,X-B,3"
	if got != want {
		t.Errorf("headers %s, want %s", got, want)
	}
}

func TestReasonPhraseIsSentWhereNetHTTPDiffersFromNode(t *testing.T) {
	for _, c := range []struct {
		code int
		text string
		send bool
	}{{200, "OK", false}, {404, "Not Found", false}, {299, "status code 299", true}, {413, "Request Entity Too Large", true}} {
		if text, send := netHTTPReason(c.code); text != c.text || send != c.send {
			t.Errorf("%d: got %q %v, want %q %v", c.code, text, send, c.text, c.send)
		}
	}
}

func TestTrailersDeclaredAndPrefixedGoAfterTheBodyAsNetHTTPSendsThem(t *testing.T) {
	rec := run("GET", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum, Content-Length")
		io.WriteString(w, "body")
		w.Header().Set("X-Sum", "42")
		w.Header().Set(http.TrailerPrefix+"x-late", "yes")
	})
	if _, ok := rec.header("Content-Length"); ok {
		t.Fatalf("a response with trailers must not get a Content-Length: %v", rec.headers)
	}
	if v, _ := rec.header("Trailer"); v != "X-Sum, Content-Length" {
		t.Fatalf("Trailer header %q", v)
	}
	for _, h := range rec.headers {
		if strings.HasPrefix(h, http.TrailerPrefix) {
			t.Fatalf("a TrailerPrefix key went into the head: %v", rec.headers)
		}
	}
	if got := fmt.Sprint(rec.trailer); got != "[X-Sum 42 x-late yes]" {
		t.Fatalf("trailers %s", got)
	}
}

func TestNoTrailersMeansPlainClose(t *testing.T) {
	rec := run("GET", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "x") })
	if rec.trailer != nil || !rec.closed {
		t.Fatalf("trailers %v closed %v", rec.trailer, rec.closed)
	}
}

func TestWriteHeader103SendsTheHeadersSetSoFarThenTheFinalStatus(t *testing.T) {
	rec := run("GET", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.Header().Set("Content-Length", "1")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusContinue) // wardend answers Expect itself: not sent
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "x")
	})
	if got := fmt.Sprint(rec.infos); got != "[[103 Link </a.css>; rel=preload]]" {
		t.Fatalf("1xx heads %s", got)
	}
	if rec.status != 200 {
		t.Fatalf("status %d", rec.status)
	}
}
