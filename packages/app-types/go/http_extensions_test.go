package warden

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"warden.dev/warden/internal/shmtest"
)

// frameLog reads the app's frames for stream 1 until its END, DATA with the END flag, or ABORT: "TYPE arg" each.
func frameLog(t *testing.T, s *served) []string {
	t.Helper()
	var out []string
	for {
		f, err := s.r.Next(5 * time.Second)
		if err != nil {
			t.Fatalf("after %v: %v", out, err)
		}
		if f.Stream != 1 {
			continue
		}
		switch f.Type {
		case shmtest.TypeInfo:
			out = append(out, fmt.Sprintf("INFO %d", f.Arg))
		case shmtest.TypeResponse:
			out = append(out, fmt.Sprintf("RESPONSE %d", f.Arg))
		case shmtest.TypeData:
			out = append(out, fmt.Sprintf("DATA %q", f.Payload))
			if f.Flags&shmtest.FlagEnd != 0 {
				return append(out, "END")
			}
		case shmtest.TypeTrailers:
			out = append(out, "TRAILERS")
		case shmtest.TypeEnd:
			return append(out, "END")
		case shmtest.TypeAbort:
			return append(out, fmt.Sprintf("ABORT %d", f.Arg))
		}
	}
}

func TestPanicErrAbortHandlerResetsTheClientConnection(t *testing.T) {
	s := startServe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "partial")
		panic(http.ErrAbortHandler)
	}))
	s.r.Request(1, "GET", "/", 0)
	s.r.Flush()
	if got := fmt.Sprint(frameLog(t, s)); got != "[ABORT 3]" {
		t.Fatalf("frames %s, want an ABORT with reason 3 (reset)", got)
	}
}

func TestEarlyHintsAndTrailersGoOutInProtocolOrderToARouterThatTakesThem(t *testing.T) {
	s := startServeWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Set("Trailer", "X-Sum")
		io.WriteString(w, "body")
		w.Header().Set("X-Sum", "42")
	}), 8|16) // features TRAILERS | EARLY_HINTS (PROTOCOL.md §2)
	s.r.Request(1, "GET", "/", 0)
	s.r.Flush()
	if got := fmt.Sprint(frameLog(t, s)); got != `[INFO 103 RESPONSE 200 DATA "body" TRAILERS END]` {
		t.Fatalf("frames %s", got)
	}
}

func TestAnOlderRouterGetsNeitherEarlyHintsNorTrailers(t *testing.T) {
	s := startServe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Set("Trailer", "X-Sum")
		io.WriteString(w, "body")
		w.Header().Set("X-Sum", "42")
	}))
	s.r.Request(1, "GET", "/", 0)
	s.r.Flush()
	if got := fmt.Sprint(frameLog(t, s)); got != `[RESPONSE 200 DATA "body" END]` {
		t.Fatalf("frames %s", got)
	}
}
