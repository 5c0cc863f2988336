package main

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestSlowHeadersAreCut: a client that sends its headers a byte at a time, or never
// ends them, is cut off by the server's header timeout rather than hold a connection.
// The server runs in a synctest bubble on an in-memory connection (net.Pipe, whose
// deadlines follow the bubble's clock), so its 5s header timeout passes at once.
func TestSlowHeadersAreCut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t.Error("a request with unfinished headers reached the handler")
		}), slog.New(slog.NewTextHandler(io.Discard, nil)))
		ln := newPipeListener()
		go srv.Serve(ln)
		defer srv.Close()

		conn := ln.dial()
		defer conn.Close()
		start := time.Now()
		// Keep dribbling header bytes; the server must hang up all the same.
		stop, stopped := make(chan struct{}), make(chan struct{})
		defer func() { close(stop); <-stopped }() // a bubble ends with its goroutines
		go func() {
			defer close(stopped)
			io.WriteString(conn, "POST /hooks/orders HTTP/1.1\r\nHost: hookflow\r\n")
			for {
				select {
				case <-stop:
					return
				case <-time.After(500 * time.Millisecond):
				}
				if _, err := io.WriteString(conn, "X: y\r\n"); err != nil {
					return
				}
			}
		}()
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, err := io.ReadAll(conn)
		took := time.Since(start)
		if err != nil {
			t.Fatalf("the connection was not closed: %v after %v", err, took)
		}
		// The server's clock starts when it accepts, a moment before ours did.
		if took < srv.ReadHeaderTimeout-100*time.Millisecond {
			t.Errorf("cut after %v, before the header timeout %v", took, srv.ReadHeaderTimeout)
		}
		t.Logf("cut after %v (header timeout %v)", took, srv.ReadHeaderTimeout)
	})
}

// pipeListener is a net.Listener whose connections are net.Pipes made by dial.
type pipeListener struct {
	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// dial connects to the listener and returns the client's end.
func (l *pipeListener) dial() net.Conn {
	server, client := net.Pipe()
	select {
	case l.conns <- server:
	case <-l.done:
		server.Close()
	}
	return client
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }
