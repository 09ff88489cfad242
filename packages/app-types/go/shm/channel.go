// Package shm is the app end of Warden's shared-memory channel: it receives requests from wardend and sends
// responses, over two rings in a memfd inherited at fd 3 and a doorbell socket at fd 4 (see
// packages/shm-transport/PROTOCOL.md). Most programs use warden.ListenAndServe instead of this package.
package shm

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
)

// ErrNotUnderWarden is returned by FromEnv when WARDEN_CHANNEL is unset.
var ErrNotUnderWarden = errors.New("warden/shm: WARDEN_CHANNEL is not set (not running under wardend)")

// ErrAborted is returned by Stream methods after the request was aborted (client gone, or Abort called).
var ErrAborted = errors.New("warden/shm: stream aborted")

// ErrClosed is returned after the channel was closed.
var ErrClosed = errors.New("warden/shm: channel closed")

// ErrPeerGone is the channel's error when wardend closed the doorbell without asking for a shutdown.
var ErrPeerGone = errors.New("warden/shm: wardend closed the channel")

const (
	drainBudget = 512
	spinIters   = 64
	// Small DATA payloads are copied out of the ring into slabs of slabBytes (one allocation for many requests
	// instead of one each); a slab lives until the last chunk carved from it was read. Larger payloads go into pooled
	// buffers (getChunk). A stream holding unread data pins at most one slab, less than its goroutine's stack.
	slabBytes = 4096
	slabMax   = 512
	// maxParked bounds the Serve goroutines kept waiting for the next request.
	maxParked = 256
)

var bellByte = []byte{1}

// Channel is the app end of one channel. Safe for concurrent use.
type Channel struct {
	mem      []byte
	window   uint32
	maxChunk int
	features uint32     // the router's extensions (header word hFeatures)
	connBase uint64     // added to the router's connection ids: a ChannelSet's channel n has n<<32
	in       ringReader // ring 0, reader goroutine only
	out      ringWriter // ring 1, guarded by wmu
	bell     *os.File

	wmu sync.Mutex
	// Writers waiting for space in ring 1, in arrival order (guarded by wmu): only the first is woken when the router
	// frees space, and a writer that arrives while others wait goes behind them. Woken all at once, they raced for the
	// space with each other and with new writers, and who got it was luck: p99 at 256 connections of 64 KiB
	// responses was 1.5-3.5x that of the app served directly.
	wq             []*waiter
	writersWaiting int32 // len(wq), read without the lock by the reader goroutine

	smu        sync.Mutex
	acceptCond *sync.Cond
	streams    map[uint32]*Stream
	acceptQ    []*Stream
	shutdown   bool
	closed     int32 // atomic
	closeErr   error
	closeOnce  sync.Once

	// Serve mode: the reader goroutine hands new streams straight to handler goroutines (no Accept in between).
	handler  func(*Stream) // set once by Serve, under smu
	active   int32         // atomic: handlers running or about to
	draining int32         // atomic: shutdown requested or channel closed (set under smu, then acceptCond broadcast)
	pmu      sync.Mutex
	parked   []*worker // goroutines waiting for a stream, the most recently used last (its stack is warm)
	quitting bool      // Serve returned: goroutines exit instead of parking

	// reuseStreams (set before Serve, see internal/hook): the Serve handler never uses a stream after it returned, so
	// work puts finished streams into streamPool and the reader goroutine takes them from there for new requests.
	reuseStreams int32 // atomic
	streamPool   sync.Pool

	// Reader goroutine only.
	fresh      []*Stream // streams of the current drain, dispatched when it ends (with their first body bytes)
	slab       []byte
	remoteAddr addrCache
	localAddr  addrCache
}

// addrCache remembers the last host:port text built (clients keep their connection for many requests; the local
// address hardly ever changes), so that most requests reuse it instead of building it again.
type addrCache struct {
	host string
	port uint16
	text string
}

func (a *addrCache) hostPort(host string, port uint16) string {
	if a.text == "" || a.port != port || a.host != host {
		a.host, a.port, a.text = host, port, net.JoinHostPort(host, strconv.Itoa(int(port)))
	}
	return a.text
}

