package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/redistest"
)

// TestConcurrentStartsShareRoundTrips: starts from many callers at once, batched into
// pipelines, each create their own run, and the runs all finish; repeats of a dedupe
// key inside the batches start one run; and a Redis that lost its scripts (SCRIPT
// FLUSH, a restart) gets them again.
func TestConcurrentStartsShareRoundTrips(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		e, set, _ := running(t, b, chainSrc, 8)
		wf := set.Workflow("chain")
		for round := range 2 {
			if round == 1 {
				if err := b.Client.ScriptFlush(context.Background()).Err(); err != nil {
					t.Fatal(err)
				}
			}
			const n = 300
			var mu sync.Mutex
			ids, firsts := map[string]bool{}, map[string]int{}
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ev := event(fmt.Sprintf(`{"name": "n%d"}`, i))
					var id string
					var first bool
					var err error
					if i%3 == 0 {
						id, first, err = e.StartOnce(context.Background(), wf, ev, fmt.Sprintf("key-%d-%d", round, i%30), 60e9)
					} else {
						id, err = e.Start(context.Background(), wf, ev)
						first = true
					}
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					ids[id] = true
					if first {
						firsts[id]++
					}
					mu.Unlock()
				}()
			}
			wg.Wait()
			// 200 plain starts, and 100 dedupe starts over 10 keys: 210 runs.
			if len(ids) != 210 {
				t.Fatalf("round %d: %d runs, want 210", round, len(ids))
			}
			for id, n := range firsts {
				if n != 1 {
					t.Errorf("run %s started %d times", id, n)
				}
			}
			for id := range ids {
				if r := waitRun(t, e, id); r.Status != "succeeded" {
					t.Errorf("run %s: %s %s", id, r.Status, r.Error)
				}
			}
		}
	})
}

// TestGivenUpStartsAreNotSent: a start whose caller gave up before its batch was sent
// (its context ended, or batchWait passed) is not made, so a sender answered an error
// finds nothing started; the commits and starts beside it are made.
func TestGivenUpStartsAreNotSent(t *testing.T) {
	b := redistest.Mini(t)
	script := redis.NewScript(`return redis.call('INCR', KEYS[1])`)
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	live := context.Background()
	later, past := time.Now().Add(batchWait), time.Now().Add(-time.Millisecond)
	call := func(given context.Context, sendBy time.Time) *pipedCall {
		return &pipedCall{cmd: redis.NewCmd(live, "evalsha", script.Hash(), 1, "n"), script: script,
			done: make(chan struct{}), given: given, sendBy: sendBy.UnixNano()}
	}
	// A start given up, a start, a commit, a start past batchWait.
	calls := []*pipedCall{call(gone, later), call(live, later), call(nil, time.Time{}), call(live, past)}
	newPipeliner(b.Client).exec(slices.Clone(calls)) // exec reuses the slice it is given
	if calls[0].cmd.Err() != context.Canceled || calls[1].cmd.Err() != nil || calls[2].cmd.Err() != nil ||
		calls[3].cmd.Err() != context.DeadlineExceeded {
		t.Errorf("errors %v, %v, %v, %v", calls[0].cmd.Err(), calls[1].cmd.Err(), calls[2].cmd.Err(), calls[3].cmd.Err())
	}
	if n, _ := b.Client.Get(context.Background(), "n").Int(); n != 2 {
		t.Errorf("%d calls made, want the 2 whose callers still wait", n)
	}

	// Starts that wait for replicas are not made either once their callers gave up.
	bt := newBatcher(b.Client, script, 1, 10*time.Millisecond)
	waiting := []*scriptCall{
		{ctx: gone, keys: []string{"w"}, done: make(chan struct{})},
		{ctx: live, keys: []string{"w"}, done: make(chan struct{})},
	}
	bt.exec(slices.Clone(waiting), nil)
	if waiting[0].err != context.Canceled || waiting[1].err == nil {
		t.Errorf("errors %v, %v; want the second to have no replica to acknowledge it", waiting[0].err, waiting[1].err)
	}
	if n, _ := b.Client.Get(context.Background(), "w").Int(); n != 1 {
		t.Errorf("%d calls made, want the one whose caller still waits", n)
	}
}

