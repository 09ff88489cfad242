package shm

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// The vectors are shared with the TypeScript codec (packages/shm-transport/test/codec.test.ts).
var vectorDir = filepath.Join("..", "..", "..", "shm-transport", "test", "vectors")

type jsonHead struct {
	Method        string   `json:"method"`
	Target        string   `json:"target"`
	HTTPVersion   string   `json:"httpVersion"`
	Headers       []string `json:"headers"`
	RemoteAddress string   `json:"remoteAddress"`
	RemotePort    uint16   `json:"remotePort"`
	LocalAddress  string   `json:"localAddress"`
	LocalPort     uint16   `json:"localPort"`
	TLS           bool     `json:"tls"`
	Upgrade       bool     `json:"upgrade"`
	ContentLength int64    `json:"contentLength"`
}

type jsonFrame struct {
	Type    string    `json:"type"`
	Stream  uint32    `json:"stream"`
	Head    *jsonHead `json:"head"`
	Status  uint32    `json:"status"`
	Headers []string  `json:"headers"`
	Data    string    `json:"data"`
	Reason  uint32    `json:"reason"`
	Phrase  *string   `json:"reasonPhrase"`
	HTTP10  bool      `json:"http10"`
	Credit  uint32    `json:"credit"`
	Caps    uint32    `json:"capabilities"`
	End     bool      `json:"end"`
	Conn    uint32    `json:"connection"`
}

// latin1 turns a JSON (UTF-8) string into the one-byte-per-character string on the wire.
func latin1(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		b = append(b, byte(r))
	}
	return string(b)
}

func latin1All(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = latin1(s)
	}
	return out
}

func (j *jsonFrame) toFrame(t *testing.T) *frame {
	f := &frame{Stream: j.Stream}
	switch j.Type {
	case "REQUEST":
		h := j.Head
		f.Type = typeRequest
		f.Request = &rawRequest{
			Method: h.Method, Target: latin1(h.Target), Version: h.HTTPVersion, Headers: latin1All(h.Headers),
			RemoteAddress: h.RemoteAddress, RemotePort: h.RemotePort, LocalAddress: h.LocalAddress,
			LocalPort: h.LocalPort, TLS: h.TLS, Upgrade: h.Upgrade, ContentLength: h.ContentLength, Connection: j.Conn,
		}
		f.Arg = j.Conn
	case "RESPONSE":
		f.Type, f.Arg, f.Headers = typeResponse, j.Status, latin1All(j.Headers)
		f.Line.HTTP10 = j.HTTP10
		if j.Phrase != nil {
			f.Line.Reason, f.Line.HasReason = latin1(*j.Phrase), true
		}
	case "DATA":
		f.Type = typeData
		d, err := hex.DecodeString(j.Data)
		if err != nil {
			t.Fatal(err)
		}
		f.Data = d
		if j.End {
			f.Flags = flagEnd
		}
	case "END":
		f.Type = typeEnd
	case "ABORT":
		f.Type, f.Arg = typeAbort, j.Reason
	case "WINDOW":
		f.Type, f.Arg = typeWindow, j.Credit
	case "READY":
		f.Type, f.Arg = typeReady, j.Caps
	case "CONN_CLOSED":
		f.Type, f.Arg = typeConnClosed, j.Conn
	case "TRAILERS":
		f.Type, f.Headers = typeTrailers, latin1All(j.Headers)
	case "INFO":
		f.Type, f.Arg, f.Headers = typeInfo, j.Status, latin1All(j.Headers)
	case "SHUTDOWN":
		f.Type = typeShutdown
	default:
		t.Fatalf("unknown vector type %s", j.Type)
	}
	if f.Request != nil && len(f.Request.Headers) == 0 {
		f.Request.Headers = []string{}
	}
	if f.Type == typeResponse && len(f.Headers) == 0 {
		f.Headers = []string{}
	}
	return f
}

func TestCodecAgainstSharedVectors(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(vectorDir, "vectors.json"))
	if err != nil {
		t.Fatalf("shared test vectors not found (run from the repository checkout): %v", err)
	}
	var vectors []struct {
		File  string    `json:"file"`
		Frame jsonFrame `json:"frame"`
	}
	if err := json.Unmarshal(raw, &vectors); err != nil {
		t.Fatal(err)
	}
	if len(vectors) < 10 {
		t.Fatalf("only %d vectors", len(vectors))
	}
	for _, v := range vectors {
		bin, err := os.ReadFile(filepath.Join(vectorDir, v.File))
		if err != nil {
			t.Fatal(err)
		}
		want := v.Frame.toFrame(t)
		got, err := decodeFrame(bin)
		if err != nil {
			t.Errorf("%s: decode: %v", v.File, err)
			continue
		}
		if got.Type == typeData && len(got.Data) == 0 {
			got.Data = want.Data
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decoded %+v, want %+v", v.File, got, want)
		}
		if enc := encodeFrame(want); !bytes.Equal(enc, bin) {
			t.Errorf("%s: encoded\n%x\nwant\n%x", v.File, enc, bin)
		}
	}
}

func TestDecodeRejectsTruncatedFrames(t *testing.T) {
	for _, file := range []string{"request-post-tls-chunked.bin", "response-200.bin", "trailers.bin", "info-103.bin"} {
		bin, err := os.ReadFile(filepath.Join(vectorDir, file))
		if err != nil {
			t.Fatal(err)
		}
		n := int(le.Uint32(bin))
		for cut := frameHeader; cut < n; cut++ {
			b := append([]byte{}, bin[:cut]...)
			le.PutUint32(b, uint32(cut))
			if _, err := decodeFrame(b); err == nil {
				t.Errorf("%s cut at %d: no error", file, cut)
			}
		}
	}
}
