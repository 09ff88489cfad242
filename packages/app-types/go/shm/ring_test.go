package shm

import "testing"

// testRingPair is one ring of testRing bytes in plain memory, with both of its ends.
type testRingPair struct {
	t *testing.T
	w ringWriter
	r ringReader
}

func newTestRingPair(t *testing.T) *testRingPair {
	mem := make([]byte, headerBytes+testRing)
	return &testRingPair{
		t: t,
		w: ringWriter{ring: newRing(mem, ctlRing0, headerBytes, testRing)},
		r: ringReader{ring: newRing(mem, ctlRing0, headerBytes, testRing), maxFrame: testRing / 4},
	}
}

// write writes and publishes one DATA frame of n bytes (header included); false when the ring is full.
func (p *testRingPair) write(n uint32) bool {
	p.t.Helper()
	b, err := p.w.reserve(n)
	if err != nil {
		p.t.Fatal(err)
	}
	if b == nil {
		return false
	}
	putHeader(b, n, typeData, 0, 1, 0)
	p.w.commit(n)
	return true
}

// read reads, releases and publishes one frame; its length (0 when the ring is empty).
func (p *testRingPair) read() uint32 {
	p.t.Helper()
	f, err := p.r.next()
	if err != nil {
		p.t.Fatal(err)
	}
	if f == nil {
		return 0
	}
	n := uint32(len(f))
	p.r.release(n)
	p.r.publish()
	return n
}

func (p *testRingPair) pos() uint32 { return p.w.myTail & p.w.mask }

func TestSmallFramesReadAsTheyComeStayInTheFirstEighthOfTheRing(t *testing.T) {
	p := newTestRingPair(t)
	limit := rewindPosition(testRing)
	if limit != testRing/8 {
		t.Fatalf("rewindPosition(%d) = %d", testRing, limit)
	}
	var furthest uint32
	for i := 0; i < 5000; i++ {
		if !p.write(frameHeader + 100) {
			t.Fatal("ring full")
		}
		if p.pos() > furthest {
			furthest = p.pos()
		}
		if n := p.read(); n != frameHeader+100 {
			t.Fatalf("read a frame of %d bytes", n)
		}
	}
	if furthest > limit+120 {
		t.Fatalf("the writer went up to position %d (limit %d)", furthest, limit)
	}
}

func TestNoRewindWhileFramesWaitOrForAFrameLargerThanThePosition(t *testing.T) {
	p := newTestRingPair(t)
	limit := rewindPosition(testRing)
	for p.pos() < limit {
		p.write(1024)
		p.read()
	}
	at := p.pos()
	// Larger than the space before the position: it follows, no PAD.
	if !p.write(12*1024) || p.pos() != at+12*1024 {
		t.Fatalf("a 12 KiB frame at %d went to %d", at, p.pos())
	}
	if n := p.read(); n != 12*1024 {
		t.Fatalf("read %d", n)
	}
	// Empty past the limit: the next frame goes to 0, the one after it follows while the first waits.
	if !p.write(1000) || p.pos() != 1000 {
		t.Fatalf("the frame after an empty ring went to %d, not 0", p.pos()-1000)
	}
	if !p.write(2000) || p.pos() != 3000 {
		t.Fatalf("the second frame went to %d", p.pos()-2000)
	}
	if a, b := p.read(), p.read(); a != 1000 || b != 2000 {
		t.Fatalf("read %d, %d", a, b)
	}
	if free, _ := p.w.free(); free != testRing {
		t.Fatalf("%d bytes free after reading everything", free)
	}
}