// giveUpAfter is a client hook that runs giveUp once a call has been answered: the
// caller of a start gives up while it is with Redis.
type giveUpAfter struct{ giveUp func() }

func (h giveUpAfter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h giveUpAfter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.giveUp()
		return err
	}
}
func (h giveUpAfter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.giveUp()
		return err
	}
}

// TestGivenUpStartsAreNotSentAgain: a start that found Redis without its script, and
// whose caller gave up meanwhile, is not sent again once the script is loaded; a
// commit in the same state is.
func TestGivenUpStartsAreNotSentAgain(t *testing.T) {
	for _, alone := range []bool{true, false} {
		b := redistest.Mini(t)
		script := redis.NewScript(`return redis.call('INCR', KEYS[1])`) // not loaded: NOSCRIPT
		given, giveUp := context.WithCancel(context.Background())
		rdb := redis.NewClient(&redis.Options{Addr: b.Client.(*redis.Client).Options().Addr})
		t.Cleanup(func() { _ = rdb.Close() })
		rdb.AddHook(giveUpAfter{giveUp})
		call := func(key string, given context.Context) *pipedCall {
			return &pipedCall{cmd: redis.NewCmd(context.Background(), "evalsha", script.Hash(), 1, key), script: script,
				done: make(chan struct{}), given: given}
		}
		calls := []*pipedCall{call("start", given)}
		if !alone {
			calls = append(calls, call("commit", nil))
		}
		newPipeliner(rdb).exec(slices.Clone(calls))
		if n, _ := b.Client.Get(context.Background(), "start").Int(); n != 0 {
			t.Errorf("alone %v: the start given up was made %d times", alone, n)
		}
		if n, _ := b.Client.Get(context.Background(), "commit").Int(); !alone && n != 1 {
			t.Errorf("the commit was made %d times, want once", n)
		}
	}
}

// TestStartsWithoutAnswerMayBeStored: a start sent to a Redis that does not answer
// fails, once its caller stops waiting, with ErrOutcomeUnknown, as Redis may have
// taken it; one its caller stopped waiting for before it was sent fails with the
// deadline alone, and is never sent. The batch ends when its caller stops waiting:
// nothing is sent again after that, as a sender answered an error must not find its
// event started later.
func TestStartsWithoutAnswerMayBeStored(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	var mu sync.Mutex
	var got bytes.Buffer
	go func() { // a Redis that reads everything and answers nothing but HELLO, with "no such command"
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 4096)
				for {
					n, err := conn.Read(buf)
					mu.Lock()
					got.Write(buf[:n])
					mu.Unlock()
					if err != nil {
						return
					}
					if bytes.Contains(buf[:n], []byte("hello")) {
						_, _ = conn.Write([]byte("-ERR unknown command 'hello'\r\n"))
					}
				}
			}()
		}
	}()
	rdb := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), Protocol: 2, DisableIdentity: true,
		ReadTimeout: 500 * time.Millisecond}) // past the caller's wait: go-redis would send the batch again
	t.Cleanup(func() { _ = rdb.Close() })
	script := redis.NewScript(`return 1`)
	p, waiting := newPipeliner(rdb), newBatcher(rdb, script, 1, time.Second)
	call := func(replicas bool, wait time.Duration, key string) error {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		cmd := []any{"evalsha", script.Hash(), 1, key}
		var err error
		if replicas {
			_, err = waiting.run(ctx, cmd)
		} else {
			_, err = p.run(ctx, script, cmd)
		}
		return err
	}
	sent := func(key string) int {
		mu.Lock()
		defer mu.Unlock()
		return strings.Count(got.String(), key)
	}

	sentErr := make(chan error, 1)
	go func() { sentErr <- call(false, 400*time.Millisecond, "sent") }()
	time.Sleep(100 * time.Millisecond) // the first is with Redis: the second waits for its batch
	if err := call(false, 50*time.Millisecond, "dropped"); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("a start never sent: %v, want the deadline alone", err)
	}
	if err := <-sentErr; !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("a start sent, not answered: %v, want ErrOutcomeUnknown", err)
	}
	// Starts that wait for replicas, sent in a batch of their own.
	if err := call(true, 400*time.Millisecond, "replicated"); !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("a start waiting for replicas sent, not answered: %v, want ErrOutcomeUnknown", err)
	}
	// A batch that go-redis gives up on (its read timeout, 3 s by default) before the
	// caller does: the same.
	quick := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), Protocol: 2, DisableIdentity: true,
		ReadTimeout: 50 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = quick.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := newPipeliner(quick).run(ctx, script, []any{"evalsha", script.Hash(), 1, "timedout"}); !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("a start sent, its read timed out: %v, want ErrOutcomeUnknown", err)
	}
	if _, err := newBatcher(quick, script, 1, time.Second).run(ctx, []any{"evalsha", script.Hash(), 1, "timedout"}); !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("a start waiting for replicas sent, its read timed out: %v, want ErrOutcomeUnknown", err)
	}
	// A refused connection too: go-redis sends a command again after a network error,
	// and the attempt before may have reached Redis.
	gone := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { _ = gone.Close() })
	if _, err := newPipeliner(gone).run(ctx, script, []any{"evalsha", script.Hash(), 1, "refused"}); !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("a start whose last try found no Redis: %v, want ErrOutcomeUnknown", err)
	}
	// The start's script ran and refused it: not taken, whatever came before.
	mini := redistest.Mini(t)
	busy := redis.NewScript(`return redis.error_reply('HFBUSY too many runs')`)
	if err := busy.Load(ctx, mini.Client).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := newPipeliner(mini.Client).run(ctx, busy, []any{"evalsha", busy.Hash(), 1, "busy"}); err == nil || errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("a start its script refused: %v, want the refusal alone", err)
	}
	time.Sleep(time.Second) // go-redis would have sent the batches again by now
	for key, want := range map[string]int{"sent": 1, "dropped": 0, "replicated": 1} {
		if n := sent(key); n != want {
			t.Errorf("the start %q went %d times, want %d", key, n, want)
		}
	}
}

