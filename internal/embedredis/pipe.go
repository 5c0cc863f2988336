package embedredis

import (
	"context"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// Dial connects to the embedded Redis in memory, without a socket: a pipe whose other
// end miniredis serves as it serves a TCP client. For go-redis's Options.Dialer. Over
// loopback TCP, each command's reply was a system call to write and one or two to
// read, and each wait a trip through the network poller; here a reply is a copy into
// a buffer and a wake-up of the goroutine reading it.
func (r *Redis) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.dialing.Lock()
	defer r.dialing.Unlock()
	if r.closed {
		return nil, &net.OpError{Op: "dial", Net: "pipe", Err: net.ErrClosed}
	}
	client, server := newPipe()
	r.Server().ServeConn(server)
	return client, nil
}

// newPipe is two connected ends of an in-memory connection. Unlike net.Pipe, a write
// does not wait for the other end to read it: it is buffered, as a socket's would be.
// That matters here: go-redis writes a whole pipeline before it reads a reply, while
// miniredis writes each command's reply as it goes, and with writes that wait for
// their reader each would wait for the other.
func newPipe() (a, b *pipeEnd) {
	ab, ba := newPipeBuffer(), newPipeBuffer()
	return &pipeEnd{in: ba, out: ab}, &pipeEnd{in: ab, out: ba}
}

// pipeBuffer is one direction of a pipe: what one end wrote and the other has not yet
// read.
type pipeBuffer struct {
	mu       sync.Mutex
	data     []byte // data[off:] is still to read
	off      int
	closed   bool
	deadline time.Time // the reading end's read deadline
	// wake is closed when there is more to read, or the deadline moved, while waiting
	// says a reader waits on it.
	wake    chan struct{}
	waiting bool
}

// keptBuffer is the most a pipeBuffer keeps for its next writes once all is read: a
// pooled connection holds two, for as long as it lives, and most commands and replies
// are a few hundred bytes. A larger one (a large event, say) is let go.
const keptBuffer = 4 << 10

func newPipeBuffer() *pipeBuffer {
	return &pipeBuffer{wake: make(chan struct{})}
}

// signal wakes the reader, if one waits; b.mu is held.
func (b *pipeBuffer) signal() {
	if b.waiting {
		close(b.wake)
		b.wake, b.waiting = make(chan struct{}), false
	}
}

func (b *pipeBuffer) read(p []byte) (int, error) {
	b.mu.Lock()
	for {
		if !b.deadline.IsZero() && !time.Now().Before(b.deadline) {
			b.mu.Unlock()
			return 0, os.ErrDeadlineExceeded
		}
		if b.off < len(b.data) {
			n := copy(p, b.data[b.off:])
			b.off += n
			if b.off == len(b.data) {
				// All read: the buffer is used again, unless a large write grew it.
				b.data, b.off = b.data[:0], 0
				if cap(b.data) > keptBuffer {
					b.data = nil
				}
			}
			b.mu.Unlock()
			return n, nil
		}
		if b.closed {
			b.mu.Unlock()
			return 0, io.EOF
		}
		b.waiting = true
		wake, deadline := b.wake, b.deadline
		b.mu.Unlock()
		if deadline.IsZero() {
			<-wake
		} else {
			t := time.NewTimer(time.Until(deadline))
			select {
			case <-wake:
				t.Stop()
			case <-t.C:
			}
		}
		b.mu.Lock()
	}
}

func (b *pipeBuffer) write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, io.ErrClosedPipe
	}
	if b.off > 0 && b.off >= len(b.data)/2 {
		// Most of what is buffered has been read: move the rest to the front rather
		// than grow past it.
		b.data, b.off = b.data[:copy(b.data, b.data[b.off:])], 0
	}
	b.data = append(b.data, p...)
	b.signal()
	return len(p), nil
}

func (b *pipeBuffer) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		b.signal()
	}
}

func (b *pipeBuffer) setDeadline(t time.Time) {
	if !t.IsZero() {
		// Counted on the monotonic clock from now, as a socket's deadline is: go-redis
		// makes its deadlines with time.Unix, which carry none, and a step of the wall
		// clock would move them.
		t = time.Now().Add(time.Until(t))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !t.Equal(b.deadline) {
		b.deadline = t
		b.signal()
	}
}

// pipeEnd is one end of a pipe: a net.Conn. Closing either end closes both ways, as
// closing a socket does. A write never waits, so its deadline has nothing to bound.
type pipeEnd struct {
	in, out *pipeBuffer
}

func (p *pipeEnd) Read(b []byte) (int, error)  { return p.in.read(b) }
func (p *pipeEnd) Write(b []byte) (int, error) { return p.out.write(b) }

func (p *pipeEnd) Close() error {
	p.in.close()
	p.out.close()
	return nil
}

func (p *pipeEnd) LocalAddr() net.Addr                { return pipeAddr{} }
func (p *pipeEnd) RemoteAddr() net.Addr               { return pipeAddr{} }
func (p *pipeEnd) SetDeadline(t time.Time) error      { p.in.setDeadline(t); return nil }
func (p *pipeEnd) SetReadDeadline(t time.Time) error  { p.in.setDeadline(t); return nil }
func (p *pipeEnd) SetWriteDeadline(t time.Time) error { return nil }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "embedded" }
