package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestOutcomeOfOneTry: the errors of one try that prove it wrote nothing are a
// connection never made and Redis's error replies to the command as a whole; a
// connection lost, or a timeout, once the command was written, proves nothing, nor does
// an error raised inside a script.
func TestOutcomeOfOneTry(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: &net.AddrError{Err: "connect: connection refused"}}
	for _, c := range []struct {
		err      error
		none     bool
		why      string
		tryAgain bool
	}{
		{dial, true, "could not connect", true},
		{fmt.Errorf("dial timeout: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.EHOSTUNREACH}), true, "could not connect", true},
		{redis.ErrPoolTimeout, true, "no connection", true},
		{wholeReply("LOADING Redis is loading the dataset in memory"), true, "loading", true},
		{wholeReply("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."), true, "lost its primary", true},
		{wholeReply("BUSY Redis is busy running a script."), true, "busy", false},
		{wholeReply("NOSCRIPT No matching script."), true, "scripts", false},
		{wholeReply("OOM command not allowed when used memory > 'maxmemory'."), true, "out of memory", false},
		{wholeReply("READONLY You can't write against a read only replica."), true, "replica", true},
		{wholeReply("CLUSTERDOWN The cluster is down"), true, "slot", true},
		{wholeReply("ERR max number of clients reached"), true, "maxclients", true},
		{io.EOF, false, "", true},
		{&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, false, "", false},
		{&net.OpError{Op: "read", Net: "tcp", Err: timeoutErr{}}, false, "", true},
		{context.DeadlineExceeded, false, "", false},
		{replyError("LOADING Redis is loading the dataset in memory"), false, "", false},
		{wholeReply("ERR Error running script (call to f_x): @user_script:1: -OOM command not allowed"), false, "", false},
	} {
		why, none := neverRan(fmt.Errorf("wrapped: %w", c.err))
		if none != c.none || !strings.Contains(why, c.why) || (c.why == "") != (why == "") {
			t.Errorf("%v: %q, wrote nothing %v; want one saying %q, %v", c.err, why, none, c.why, c.none)
		}
		if again := tryAgain(c.err); again != c.tryAgain {
			t.Errorf("%v: sent again %v, want %v", c.err, again, c.tryAgain)
		}
		_, refused := unanswered(c.err, false).(*RefusedError)
		if refused != c.none {
			t.Errorf("%v: a start refused %v, want %v", c.err, refused, c.none)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// TestStartsRefusedOnEveryTryAreNotStored: a start whose every try met a Redis it could
// not connect to, or one loading its dataset, is refused (not stored), not answered as
// one Redis may have stored; a start whose first try was written and lost its
// connection may have been stored, whatever the next try meets (a refused connection),
// and so may every start of that try's batch; a start whose lost first try is tried
// again and answered is stored once.
func TestStartsRefusedOnEveryTryAreNotStored(t *testing.T) {
	script := redis.NewScript(`return 1`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := func(addr string) redis.UniversalClient {
		rdb := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, MaxRetries: 1,
			DialerRetries: 1})
		t.Cleanup(func() { _ = rdb.Close() })
		return rdb
	}
	start := func(key string) *pipedCall {
		return &pipedCall{cmd: redis.NewCmd(ctx, "evalsha", script.Hash(), 1, key), script: script,
			done: make(chan struct{}), given: ctx, sendBy: time.Now().Add(batchWait).UnixNano()}
	}
	refused := func(t *testing.T, err error, why string) {
		t.Helper()
		var r *RefusedError
		if !errors.As(err, &r) || errors.Is(err, ErrOutcomeUnknown) || !strings.Contains(r.Reason, why) {
			t.Errorf("%v: want refused, as %q", err, why)
		}
		if msg := startMessage(err); !strings.Contains(msg, "not stored") {
			t.Errorf("answered %q, want one saying it is not stored", msg)
		}
	}

	t.Run("no Redis", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close() // connection refused
		_, err = newPipeliner(client(addr)).run(ctx, script, []any{"evalsha", script.Hash(), 1, "a"})
		refused(t, err, "could not connect")
	})
	t.Run("loading", func(t *testing.T) {
		srv := fakeRedis(t, func(int, int) string { return "-LOADING Redis is loading the dataset in memory\r\n" })
		_, err := newPipeliner(client(srv.addr)).run(ctx, script, []any{"evalsha", script.Hash(), 1, "a"})
		refused(t, err, "loading")
		if n := srv.evals(); n != 2 {
			t.Errorf("%d tries, want 2 (MaxRetries 1)", n)
		}
	})
	t.Run("lost then refused", func(t *testing.T) {
		srv := fakeRedis(t, func(conn, eval int) string { return "" }) // the first try's connection is cut
		srv.stopAfterCut = true                                        // then no Redis: the next try's connection is refused
		calls := []*pipedCall{start("a"), start("b")}
		newPipeliner(client(srv.addr)).exec(calls)
		for _, c := range calls {
			if err := c.cmd.Err(); !errors.Is(err, ErrOutcomeUnknown) || errors.Is(err, ErrRefused) {
				t.Errorf("%v: want ErrOutcomeUnknown: the first try may have stored it", err)
			}
			if msg := startMessage(c.cmd.Err()); !strings.Contains(msg, "may be stored") {
				t.Errorf("answered %q, want one saying it may be stored", msg)
			}
		}
	})
	t.Run("lost then answered", func(t *testing.T) {
		srv := fakeRedis(t, func(conn, eval int) string {
			if conn == 0 {
				return "" // cut
			}
			return ":1\r\n"
		})
		got, err := newPipeliner(client(srv.addr)).run(ctx, script, []any{"evalsha", script.Hash(), 1, "a"})
		if err != nil || got != int64(1) {
			t.Errorf("%v, %v: want the second try's answer", got, err)
		}
	})
}

// startMessage is what a webhook sender is told of a start's error (triggers'
// startRefusal, by the same methods).
func startMessage(err error) string {
	var refused interface{ Refusal() string }
	var maybe interface{ MaybeStored() bool }
	switch {
	case errors.As(err, &refused):
		return "Redis refused the start: " + refused.Refusal() + ", so its run is not stored"
	case errors.As(err, &maybe) && maybe.MaybeStored():
		return "Redis did not answer, so the event may be stored"
	}
	return "cannot queue the event right now"
}

// fakeServer is a Redis that answers each EVALSHA with what reply says for it (by the
// connection's number and the EVALSHA's, from 0), cutting the connection instead when
// that is "", and HELLO with an error (protocol 2).
type fakeServer struct {
	addr string
	ln   net.Listener
	mu   sync.Mutex
	n    int // EVALSHAs read
	// stopAfterCut closes the listener with the first connection cut: every later
	// dial is refused.
	stopAfterCut bool
}

func (s *fakeServer) evals() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func fakeRedis(t *testing.T, reply func(conn, eval int) string) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	s := &fakeServer{addr: ln.Addr().String(), ln: ln}
	go func() {
		for conns := 0; ; conns++ {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(conn, conns, reply)
		}
	}()
	return s
}

func (s *fakeServer) serve(conn net.Conn, n int, reply func(conn, eval int) string) {
	defer conn.Close()
	rd := bufio.NewReader(conn)
	for eval := 0; ; {
		args, err := readCommand(rd)
		if err != nil {
			return
		}
		out := "-ERR unknown command '" + args[0] + "'\r\n"
		if strings.EqualFold(args[0], "evalsha") {
			s.mu.Lock()
			s.n++
			s.mu.Unlock()
			if out = reply(n, eval); out == "" {
				if s.stopAfterCut {
					_ = s.ln.Close()
				}
				return
			}
			eval++
		}
		if _, err := io.WriteString(conn, out); err != nil {
			return
		}
	}
}

// readCommand reads one RESP array of bulk strings.
func readCommand(rd *bufio.Reader) ([]string, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "*")))
	if err != nil || n < 1 {
		return nil, fmt.Errorf("not a command: %q", line)
	}
	args := make([]string, n)
	for i := range args {
		if line, err = rd.ReadString('\n'); err != nil {
			return nil, err
		}
		size, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "$")))
		if err != nil {
			return nil, fmt.Errorf("not a bulk string: %q", line)
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return nil, err
		}
		args[i] = string(buf[:size])
	}
	return args, nil
}
