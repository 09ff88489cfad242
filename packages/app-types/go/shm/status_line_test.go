package shm

import "testing"

func TestStatusLineExtensionsGoOnlyToARouterThatReadsThem(t *testing.T) {
	old := ReasonPhrase
	defer func() { ReasonPhrase = old }()
	ReasonPhrase = func(status int) (string, bool) { return "status code 299", status == 299 }
	s := &Stream{c: &Channel{}, head: Head{Proto: "HTTP/1.0"}}
	if l := s.statusLine(299); l != (statusLine{}) {
		t.Fatalf("router without featureResponseLine got %+v", l)
	}
	s.c.features = featureResponseLine
	if l := s.statusLine(299); l != (statusLine{Reason: "status code 299", HasReason: true, HTTP10: true}) {
		t.Fatalf("HTTP/1.0 request, status 299: %+v", l)
	}
	s.head.Proto = "HTTP/1.1"
	if l := s.statusLine(200); l.HTTP10 || l.HasReason {
		t.Fatalf("HTTP/1.1 request, status 200: %+v", l)
	}
}