// TestRefusalAfterARetryMayBeStored: a batch is tried again when one of its calls is
// sent elsewhere (TRYAGAIN, MOVED); a call of it that Redis answered on the first try
// was stored, and a refusal on the next (READONLY: the node is now a replica) says
// nothing of that: it fails with ErrOutcomeUnknown, not as refused. A call refused or
// sent elsewhere on every try wrote nothing, and is refused.
func TestRefusalAfterARetryMayBeStored(t *testing.T) {
	addr := scriptedRedis(t, []string{":1\r\n", "-TRYAGAIN Multiple keys request during rehashing of slot\r\n"},
		"-READONLY You can't write against a read only replica.\r\n")
	rdb := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { _ = rdb.Close() })
	script := redis.NewScript(`return 1`)
	b := newBatcher(rdb, script, 1, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stored := &scriptCall{ctx: ctx, keys: []string{"a"}, done: make(chan struct{})}
	moved := &scriptCall{ctx: ctx, keys: []string{"a"}, done: make(chan struct{})}
	b.exec([]*scriptCall{stored, moved}, nil)
	var refused *RefusedError
	if errors.As(stored.err, &refused) || !errors.Is(stored.err, ErrOutcomeUnknown) {
		t.Errorf("the call answered on the first try, then refused: %v, want ErrOutcomeUnknown", stored.err)
	}
	if !errors.As(moved.err, &refused) {
		t.Errorf("the call sent elsewhere, then refused: %v, want refused", moved.err)
	}
}

// scriptedRedis is the address of a Redis that answers its first EVALs with first, in
// turn, each later one with then, WAIT with 1, and HELLO with an error (protocol 2).
func scriptedRedis(t *testing.T, first []string, then string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	var mu sync.Mutex
	evals := 0
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				buf := make([]byte, 4096)
				for {
					n, err := conn.Read(buf)
					if err != nil {
						return
					}
					var out bytes.Buffer
					for _, line := range strings.Split(strings.ToLower(string(buf[:n])), "\r\n") {
						switch line {
						case "hello":
							out.WriteString("-ERR unknown command 'hello'\r\n")
						case "eval", "evalsha":
							mu.Lock()
							evals++
							reply := then
							if evals <= len(first) {
								reply = first[evals-1]
							}
							mu.Unlock()
							out.WriteString(reply)
						case "wait":
							out.WriteString(":1\r\n")
						}
					}
					if _, err := conn.Write(out.Bytes()); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}
