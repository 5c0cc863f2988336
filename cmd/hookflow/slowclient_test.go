package main

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestSlowHeadersAreCut: a client that sends its headers a byte at a time, or never
// ends them, is cut off by the server's header timeout rather than hold a connection.
func TestSlowHeadersAreCut(t *testing.T) {
	t.Parallel()
	srv := newHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a request with unfinished headers reached the handler")
	}), slog.New(slog.NewTextHandler(io.Discard, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	// Keep dribbling header bytes; the server must hang up all the same.
	go func() {
		io.WriteString(conn, "POST /hooks/orders HTTP/1.1\r\nHost: hookflow\r\n")
		for {
			time.Sleep(500 * time.Millisecond)
			if _, err := io.WriteString(conn, "X: y\r\n"); err != nil {
				return
			}
		}
	}()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = io.ReadAll(conn)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("the connection was not closed: %v after %v", err, took)
	}
	// The server's clock starts when it accepts, a moment before ours did.
	if took < srv.ReadHeaderTimeout-100*time.Millisecond {
		t.Errorf("cut after %v, before the header timeout %v", took, srv.ReadHeaderTimeout)
	}
	t.Logf("cut after %v (header timeout %v)", took.Round(time.Millisecond), srv.ReadHeaderTimeout)
}
