// Package shmtest is the router end of the shared-memory channel (packages/shm-transport/PROTOCOL.md) for this
// module's tests and benchmarks: it creates the channel memory and the doorbell, writes frames into ring 0 and reads
// the app's frames from ring 1, in the same process as the app end. It does not import package shm, so that shm's
// own tests can use it too.
package shmtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

var le = binary.LittleEndian

// Frame types and flags (PROTOCOL.md §3).
const (
	TypePad      = 0
	TypeRequest  = 1
	TypeResponse = 2
	TypeData     = 3
	TypeEnd      = 4
	TypeAbort    = 5
	TypeWindow   = 6
	TypeReady    = 7
	TypeShutdown = 8
	TypeTrailers = 10
	TypeInfo     = 11
	FlagEnd      = 1
)

// Frame is a frame from the app. Payload points into the ring: it is valid until the next call of Next.
type Frame struct {
	Type, Flags uint8
	Stream, Arg uint32
	Payload     []byte
}

// Router is the router end of one channel. Not safe for concurrent use.
type Router struct {
	mem       []byte
	ringBytes uint32
	// ring 0: we produce
	tail0, head0, sleeping0, waiting0 *uint32
	myTail                            uint32
	// ring 1: we consume
	tail1, head1, sleeping1, waiting1 *uint32
	myHead, pending                   uint32
	bell                              *os.File
	appMem, appBell                   int
	rbuf                              [64]byte
	// Connection is the connection id the next REQUEST frames carry (their arg; 0 = none).
	Connection uint32
}

func u32at(mem []byte, off int) *uint32 { return (*uint32)(unsafe.Pointer(&mem[off])) }

// New creates a channel with rings of ringBytes (a power of two ≥ 65536), max frame ringBytes/4 and stream window
// ringBytes/4. AppFds gives the fds to pass to shm.Open.
func New(dir string, ringBytes uint32) (*Router, error) {
	f, err := os.CreateTemp(dir, "chan")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := 4096 + 2*int(ringBytes)
	if err := f.Truncate(int64(size)); err != nil {
		return nil, err
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	for i, v := range []uint32{0x4e445257, 1, 4096, ringBytes, ringBytes / 4, ringBytes / 4} {
		le.PutUint32(mem[4*i:], v)
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		syscall.Munmap(mem)
		return nil, err
	}
	memFd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		syscall.Munmap(mem)
		syscall.Close(fds[0])
		syscall.Close(fds[1])
		return nil, err
	}
	syscall.SetNonblock(fds[0], true)
	r := &Router{
		mem: mem, ringBytes: ringBytes, bell: os.NewFile(uintptr(fds[0]), "router-bell"), appMem: memFd, appBell: fds[1],
		tail0: u32at(mem, 64), head0: u32at(mem, 64+64), sleeping0: u32at(mem, 64+128), waiting0: u32at(mem, 64+192),
		tail1: u32at(mem, 320), head1: u32at(mem, 320+64), sleeping1: u32at(mem, 320+128), waiting1: u32at(mem, 320+192),
	}
	return r, nil
}

// AppFds are the memfd and doorbell fds of the app end (for shm.Open, which takes them over).
func (r *Router) AppFds() (memFd, bellFd int) { return r.appMem, r.appBell }

// SetFeatures sets the header's features word (PROTOCOL.md §2): call it before the app end opens the channel.
func (r *Router) SetFeatures(f uint32) { le.PutUint32(r.mem[24:], f) }

// Close closes the router's doorbell (the app sees the router gone); Unmap releases the memory.
func (r *Router) Close() {
	r.bell.Close()
}

// Unmap releases the mapping; call after the app end is closed.
func (r *Router) Unmap() { syscall.Munmap(r.mem) }

func align8(n uint32) uint32 { return (n + 7) &^ 7 }

// reserve returns room for a frame of n bytes in ring 0 (writing a PAD before it when needed), waiting while the
// ring is full.
func (r *Router) reserve(n uint32) ([]byte, error) {
	need := align8(n)
	deadline := time.Now().Add(5 * time.Second)
	for {
		pos := r.myTail & (r.ringBytes - 1)
		toEnd := r.ringBytes - pos
		free := r.ringBytes - (r.myTail - atomic.LoadUint32(r.head0))
		data := r.mem[4096 : 4096+r.ringBytes]
		if need <= toEnd && need <= free {
			return data[pos : pos+n], nil
		}
		if need > toEnd && toEnd+need <= free {
			le.PutUint32(data[pos:], toEnd)
			data[pos+4] = TypePad
			r.myTail += toEnd
			return data[0:n], nil
		}
		// Full: publish what we have, ask the app to ring when it frees space, wait.
		r.Flush()
		atomic.StoreUint32(r.waiting0, 1)
		if r.ringBytes-(r.myTail-atomic.LoadUint32(r.head0)) >= need+toEnd {
			atomic.StoreUint32(r.waiting0, 0)
			continue
		}
		if time.Now().After(deadline) {
			return nil, errors.New("shmtest: ring 0 stays full")
		}
		r.bell.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		r.bell.Read(r.rbuf[:])
	}
}

