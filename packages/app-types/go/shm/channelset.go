package shm

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
)

// ErrControlGone is ChannelSet.Serve's error when wardend's main process closed the control socket (or it broke):
// nothing can reach the process any more.
var ErrControlGone = errors.New("warden/shm: wardend closed the control socket")

// The limits of one control message (PROTOCOL.md "Several routers").
const (
	maxControlPayload = 64 << 10
	maxControlFds     = 16
)

// ChannelSet is the app end of every channel of one app process: one per wardend router (PROTOCOL.md "Several
// routers"). The first channel comes from WARDEN_CHANNEL, the others over the control socket named by
// WARDEN_CONTROL ({"op":"channel"} with [memfd, doorbell]). Serve serves them all with one handler:
//
//   - a channel that closes (its router died) is dropped, its in-flight requests aborted; the others serve on, and a
//     set with a control socket but no channel waits for a new one;
//   - the control socket's EOF ends Serve with ErrControlGone, after closing every channel;
//   - Serve returns nil after a shutdown: the control op {"op":"shutdown"}, or SHUTDOWN on every open channel; its
//     in-flight requests finish first, and channels that arrive after it are closed at once;
//   - without a control socket (an older wardend) the one channel's end is Serve's end, as for Channel.Serve.
//
// Connection ids (Head.Connection) are unique across the set: channel n's are n<<32 + the router's id.
type ChannelSet struct {
	mu      sync.Mutex
	cond    *sync.Cond
	members map[*Channel]*setMember
	next    uint64 // ordinal of the next channel
	control *os.File
	handle  func(*Stream) // set by Serve
	running int           // channel Serve goroutines not yet returned
	// shutdown: a shutdown was asked (control op, or SHUTDOWN on every open channel); closed: Close or control EOF.
	shutdown, closed bool
	err              error
	// reuseStreams (internal/hook): passed on to every channel.
	reuseStreams int32
}

type setMember struct {
	ordinal uint64
	drained bool // got SHUTDOWN and its requests finished (its Serve returned), still open
}

var (
	controlRe     = regexp.MustCompile(`^v1:fd=(\d+)$`)
	controlSpecRe = regexp.MustCompile(`^v\d+:`) // a WARDEN_CONTROL of this protocol (any version)
)

// SetFromEnv opens the set that WARDEN_CHANNEL (the first channel) and WARDEN_CONTROL (v1:fd=N, the control socket)
// describe; ErrNotUnderWarden when neither is set. A WARDEN_CONTROL that is not v<N>:... is the warden CLI's control
// API address and ignored.
func SetFromEnv() (*ChannelSet, error) {
	chv, ctl := os.Getenv("WARDEN_CHANNEL"), os.Getenv("WARDEN_CONTROL")
	if !controlSpecRe.MatchString(ctl) {
		// Not v<N>:...: the warden CLI's control API address (unix:/path, IP:port), exported by a user for the CLI.
		ctl = ""
	}
	if chv == "" && ctl == "" {
		return nil, ErrNotUnderWarden
	}
	controlFd := -1
	if ctl != "" {
		m := controlRe.FindStringSubmatch(ctl)
		if m == nil {
			return nil, fmt.Errorf("warden/shm: WARDEN_CONTROL=%q is not of the form v1:fd=<socket>", ctl)
		}
		controlFd, _ = strconv.Atoi(m[1])
	}
	var first *Channel
	if chv != "" {
		var err error
		if first, err = FromEnv(); err != nil {
			return nil, err
		}
	}
	return NewChannelSet(first, controlFd)
}

// NewChannelSet makes a set of first (nil: none yet) and the control socket controlFd (-1: none), which it takes
// over (close-on-exec, read by a goroutine once Serve runs).
func NewChannelSet(first *Channel, controlFd int) (*ChannelSet, error) {
	s := &ChannelSet{members: make(map[*Channel]*setMember)}
	s.cond = sync.NewCond(&s.mu)
	if controlFd >= 0 {
		// Non-blocking, so that the runtime poller drives it and Close interrupts a pending read; close-on-exec, so
		// that programs the app starts do not hold it.
		syscall.CloseOnExec(controlFd)
		if err := syscall.SetNonblock(controlFd, true); err != nil {
			if first != nil {
				first.Close()
			}
			return nil, fmt.Errorf("warden/shm: control socket fd %d: %w", controlFd, err)
		}
		s.control = os.NewFile(uintptr(controlFd), "warden-control")
	}
	if first != nil {
		s.add(first) // ordinal 0: its connection ids are the router's own (connBase 0, as Open made it)
	}
	return s, nil
}

