package embedredis_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/embedredis"
)

func dial(t *testing.T) (*embedredis.Redis, net.Conn) {
	t.Helper()
	m, err := embedredis.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	conn, err := m.Dial(context.Background(), "tcp", m.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return m, conn
}

// A pipeline far larger than any buffer on the way goes through: go-redis writes all
// of it before it reads a reply, while miniredis answers each command as it reads it,
// so a pipe whose writes waited for their reader (net.Pipe) would stop both.
func TestPipeCarriesLargePipelines(t *testing.T) {
	m, _ := dial(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr(), Dialer: m.Dial})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	value := strings.Repeat("v", 1024)
	cmds, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range 2000 {
			p.Set(ctx, fmt.Sprintf("k%d", i%100), value, 0)
			p.Get(ctx, fmt.Sprintf("k%d", i%100))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	if len(cmds) != 4000 {
		t.Fatalf("%d replies, want 4000", len(cmds))
	}
	if got := cmds[3999].(*redis.StringCmd).Val(); got != value {
		t.Fatalf("last GET: %d bytes, want %d", len(got), len(value))
	}
}

// A read with nothing to read waits for its deadline and fails as a socket's read
// does, with a timeout; a deadline moved while a read waits applies to that read.
func TestPipeReadDeadline(t *testing.T) {
	_, conn := dial(t)
	buf := make([]byte, 16)
	conn.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	start := time.Now()
	_, err := conn.Read(buf)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past its deadline: %v, want a timeout", err)
	}
	if waited := time.Since(start); waited < 20*time.Millisecond {
		t.Fatalf("read failed after %v, before its deadline", waited)
	}

	conn.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() {
		_, err := conn.Read(buf)
		done <- err
	}()
	time.Sleep(10 * time.Millisecond) // the read is waiting, with no deadline
	conn.SetReadDeadline(time.Now())
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("waiting read after its deadline moved: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a waiting read did not end when its deadline was moved to now")
	}

	// With no deadline, the reply comes.
	conn.SetReadDeadline(time.Time{})
	if _, err := conn.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || line != "+PONG\r\n" {
		t.Fatalf("PING: %q, %v", line, err)
	}
}

// When the server closes its end (QUIT), the client reads what was written before and
// then EOF; once the client closes its end, its writes fail.
func TestPipeClose(t *testing.T) {
	_, conn := dial(t)
	if _, err := conn.Write([]byte("*1\r\n$4\r\nQUIT\r\n")); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(conn)
	if err != nil || string(got) != "+OK\r\n" {
		t.Fatalf("after QUIT: %q, %v; want +OK then EOF", got, err)
	}
	conn.Close()
	if _, err := conn.Write([]byte("*1\r\n$4\r\nPING\r\n")); err == nil {
		t.Fatal("a write on a closed pipe succeeded")
	}
}

// Once the embedded Redis is closed, a dial fails, as one to its closed listener does,
// and a connection made before reads EOF.
func TestDialAfterClose(t *testing.T) {
	m, conn := dial(t)
	m.Close()
	if _, err := m.Dial(context.Background(), "tcp", "embedded"); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("dial after Close: %v, want net.ErrClosed", err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read on a connection of a closed Redis: %v, want EOF", err)
	}
}