func putHeader(b []byte, length uint32, typ, flags uint8, stream, arg uint32) {
	le.PutUint32(b[0:], length)
	b[4], b[5], b[6], b[7] = typ, flags, 0, 0
	le.PutUint32(b[8:], stream)
	le.PutUint32(b[12:], arg)
}

func putString(b []byte, p int, s string) int {
	le.PutUint32(b[p:], uint32(len(s)))
	return p + 4 + copy(b[p+4:], s)
}

// Request queues a REQUEST frame (published by Flush). contentLength -1 = unknown. headers: name, value, ...
func (r *Router) Request(stream uint32, method, target string, contentLength int64, headers ...string) error {
	strs := [...]string{method, target, "1.1", "10.0.0.1", "127.0.0.1"}
	n := 16 + 16
	for _, s := range strs {
		n += 4 + len(s)
	}
	for _, s := range headers {
		n += 4 + len(s)
	}
	b, err := r.reserve(uint32(n))
	if err != nil {
		return err
	}
	putHeader(b, uint32(n), TypeRequest, 0, stream, r.Connection)
	le.PutUint64(b[16:], uint64(contentLength))
	le.PutUint16(b[24:], 5555)
	le.PutUint16(b[26:], 80)
	le.PutUint32(b[28:], uint32(len(headers)/2))
	p := 32
	for _, s := range strs {
		p = putString(b, p, s)
	}
	for _, s := range headers {
		p = putString(b, p, s)
	}
	r.myTail += align8(uint32(n))
	return nil
}

// Data queues a DATA frame (with the END flag when end).
func (r *Router) Data(stream uint32, data []byte, end bool) error {
	n := uint32(16 + len(data))
	b, err := r.reserve(n)
	if err != nil {
		return err
	}
	var flags uint8
	if end {
		flags = FlagEnd
	}
	putHeader(b, n, TypeData, flags, stream, 0)
	copy(b[16:], data)
	r.myTail += align8(n)
	return nil
}

// Simple queues a frame without payload (END, ABORT, WINDOW, SHUTDOWN).
func (r *Router) Simple(typ uint8, stream, arg uint32) error {
	b, err := r.reserve(16)
	if err != nil {
		return err
	}
	putHeader(b, 16, typ, 0, stream, arg)
	r.myTail += 16
	return nil
}

// Flush publishes the queued frames and rings the doorbell if the app sleeps.
func (r *Router) Flush() {
	atomic.StoreUint32(r.tail0, r.myTail)
	if atomic.CompareAndSwapUint32(r.sleeping0, 1, 0) {
		r.bell.Write([]byte{1})
	}
}

// Next returns the next frame from the app, waiting up to timeout (an error then). The frame's payload is valid until
// the next call.
func (r *Router) Next(timeout time.Duration) (Frame, error) {
	if r.pending > 0 {
		r.myHead += r.pending
		r.pending = 0
		atomic.StoreUint32(r.head1, r.myHead)
		if atomic.CompareAndSwapUint32(r.waiting1, 1, 0) {
			r.bell.Write([]byte{1})
		}
	}
	var deadline time.Time
	data := r.mem[4096+r.ringBytes : 4096+2*r.ringBytes]
	for {
		used := atomic.LoadUint32(r.tail1) - r.myHead
		if used > 0 {
			pos := r.myHead & (r.ringBytes - 1)
			n := le.Uint32(data[pos:])
			if data[pos+4] == TypePad {
				r.myHead += n
				continue
			}
			if n < 16 || align8(n) > used {
				return Frame{}, fmt.Errorf("shmtest: bad frame length %d", n)
			}
			b := data[pos : pos+n]
			f := Frame{Type: b[4], Flags: b[5], Stream: le.Uint32(b[8:]), Arg: le.Uint32(b[12:]), Payload: b[16:]}
			r.pending = align8(n)
			return f, nil
		}
		atomic.StoreUint32(r.sleeping1, 1)
		if atomic.LoadUint32(r.tail1) != r.myHead {
			atomic.StoreUint32(r.sleeping1, 0)
			continue
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(timeout)
		} else if time.Now().After(deadline) {
			atomic.StoreUint32(r.sleeping1, 0)
			return Frame{}, errors.New("shmtest: no frame from the app")
		}
		r.bell.SetReadDeadline(deadline)
		if _, err := r.bell.Read(r.rbuf[:]); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return Frame{}, err
		}
	}
}

// ResponseHeaders decodes the name/value list of a RESPONSE frame.
func (f *Frame) ResponseHeaders() ([]string, error) {
	if f.Type != TypeResponse || len(f.Payload) < 4 {
		return nil, errors.New("shmtest: not a RESPONSE frame")
	}
	n := int(le.Uint32(f.Payload))
	out := make([]string, 0, 2*n)
	p := 4
	for i := 0; i < 2*n; i++ {
		if p+4 > len(f.Payload) {
			return nil, errors.New("shmtest: RESPONSE truncated")
		}
		l := int(le.Uint32(f.Payload[p:]))
		if p+4+l > len(f.Payload) {
			return nil, errors.New("shmtest: RESPONSE truncated")
		}
		out = append(out, string(f.Payload[p+4:p+4+l]))
		p += 4 + l
	}
	return out, nil
}