var envRe = regexp.MustCompile(`^v1:fds=(\d+),(\d+)$`)

// FromEnv opens the channel described by WARDEN_CHANNEL; ErrNotUnderWarden when it is unset.
func FromEnv() (*Channel, error) {
	v := os.Getenv("WARDEN_CHANNEL")
	if v == "" {
		return nil, ErrNotUnderWarden
	}
	m := envRe.FindStringSubmatch(v)
	if m == nil {
		return nil, fmt.Errorf("warden/shm: WARDEN_CHANNEL=%q is not of the form v1:fds=<memfd>,<doorbell>", v)
	}
	memFd, _ := strconv.Atoi(m[1])
	bellFd, _ := strconv.Atoi(m[2])
	return Open(memFd, bellFd)
}

// Open opens a channel from its two inherited fds (memfd, doorbell socket) and starts its reader goroutine. It takes
// both fds over: the memfd is closed once mapped, and both are closed when Open fails.
func Open(memFd, bellFd int) (*Channel, error) { return open(memFd, bellFd, 0) }

// open is Open for channel connBase>>32 of a ChannelSet (connBase is added to the router's connection ids).
func open(memFd, bellFd int, connBase uint64) (*Channel, error) {
	var st syscall.Stat_t
	fail := func(err error) (*Channel, error) {
		syscall.Close(memFd)
		syscall.Close(bellFd)
		return nil, err
	}
	if err := syscall.Fstat(memFd, &st); err != nil {
		return fail(fmt.Errorf("warden/shm: fstat of channel memory fd %d: %w", memFd, err))
	}
	if st.Size < headerBytes || st.Size > 1<<31 {
		return fail(fmt.Errorf("warden/shm: channel memory fd %d has a bad size %d", memFd, st.Size))
	}
	mem, err := syscall.Mmap(memFd, 0, int(st.Size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return fail(fmt.Errorf("warden/shm: mmap of channel memory fd %d: %w", memFd, err))
	}
	syscall.Close(memFd) // the mapping keeps the memory
	bad := func(why string) (*Channel, error) {
		syscall.Munmap(mem)
		syscall.Close(bellFd)
		return nil, fmt.Errorf("warden/shm: channel memory: %s", why)
	}
	if le.Uint32(mem[hMagic:]) != magic {
		return bad("bad magic")
	}
	if v := le.Uint32(mem[hVersion:]); v != version {
		return bad(fmt.Sprintf("protocol version %d, this package speaks %d", v, version))
	}
	if le.Uint32(mem[hHeaderBytes:]) != headerBytes {
		return bad("unexpected header size")
	}
	ringBytes := le.Uint32(mem[hRingBytes:])
	maxFrame := le.Uint32(mem[hMaxFrame:])
	window := le.Uint32(mem[hWindow:])
	if ringBytes < minRing || ringBytes > maxRing || ringBytes&(ringBytes-1) != 0 ||
		int64(headerBytes)+2*int64(ringBytes) > st.Size {
		return bad(fmt.Sprintf("ring size %d", ringBytes))
	}
	if maxFrame < 256 || maxFrame > ringBytes/4 || maxFrame%8 != 0 {
		return bad(fmt.Sprintf("max frame %d", maxFrame))
	}
	if window < 1024 || window > 1<<30 {
		return bad(fmt.Sprintf("stream window %d", window))
	}
	// The doorbell: non-blocking so that the runtime poller drives it and Close interrupts a pending Read; and
	// close-on-exec so that programs we start do not keep it open (that would hide our death from wardend).
	syscall.CloseOnExec(bellFd)
	if err := syscall.SetNonblock(bellFd, true); err != nil {
		return bad(fmt.Sprintf("doorbell fd %d: %v", bellFd, err))
	}
	c := &Channel{
		mem: mem, window: window, maxChunk: int(maxFrame) - frameHeader, features: le.Uint32(mem[hFeatures:]), connBase: connBase,
		bell:    os.NewFile(uintptr(bellFd), "warden-doorbell"),
		streams: make(map[uint32]*Stream),
	}
	c.in = ringReader{ring: newRing(mem, ctlRing0, headerBytes, ringBytes), maxFrame: maxFrame}
	c.in.myHead = atomic.LoadUint32(c.in.head)
	c.in.lastTail = atomic.LoadUint32(c.in.tail)
	c.out = ringWriter{ring: newRing(mem, ctlRing1, headerBytes+int(ringBytes), ringBytes)}
	c.out.myTail = atomic.LoadUint32(c.out.tail)
	c.out.lastHead = atomic.LoadUint32(c.out.head)
	c.acceptCond = sync.NewCond(&c.smu)
	go c.readLoop()
	return c, nil
}

// Serve calls handle for each request, each in its own goroutine (goroutines that finished are reused for the
// next request, up to 256 kept waiting), until wardend asks for a shutdown or the channel closes; then it waits for
// the running handlers to return and returns nil after a shutdown or Close, else the channel's error. Requests
// queued for Accept before the call are served too. Cheaper than an Accept loop: the goroutine reading the channel
// hands each new stream straight to a handler goroutine. Do not use Accept after calling Serve.
func (c *Channel) Serve(handle func(*Stream)) error {
	c.smu.Lock()
	if c.handler != nil {
		c.smu.Unlock()
		return errors.New("warden/shm: Serve called twice")
	}
	c.handler = handle
	queued := c.acceptQ
	c.acceptQ = nil
	atomic.AddInt32(&c.active, int32(len(queued)))
	c.smu.Unlock()
	for _, s := range queued {
		c.dispatch(s)
	}
	c.smu.Lock()
	for !((c.shutdown || c.isClosed()) && atomic.LoadInt32(&c.active) == 0) {
		c.acceptCond.Wait()
	}
	err := c.closeErr
	c.smu.Unlock()
	c.pmu.Lock()
	c.quitting = true
	for i, w := range c.parked {
		w.next <- nil
		c.parked[i] = nil
	}
	c.parked = nil
	c.pmu.Unlock()
	return err
}

// worker is a goroutine serving streams one after the other; it parks on next (capacity 1) between them.
type worker struct{ next chan *Stream }

// dispatch runs the Serve handler for s in the most recently parked goroutine, or a new one if none waits.
func (c *Channel) dispatch(s *Stream) {
	c.pmu.Lock()
	if n := len(c.parked); n > 0 {
		w := c.parked[n-1]
		c.parked[n-1] = nil
		c.parked = c.parked[:n-1]
		c.pmu.Unlock()
		w.next <- s
		return
	}
	c.pmu.Unlock()
	go c.work(s)
}

func (c *Channel) work(s *Stream) {
	var w *worker
	for {
		c.handler(s)
		if atomic.LoadInt32(&c.reuseStreams) != 0 {
			c.recycle(s)
		}
		if atomic.AddInt32(&c.active, -1) == 0 && atomic.LoadInt32(&c.draining) != 0 {
			// Serve waits for the last handler after a shutdown or close: it checks under smu, so take it to wake
			// it. (Before that, nothing waits for the count: no wake-up each time the app goes idle.)
			c.smu.Lock()
			c.acceptCond.Broadcast()
			c.smu.Unlock()
		}
		c.pmu.Lock()
		if c.quitting || len(c.parked) >= maxParked {
			c.pmu.Unlock()
			return
		}
		if w == nil {
			w = &worker{next: make(chan *Stream, 1)}
		}
		c.parked = append(c.parked, w)
		c.pmu.Unlock()
		if s = <-w.next; s == nil {
			return
		}
	}
}

// recycle puts a stream whose Serve handler returned into streamPool, if nothing else can reach it any more: forget
// took it out of the map (its response ended or it was aborted). A stream still registered when the channel failed
// is never marked so (fail empties the map itself and aborts those streams afterwards), nor is one its handler left
// open. The reader goroutine may still hold a forgotten stream from a lookup it made just before; the frame it then
// delivers lands in the recycled stream, which only the reader goroutine itself takes out of the pool again and
// resets (newStream) — after that delivery.
func (c *Channel) recycle(s *Stream) {
	if atomic.LoadInt32(&s.forgotten) != 0 && atomic.LoadInt32(&s.hijacked) == 0 {
		c.streamPool.Put(s)
	}
}

// Trailers reports whether the router takes response trailers (CloseWithTrailers sends them only then).
func (c *Channel) Trailers() bool { return c.features&featureTrailers != 0 }

// Ready tells wardend that the app serves (READY frame), announcing capability UPGRADE when the router offers it:
// this end tunnels a stream answered 101 (see Stream.Tunnel).
func (c *Channel) Ready() error {
	var caps uint32
	if c.features&featureUpgrade != 0 {
		caps |= capUpgrade
	}
	return c.writeFrame(frameHeader, func(b []byte) { putHeader(b, frameHeader, typeReady, 0, 0, caps) })
}

// Accept returns the next request; io.EOF once wardend asked for a shutdown (queued requests are returned first)
// or the channel closed (see Err).
func (c *Channel) Accept() (*Stream, error) {
	c.smu.Lock()
	defer c.smu.Unlock()
	for len(c.acceptQ) == 0 && !c.shutdown && atomic.LoadInt32(&c.closed) == 0 {
		c.acceptCond.Wait()
	}
	if len(c.acceptQ) > 0 {
		s := c.acceptQ[0]
		c.acceptQ[0] = nil
		c.acceptQ = c.acceptQ[1:]
		return s, nil
	}
	return nil, io.EOF
}

// Err is why the channel closed: nil while open, after a requested shutdown, or after Close; else the cause
// (ErrPeerGone, a protocol error).
func (c *Channel) Err() error {
	c.smu.Lock()
	defer c.smu.Unlock()
	return c.closeErr
}

// ShutdownRequested reports whether wardend sent SHUTDOWN.
func (c *Channel) ShutdownRequested() bool {
	c.smu.Lock()
	defer c.smu.Unlock()
	return c.shutdown
}

// Close closes the channel; open streams fail with ErrAborted and wardend sees the app as gone.
func (c *Channel) Close() error {
	c.fail(nil)
	return nil
}

func (c *Channel) fail(err error) {
	c.closeOnce.Do(func() {
		c.smu.Lock()
		c.closeErr = err
		atomic.StoreInt32(&c.closed, 1)
		atomic.StoreInt32(&c.draining, 1)
		streams := c.streams
		c.streams = map[uint32]*Stream{}
		c.acceptCond.Broadcast()
		c.smu.Unlock()
		c.bell.Close()
		for _, s := range streams {
			s.peerAbort()
		}
		c.wmu.Lock()
		for _, w := range c.wq {
			wakeOne(w.wake)
		}
		c.wmu.Unlock()
	})
}

// beginShutdown is what SHUTDOWN does: no more Accept, Serve returns once the running handlers did. A ChannelSet
// calls it for the control op "shutdown".
func (c *Channel) beginShutdown() {
	c.smu.Lock()
	c.shutdown = true
	atomic.StoreInt32(&c.draining, 1)
	c.acceptCond.Broadcast()
	c.smu.Unlock()
}

func (c *Channel) isClosed() bool { return atomic.LoadInt32(&c.closed) != 0 }

func (c *Channel) ring() {
	if _, err := c.bell.Write(bellByte); err != nil && !c.isClosed() {
		go c.fail(ErrPeerGone)
	}
}

// A writer waiting for space in ring 1: woken through its own channel when it is first and space may be there.
type waiter struct {
	wake chan struct{}
	need uint32 // bytes its frame takes in the ring
}

// writeFrame reserves n bytes in ring 1 (waiting for space while it is full, behind the writers already waiting),
// lets fill write the frame there and publishes it.
func (c *Channel) writeFrame(n int, fill func(b []byte)) error {
	if n > c.maxChunk+frameHeader {
		return fmt.Errorf("warden/shm: frame of %d bytes exceeds the limit of %d", n, c.maxChunk+frameHeader)
	}
	var me *waiter // non-nil once queued
	c.wmu.Lock()
	for {
		if c.isClosed() {
			c.leaveQueue(me)
			c.wmu.Unlock()
			return ErrClosed
		}
		if me == nil && len(c.wq) > 0 {
			me = c.joinQueue(n) // others wait for space: behind them
		}
		if me != nil && c.wq[0] != me {
			c.waitTurn(me)
			continue
		}
		b, err := c.out.reserve(uint32(n))
		if err != nil {
			c.leaveQueue(me)
			c.wmu.Unlock()
			c.fail(err)
			return err
		}
		if b != nil {
			fill(b)
			wake := c.out.commit(uint32(n))
			c.leaveQueue(me)
			c.wmu.Unlock()
			if wake {
				c.ring()
			}
			return nil
		}
		// Full: queue up, ask the router to ring when it frees space, re-check (it may have freed it meanwhile), then
		// wait for the reader goroutine to pass the doorbell on. Queued first: the reader passes a doorbell on only to
		// a queued writer (it skips the lock while none is), and the doorbell that answers this request may come
		// before this writer sleeps.
		if me == nil {
			me = c.joinQueue(n)
		}
		if c.askForSpace(uint32(n)) {
			continue
		}
		if testHookAskedForSpace != nil {
			testHookAskedForSpace()
		}
		c.waitTurn(me)
	}
}

// testHookAskedForSpace, when set (tests only), runs after a writer asked for space and found none, before it sleeps.
var testHookAskedForSpace func()

// askForSpace sets the flag that makes the router ring when it frees space in ring 1, then looks again: true when
// a frame of need bytes fits after all (the flag cleared again), false when its writer must wait for the doorbell.
func (c *Channel) askForSpace(need uint32) bool {
	atomic.StoreUint32(c.out.waiting, 1)
	if free, err := c.out.free(); err == nil && free >= 2*align8(need) {
		atomic.StoreUint32(c.out.waiting, 0)
		return true
	}
	return false
}

// joinQueue appends a writer waiting for space for an n-byte frame (wmu held).
func (c *Channel) joinQueue(n int) *waiter {
	me := &waiter{wake: make(chan struct{}, 1), need: uint32(n)}
	c.wq = append(c.wq, me)
	atomic.StoreInt32(&c.writersWaiting, int32(len(c.wq)))
	return me
}

// leaveQueue removes me (nil: not queued) and, when the writer now first can have its space, wakes it; when it
// cannot yet, it stays asleep with the doorbell asked for, as if it had gone back to sleep itself (wmu held).
func (c *Channel) leaveQueue(me *waiter) {
	if me == nil {
		return
	}
	for i, w := range c.wq {
		if w == me {
			c.wq = append(c.wq[:i], c.wq[i+1:]...)
			break
		}
	}
	atomic.StoreInt32(&c.writersWaiting, int32(len(c.wq)))
	if len(c.wq) > 0 && c.askForSpace(c.wq[0].need) {
		wakeOne(c.wq[0].wake)
	}
}

// waitTurn releases wmu until me is woken (its turn, space freed, or the channel closed), then takes it again.
func (c *Channel) waitTurn(me *waiter) {
	c.wmu.Unlock()
	<-me.wake
	c.wmu.Lock()
}

// wakeOne wakes a waiting writer; a wake-up already pending is enough.
func wakeOne(w chan struct{}) {
	select {
	case w <- struct{}{}:
	default:
	}
}

// writeFrames2 writes two frames published together when both fit in the ring at once (one tail store, at most
// one doorbell); otherwise one after the other, waiting for space as writeFrame does.
func (c *Channel) writeFrames2(n1 int, fill1 func(b []byte), n2 int, fill2 func(b []byte)) error {
	if n1 > c.maxChunk+frameHeader || n2 > c.maxChunk+frameHeader {
		return fmt.Errorf("warden/shm: frame exceeds the limit of %d bytes", c.maxChunk+frameHeader)
	}
	c.wmu.Lock()
	if c.isClosed() {
		c.wmu.Unlock()
		return ErrClosed
	}
	var b []byte
	var err error
	if len(c.wq) == 0 { // else others wait for space: in turn, behind them, one frame after the other
		b, err = c.out.reserve(uint32(n1))
		if err != nil {
			c.wmu.Unlock()
			c.fail(err)
			return err
		}
	}
	if b == nil {
		c.wmu.Unlock()
		if err := c.writeFrame(n1, fill1); err != nil {
			return err
		}
		return c.writeFrame(n2, fill2)
	}
	fill1(b)
	c.out.advance(uint32(n1))
	b, err = c.out.reserve(uint32(n2))
	if err != nil {
		c.wmu.Unlock()
		c.fail(err)
		return err
	}
	if b == nil {
		wake := c.out.publish()
		c.wmu.Unlock()
		if wake {
			c.ring()
		}
		return c.writeFrame(n2, fill2)
	}
	fill2(b)
	c.out.advance(uint32(n2))
	wake := c.out.publish()
	c.wmu.Unlock()
	if wake {
		c.ring()
	}
	return nil
}

// wakeWriters wakes the first writer waiting for space (it wakes the next once it has its frame in).
func (c *Channel) wakeWriters() {
	if atomic.LoadInt32(&c.writersWaiting) > 0 {
		c.wmu.Lock()
		if len(c.wq) > 0 {
			wakeOne(c.wq[0].wake)
		}
		c.wmu.Unlock()
	}
}

func (c *Channel) sendSimple(typ uint8, stream, arg uint32) error {
	return c.writeFrame(frameHeader, func(b []byte) { putHeader(b, frameHeader, typ, 0, stream, arg) })
}

func (c *Channel) readLoop() {
	buf := make([]byte, 64)
	for {
		n, err := c.drain()
		if err != nil {
			c.fail(err)
			return
		}
		c.wakeWriters()
		if n > 0 {
			continue
		}
		// Empty: poll a little (cheap, catches pipelined requests), then sleep on the doorbell.
		found := false
		for i := 0; i < spinIters && !found; i++ {
			runtime.Gosched()
			avail, err := c.in.available()
			if err != nil {
				c.fail(err)
				return
			}
			found = avail > 0
		}
		if found {
			continue
		}
		atomic.StoreUint32(c.in.sleeping, 1)
		if avail, err := c.in.available(); err != nil || avail > 0 {
			atomic.StoreUint32(c.in.sleeping, 0)
			continue
		}
		if _, err := c.bell.Read(buf); err != nil {
			atomic.StoreUint32(c.in.sleeping, 0)
			if c.isClosed() {
				return
			}
			if c.ShutdownRequested() && errors.Is(err, io.EOF) {
				c.fail(nil)
			} else {
				c.fail(ErrPeerGone)
			}
			return
		}
		atomic.StoreUint32(c.in.sleeping, 0)
	}
}

func (c *Channel) drain() (int, error) {
	n := 0
	var err error
	for ; n < drainBudget; n++ {
		var f []byte
		if f, err = c.in.next(); err != nil || f == nil {
			break
		}
		if err = c.handle(f); err != nil {
			break
		}
		c.in.release(uint32(len(f)))
	}
	if err == nil && n > 0 && c.in.publish() {
		c.ring()
	}
	// New streams start once the whole batch is handled: a small body that came with the request is then already
	// queued and the handler does not block for it. (After an error they start too, and see the abort.)
	for i, s := range c.fresh {
		c.dispatch(s)
		c.fresh[i] = nil
	}
	c.fresh = c.fresh[:0]
	return n, err
}

// copyData copies a DATA payload out of the ring (the ring space is released right after).
func (c *Channel) copyData(b []byte) []byte {
	n := len(b)
	if n == 0 {
		return nil
	}
	if n > slabMax {
		d := getChunk(n)
		copy(d, b)
		return d
	}
	if len(c.slab) < n {
		c.slab = make([]byte, slabBytes)
	}
	d := c.slab[:n:n]
	c.slab = c.slab[n:]
	copy(d, b)
	return d
}

// Larger DATA payloads go into pooled buffers of power-of-two sizes (minChunkShift .. maxChunkShift), which Read
// returns to their pool once it has copied them out in full: a stream of large bodies does not allocate (and
// collect) a buffer per frame. Nothing else refers to a payload buffer, so reusing it is safe.
const (
	minChunkShift = 10
	maxChunkShift = 18
)

var chunkPools [maxChunkShift + 1]sync.Pool

// getChunk returns a buffer of n bytes (n > slabMax) whose capacity tells recycleChunk where it belongs.
func getChunk(n int) []byte {
	shift := bits.Len(uint(n - 1))
	if shift < minChunkShift {
		shift = minChunkShift
	}
	if shift > maxChunkShift {
		return make([]byte, n)
	}
	if bp, _ := chunkPools[shift].Get().(*[]byte); bp != nil {
		return (*bp)[:n]
	}
	return make([]byte, n, 1<<shift)
}

// recycleChunk takes back a payload buffer that was read in full. Slab pieces (capacity = their length, at most
// slabMax) and odd sizes are left to the collector.
func recycleChunk(b []byte) {
	c := cap(b)
	if c < 1<<minChunkShift || c > 1<<maxChunkShift || c&(c-1) != 0 {
		return
	}
	bp := new([]byte) // only here: taking &b would move b to the heap on every call
	*bp = b[:c]
	chunkPools[bits.Len(uint(c))-1].Put(bp)
}

func (c *Channel) lookup(id uint32) *Stream {
	c.smu.Lock()
	s := c.streams[id]
	c.smu.Unlock()
	return s
}

// lookupBody finds the stream of a DATA or END frame (reader goroutine). The body of a small request usually comes
// in the same drain as its REQUEST: the stream made last in this drain, not yet handed to its handler (so nothing
// could have finished it but an ABORT, which forget marks), is found without the map and its lock.
func (c *Channel) lookupBody(id uint32) *Stream {
	if n := len(c.fresh); n > 0 {
		if s := c.fresh[n-1]; s.id == id && atomic.LoadInt32(&s.forgotten) == 0 {
			return s
		}
	}
	return c.lookup(id)
}

func (c *Channel) forget(s *Stream) {
	c.smu.Lock()
	if c.streams[s.id] == s {
		delete(c.streams, s.id)
		atomic.StoreInt32(&s.forgotten, 1)
	}
	c.smu.Unlock()
}

func (c *Channel) handle(f []byte) error {
	typ := f[4]
	id := le.Uint32(f[8:])
	arg := le.Uint32(f[12:])
	if typ != typeRequest && typ != typeData && len(f) != frameHeader {
		return protoErr("frame type %d with a payload", typ)
	}
	switch typ {
	case typeRequest:
		var raw rawRequest
		if err := decodeRequestInto(f, &raw); err != nil {
			return err
		}
		s := newStream(c, id, &raw)
		c.smu.Lock()
		defer c.smu.Unlock()
		if c.isClosed() {
			return ErrClosed
		}
		if c.streams[id] != nil {
			return protoErr("REQUEST for open stream %d", id)
		}
		c.streams[id] = s
		if c.handler != nil {
			atomic.AddInt32(&c.active, 1)
			c.fresh = append(c.fresh, s)
		} else {
			c.acceptQ = append(c.acceptQ, s)
			c.acceptCond.Signal()
		}
	case typeData:
		if s := c.lookupBody(id); s != nil {
			if err := s.pushData(c.copyData(f[frameHeader:]), f[5]&flagEnd != 0); err != nil {
				return err
			}
		}
	case typeEnd:
		if s := c.lookupBody(id); s != nil {
			s.pushEnd()
		}
	case typeAbort:
		if s := c.lookup(id); s != nil {
			c.forget(s)
			s.peerAbort()
		}
	case typeWindow:
		if s := c.lookup(id); s != nil {
			return s.addCredit(arg)
		}
	case typeConnClosed:
		// Sent only to an app that asked for connection ids (this package does not): nothing to do.
	case typeShutdown:
		c.beginShutdown()
	default:
		return protoErr("unexpected frame type %d from the router", typ)
	}
	return nil
}