// add makes ch, opened with connBase = s.next<<32, a member (s.mu held or s not yet shared); Serve starts it.
func (s *ChannelSet) add(ch *Channel) {
	s.members[ch] = &setMember{ordinal: s.next}
	s.next++
}

// Len is the number of open channels.
func (s *ChannelSet) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.members)
}

// Serve serves every channel of the set with handle (each request in its own goroutine, as Channel.Serve), sending
// READY on each as it starts, until a shutdown (nil, once in-flight requests finished) or the end of the control
// socket (ErrControlGone) — or, without a control socket, the end of the one channel (its error).
func (s *ChannelSet) Serve(handle func(*Stream)) error {
	s.mu.Lock()
	if s.handle != nil {
		s.mu.Unlock()
		return errors.New("warden/shm: Serve called twice")
	}
	s.handle = handle
	for ch := range s.members {
		s.start(ch)
	}
	s.mu.Unlock()
	if s.control != nil {
		go s.readControl()
	}
	s.mu.Lock()
	for !s.finished() {
		s.cond.Wait()
	}
	err := s.err
	chans := s.channels()
	s.mu.Unlock()
	for _, ch := range chans {
		ch.Close()
	}
	if s.control != nil {
		s.control.Close()
	}
	return err
}

// finished: Serve may return (s.mu held).
func (s *ChannelSet) finished() bool {
	if s.running > 0 || s.handle == nil {
		return false
	}
	return s.closed || s.shutdown || (s.control == nil && len(s.members) == 0)
}

func (s *ChannelSet) channels() []*Channel {
	out := make([]*Channel, 0, len(s.members))
	for ch := range s.members {
		out = append(out, ch)
	}
	return out
}

// start runs ch.Serve in a goroutine (s.mu held, s.handle set).
func (s *ChannelSet) start(ch *Channel) {
	if atomic.LoadInt32(&s.reuseStreams) != 0 {
		atomic.StoreInt32(&ch.reuseStreams, 1)
	}
	if s.shutdown {
		ch.beginShutdown()
	}
	s.running++
	handle := s.handle
	go func() {
		err := ch.Ready()
		if err == nil {
			err = ch.Serve(handle)
		}
		s.channelDone(ch, err)
	}()
}

// channelDone: ch's Serve returned, after its SHUTDOWN (drained, still open) or because it closed (dropped).
func (s *ChannelSet) channelDone(ch *Channel, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running--
	m := s.members[ch]
	if m != nil && err == nil && ch.ShutdownRequested() && !ch.isClosed() {
		m.drained = true
	} else {
		delete(s.members, ch)
		ch.Close()
		if s.control == nil {
			s.err = err // an older wardend: the one channel's end is the set's
		} else if err != nil && !s.closed && m != nil {
			log.Printf("warden: channel %d closed (%v); serving the other routers' channels", m.ordinal, err)
		}
	}
	if !s.shutdown && len(s.members) > 0 {
		all := true
		for _, mm := range s.members {
			all = all && mm.drained
		}
		s.shutdown = all
	}
	s.cond.Broadcast()
}

// Close closes every channel and the control socket; Serve returns nil once the running handlers returned.
func (s *ChannelSet) Close() error {
	s.stop(nil)
	return nil
}

func (s *ChannelSet) stop(err error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.err = err
	chans := s.channels()
	s.cond.Broadcast()
	s.mu.Unlock()
	for _, ch := range chans {
		ch.Close()
	}
	if s.control != nil {
		s.control.Close()
	}
}

