package warden

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Upgrades (packages/shm-transport/PROTOCOL.md "Upgrades"): the ResponseWriter of an upgrade request implements
// http.Hijacker. The net.Conn it returns is the channel stream: Read gives the client's bytes after the request head,
// Write takes what a handler writes on a hijacked TCP connection — the response head as text (gorilla/websocket
// writes "HTTP/1.1 101 Switching Protocols\r\n...\r\n\r\n" itself), parsed here into the RESPONSE frame, then the new
// protocol's bytes. A handler that called WriteHeader(101) before hijacking (nhooyr.io/websocket) has that head sent
// at Hijack, as net/http flushes it.

// maxHijackHead bounds a response head written to a hijacked connection.
const maxHijackHead = 64 << 10

// Hijack implements http.Hijacker for upgrade requests (http.ErrNotSupported otherwise: the router carries nothing
// but the response of any other request).
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	s, ok := w.s.(*stream)
	if !ok || !s.Head().Upgrade {
		return nil, nil, http.ErrNotSupported
	}
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	if w.afterReturn() {
		return nil, nil, errWriterAfterReturn
	}
	if w.committed && w.status != http.StatusSwitchingProtocols {
		return nil, nil, errors.New("warden: Hijack after the response head was sent")
	}
	c := &hijackedConn{s: s, head: []byte{}}
	if w.wroteHeader && !w.committed {
		// WriteHeader(101) came first: its head goes out now (net/http flushes it at Hijack).
		if err := w.commit(false); err != nil {
			return nil, nil, err
		}
	}
	if w.committed {
		c.head = nil
	}
	w.hijacked = true
	s.Hijack()
	return c, bufio.NewReadWriter(bufio.NewReader(c), bufio.NewWriter(c)), nil
}

// hijackedConn is the net.Conn of a hijacked upgrade request. Deadlines are accepted and not enforced (see README).
type hijackedConn struct {
	s      *stream
	mu     sync.Mutex
	head   []byte // response head bytes while incomplete; nil once sent
	closed bool
}

func (c *hijackedConn) Read(p []byte) (int, error) {
	n, err := c.s.Read(p)
	if err != nil && err != io.EOF {
		err = io.EOF // the stream was aborted: the client went away
	}
	return n, err
}

func (c *hijackedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	if c.head != nil {
		all := append(c.head, p...)
		at := bytes.Index(all, []byte("\r\n\r\n"))
		if at < 0 {
			if len(all) > maxHijackHead {
				c.mu.Unlock()
				return 0, errors.New("warden: the response head written to the hijacked connection is too large")
			}
			c.head = all
			c.mu.Unlock()
			return len(p), nil
		}
		c.head = nil
		err := c.sendHead(all[:at+4])
		c.mu.Unlock()
		if err != nil {
			return 0, err
		}
		if rest := all[at+4:]; len(rest) > 0 {
			if _, err := c.s.Write(rest); err != nil {
				return 0, err
			}
		}
		return len(p), nil
	}
	c.mu.Unlock()
	return c.s.Write(p)
}

// sendHead parses an HTTP/1.x response head and sends it as the RESPONSE frame.
func (c *hijackedConn) sendHead(text []byte) error {
	res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(text)), nil)
	if err != nil {
		return errors.New("warden: the bytes written to the hijacked connection do not start with an HTTP response head")
	}
	list := make([]string, 0, 2*len(res.Header))
	for k, vs := range res.Header {
		if k == "Transfer-Encoding" || k == "Keep-Alive" {
			continue // the router frames the client connection
		}
		for _, v := range vs {
			list = append(list, k, v)
		}
	}
	return c.s.WriteHeader(res.StatusCode, list)
}

// Close ends this side (END; the router half-closes the client connection), or fails the request (502) when no
// response head was written.
func (c *hijackedConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return net.ErrClosed
	}
	c.closed = true
	headless := c.head != nil
	c.mu.Unlock()
	if headless {
		c.s.Abort()
		return nil
	}
	return c.s.Close()
}

func (c *hijackedConn) LocalAddr() net.Addr  { return tcpAddr(c.s.Head().LocalAddr) }
func (c *hijackedConn) RemoteAddr() net.Addr { return tcpAddr(c.s.Head().RemoteAddr) }

func (c *hijackedConn) SetDeadline(t time.Time) error      { return nil }
func (c *hijackedConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *hijackedConn) SetWriteDeadline(t time.Time) error { return nil }

func tcpAddr(hostPort string) net.Addr {
	if a, err := net.ResolveTCPAddr("tcp", hostPort); err == nil {
		return a
	}
	return &net.TCPAddr{}
}
