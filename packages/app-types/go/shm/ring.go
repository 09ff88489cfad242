package shm

import (
	"sync/atomic"
	"unsafe"
)

// Counters are free-running uint32 byte counts; position = counter & (size-1). Each side owns one counter and only
// reads the other's. Counters and flags are accessed with sync/atomic (sequentially consistent), frame bytes with
// plain accesses: the producer writes the frame, then stores tail; the consumer loads tail, then reads the frame.
// The sleep handshake is Dekker-style (store own flag, then load the other counter), see PROTOCOL.md.

func u32at(mem []byte, off int) *uint32 { return (*uint32)(unsafe.Pointer(&mem[off])) }

type ring struct {
	mem      []byte // the whole mapping
	data     []byte // this ring's bytes
	size     uint32
	mask     uint32
	tail     *uint32
	head     *uint32
	sleeping *uint32
	waiting  *uint32
}

func newRing(mem []byte, ctl int, base int, size uint32) ring {
	return ring{
		mem: mem, data: mem[base : base+int(size)], size: size, mask: size - 1,
		tail: u32at(mem, ctl+cTail), head: u32at(mem, ctl+cHead),
		sleeping: u32at(mem, ctl+cConsumerSleeping), waiting: u32at(mem, ctl+cProducerWaiting),
	}
}

// ringWriter is the producer half (ring 1 on the app side). Not safe for concurrent use: Channel.wmu guards it.
type ringWriter struct {
	ring
	myTail   uint32
	lastHead uint32
}

func (w *ringWriter) free() (uint32, error) {
	head := atomic.LoadUint32(w.head)
	if head-w.lastHead > w.myTail-w.lastHead {
		return 0, protoErr("ring head moved to %d, outside [%d, %d]", head, w.lastHead, w.myTail)
	}
	w.lastHead = head
	return w.size - (w.myTail - head), nil
}

// rewindPosition is where a writer that finds its ring empty goes back to position 0 (with a PAD to the end): an
// eighth of the ring. A channel whose traffic is small then keeps writing over its first pages instead of walking
// through the whole ring, so only those stay resident.
func rewindPosition(size uint32) uint32 { return size / 8 }

// reserve returns the slice for a frame of n bytes (unpadded) or nil when the ring is full. It writes a PAD frame
// first when the frame does not fit before the end of the ring, or when the ring is empty and its position is past
// rewindPosition (the frame then goes to position 0).
func (w *ringWriter) reserve(n uint32) ([]byte, error) {
	need := align8(n)
	pos := w.myTail & w.mask
	toEnd := w.size - pos
	free, err := w.free()
	if err != nil {
		return nil, err
	}
	if need <= toEnd && (free < w.size || pos < rewindPosition(w.size) || need > pos) {
		if need > free {
			return nil, nil
		}
		return w.data[pos : pos+n], nil
	}
	if toEnd+need > free {
		return nil, nil
	}
	le.PutUint32(w.data[pos:], toEnd)
	w.data[pos+4] = typePad
	w.myTail += toEnd
	return w.data[0:n], nil
}

// commit publishes a frame of n bytes; reports whether the consumer sleeps and must be woken.
func (w *ringWriter) commit(n uint32) bool {
	w.advance(n)
	return w.publish()
}

// advance moves past a frame of n bytes without publishing it yet (several frames, one publish).
func (w *ringWriter) advance(n uint32) { w.myTail += align8(n) }

// publish stores the tail; reports whether the consumer sleeps and must be woken.
func (w *ringWriter) publish() bool {
	atomic.StoreUint32(w.tail, w.myTail)
	return atomic.CompareAndSwapUint32(w.sleeping, 1, 0)
}

// ringReader is the consumer half (ring 0 on the app side), used by the reader goroutine only.
type ringReader struct {
	ring
	myHead   uint32
	lastTail uint32
	maxFrame uint32
}

func (r *ringReader) available() (uint32, error) {
	tail := atomic.LoadUint32(r.tail)
	used := tail - r.myHead
	if used > r.size {
		return 0, protoErr("ring tail %d is more than a ring ahead of head %d", tail, r.myHead)
	}
	if tail-r.lastTail > used {
		return 0, protoErr("ring tail moved backwards from %d to %d", r.lastTail, tail)
	}
	r.lastTail = tail
	return used, nil
}

// next returns the next frame (PAD skipped, exactly its unpadded length) or nil when empty.
func (r *ringReader) next() ([]byte, error) {
	used, err := r.available()
	if err != nil {
		return nil, err
	}
	for used > 0 {
		pos := r.myHead & r.mask
		toEnd := r.size - pos
		if used < 8 {
			return nil, protoErr("ring holds %d bytes, less than a frame", used)
		}
		n := le.Uint32(r.data[pos:])
		if r.data[pos+4] == typePad {
			if n != toEnd || n > used {
				return nil, protoErr("bad PAD frame of %d bytes", n)
			}
			r.myHead += n
			used -= n
			continue
		}
		if n < frameHeader || n > r.maxFrame {
			return nil, protoErr("frame length %d out of range", n)
		}
		if align8(n) > toEnd || align8(n) > used {
			return nil, protoErr("frame of %d bytes crosses the ring end or the published tail", n)
		}
		return r.data[pos : pos+n], nil
	}
	return nil, nil
}

func (r *ringReader) release(n uint32) { r.myHead += align8(n) }

// publish stores head; reports whether the producer waits for space and must be woken.
func (r *ringReader) publish() bool {
	atomic.StoreUint32(r.head, r.myHead)
	return atomic.CompareAndSwapUint32(r.waiting, 1, 0)
}