// markReuseStreams is internal/hook's ReuseStreams: a *Channel or *ChannelSet (which passes it on to each channel)
// whose Serve handler never uses a stream after it returned.
func markReuseStreams(ch interface{}) {
	switch c := ch.(type) {
	case *Channel:
		atomic.StoreInt32(&c.reuseStreams, 1)
	case *ChannelSet:
		atomic.StoreInt32(&c.reuseStreams, 1)
	}
}

// readControl reads the control socket until it closes (goroutine).
func (s *ChannelSet) readControl() {
	rc, err := s.control.SyscallConn()
	if err != nil {
		s.stop(fmt.Errorf("%w: %v", ErrControlGone, err))
		return
	}
	buf := make([]byte, maxControlPayload)
	oob := make([]byte, syscall.CmsgSpace(maxControlFds*4))
	for {
		var n, oobn, flags int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			// recvmsg: one datagram with its fds; MSG_CMSG_CLOEXEC so no exec ever sees them.
			n, oobn, flags, _, rerr = syscall.Recvmsg(int(fd), buf, oob, syscall.MSG_CMSG_CLOEXEC|syscall.MSG_DONTWAIT)
			return rerr != syscall.EAGAIN && rerr != syscall.EINTR
		})
		if err == nil {
			err = rerr
		}
		if err != nil {
			s.stop(fmt.Errorf("%w: %v", ErrControlGone, err))
			return
		}
		fds := unixRights(oob[:oobn])
		if flags&(syscall.MSG_TRUNC|syscall.MSG_CTRUNC) != 0 {
			closeFds(fds)
			s.stop(fmt.Errorf("%w: a control message was truncated", ErrControlGone))
			return
		}
		if n == 0 && len(fds) == 0 {
			s.stop(ErrControlGone) // EOF: main is gone
			return
		}
		s.onControl(buf[:n], fds)
	}
}

// unixRights returns the fds of every SCM_RIGHTS message in oob.
func unixRights(oob []byte) []int {
	if len(oob) == 0 {
		return nil
	}
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for i := range msgs {
		if got, err := syscall.ParseUnixRights(&msgs[i]); err == nil {
			fds = append(fds, got...)
		}
	}
	return fds
}

func closeFds(fds []int) {
	for _, fd := range fds {
		syscall.Close(fd)
	}
}

// Kinds of control message (classifyControl).
const (
	controlChannel   = "channel"
	controlShutdown  = "shutdown"
	controlIgnored   = "ignored"
	controlMalformed = "malformed"
)

// classifyControl says what a control message is (PROTOCOL.md "Several routers"; the cases of
// packages/shm-transport/test/vectors/control.json).
func classifyControl(payload []byte, nfds int) string {
	var v interface{}
	if err := json.Unmarshal(payload, &v); err != nil {
		return controlMalformed
	}
	obj, ok := v.(map[string]interface{})
	if !ok {
		return controlMalformed
	}
	op, ok := obj["op"].(string)
	if !ok {
		return controlMalformed
	}
	switch op {
	case "channel":
		if nfds != 2 {
			return controlMalformed
		}
		return controlChannel
	case "shutdown":
		return controlShutdown
	}
	return controlIgnored
}

func (s *ChannelSet) onControl(payload []byte, fds []int) {
	kind := classifyControl(payload, len(fds))
	if kind == controlChannel {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.shutdown || s.closed {
			closeFds(fds) // retired: a new channel is closed at once
			return
		}
		// connBase is set before the channel's reader goroutine starts. Open takes both fds, also when it fails.
		ch, err := open(fds[0], fds[1], s.next<<32)
		if err != nil {
			log.Printf("warden: a channel from the control socket cannot be opened; ignored: %v", err)
			return
		}
		s.add(ch)
		if s.handle != nil {
			s.start(ch)
		}
		return
	}
	closeFds(fds)
	switch kind {
	case controlMalformed:
		log.Printf("warden: malformed control message ignored (%d bytes, %d fds)", len(payload), len(fds))
	case controlShutdown:
		s.mu.Lock()
		if !s.shutdown {
			s.shutdown = true
			for ch := range s.members {
				ch.beginShutdown()
			}
			s.cond.Broadcast()
		}
		s.mu.Unlock()
	}
	// controlIgnored: another op, a newer wardend's (forward compatible).
}
