package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// TestRedisRefusalsWroteNothing: the error replies that prove a script call wrote
// nothing are a refusal of the EVALSHA as a whole, and those Redis gives a script only
// before its first write; a NOPERM from inside a script (Redis 7's " script: " suffix,
// or a call's error in a batch) proves nothing.
func TestRedisRefusalsWroteNothing(t *testing.T) {
	for _, c := range []struct {
		err  error
		none bool
		why  string
	}{
		{wholeReply("NOPERM this user has no permissions to run the 'evalsha' command"), true, "may not run EVALSHA"},
		{wholeReply("NOPERM this user has no permissions to access one of the keys used as arguments"), true, "~hf:* ~{hf:*"},
		{wholeReply("NOPERM User u has no permissions to run the 'zadd' command script: 04a6, on @user_script:1."), false, "may not run ZADD"},
		{replyError("NOPERM this user has no permissions to run the 'zadd' command"), false, "ACL"},
		{wholeReply("ERR The user executing the script can't run this command or subcommand script: 04a6, on @user_script:1."), false, "ACL"},
		{wholeReply("OOM command not allowed when used memory > 'maxmemory'. script: df9a, on @user_script:1."), true, "out of memory"},
		{replyError("OOM command not allowed when used memory > 'maxmemory'."), true, "out of memory"},
		{wholeReply("READONLY You can't write against a read only replica."), true, "replica"},
		{wholeReply("MISCONF Errors writing to the AOF file: No space left on device"), true, "disk"},
		{wholeReply("NOREPLICAS Not enough good replicas to write."), true, "replicas"},
		{wholeReply("ERR Error running script (call to f_x): @user_script:1: -OOM command not allowed"), false, ""},
		{wholeReply("LOADING Redis is loading the dataset in memory"), false, ""},
		{context.DeadlineExceeded, false, ""},
	} {
		why, none := redisRefusal(fmt.Errorf("wrapped: %w", c.err))
		if none != c.none || !strings.Contains(why, c.why) || (c.why == "") != (why == "") {
			t.Errorf("%v: %q, wrote nothing %v; want one saying %q, %v", c.err, why, none, c.why, c.none)
		}
		_, refused := unanswered(c.err).(*RefusedError)
		if refused != c.none {
			t.Errorf("%v: a start refused %v, want %v", c.err, refused, c.none)
		}
	}
}

// TestStartsRedisRefusesAreNotStored runs starts against a real redis-server that
// refuses them: an ACL without EVALSHA, and a full Redis with noeviction. Each is a
// RefusedError, not ErrOutcomeUnknown, and stores nothing; Ready and Redis say that
// Redis refuses starts until it takes writes again. A NOPERM on a command start.lua
// runs after its first write stays ErrOutcomeUnknown: that write was made.
func TestStartsRedisRefusesAreNotStored(t *testing.T) {
	b := redistest.Real(t)
	ctx := context.Background()
	addr := b.Client.(*redis.Client).Options().Addr
	set := loadSet(t, &recorder{}, chainSrc)
	user := func(t *testing.T, name string, rules ...any) (*Engine, *redis.Client) {
		args := append([]any{"ACL", "SETUSER", name, "reset", "on", ">pw"}, rules...)
		if err := b.Client.Do(ctx, args...).Err(); err != nil {
			t.Fatal(err)
		}
		c := redis.NewClient(&redis.Options{Addr: addr, Username: name, Password: "pw", MaxRetries: 1})
		t.Cleanup(func() { _ = c.Close() })
		e := New(c, Options{Shards: 1, Logger: quiet, Lease: time.Minute, Retention: time.Hour, RedisMode: RedisStandalone})
		e.Use(set)
		return e, c
	}
	start := func(e *Engine) (string, error) {
		return e.Start(ctx, set.Workflow("chain"), event(`{"name":"x"}`))
	}
	notStored := func(t *testing.T, err error, why string) {
		t.Helper()
		if !errors.Is(err, ErrRefused) || errors.Is(err, ErrOutcomeUnknown) || !strings.Contains(err.Error(), why) {
			t.Fatalf("a start Redis refused: %v, want ErrRefused saying %q", err, why)
		}
		var r interface{ Refusal() string }
		if !errors.As(err, &r) || !strings.Contains(r.Refusal(), why) {
			t.Errorf("%v has no Refusal saying %q", err, why)
		}
	}
	refusing := func(t *testing.T, e *Engine, why string) {
		t.Helper()
		if err := e.Ready(ctx); !errors.Is(err, ErrStartsRefused) || !strings.Contains(err.Error(), why) {
			t.Errorf("Ready while Redis refuses starts: %v, want ErrStartsRefused saying %q", err, why)
		}
		if st, err := e.Redis(ctx); st.State != "refused" || err == nil {
			t.Errorf("Redis while it refuses starts: %+v, %v", st, err)
		}
	}
	readyAgain := func(t *testing.T, e *Engine) {
		t.Helper()
		testutil.Eventually(t, 5*time.Second, "ready once Redis takes writes", func() bool { return e.Ready(ctx) == nil })
		if st, err := e.Redis(ctx); st.State != "ok" || err != nil {
			t.Errorf("Redis once it takes writes: %+v, %v", st, err)
		}
	}

	t.Run("acl", func(t *testing.T) {
		e, _ := user(t, "noeval", "+@all", "-evalsha", "-eval", "~*")
		if err := e.Ready(ctx); err != nil {
			t.Fatalf("Ready before any start: %v", err)
		}
		_, err := start(e)
		notStored(t, err, "may not run EVALSHA")
		if n := len(b.Keys(ctx, "{hf:0}:run:*")); n != 0 {
			t.Errorf("%d runs stored", n)
		}
		refusing(t, e, "may not run EVALSHA")
		if err := b.Client.Do(ctx, "ACL", "SETUSER", "noeval", "+evalsha", "+eval").Err(); err != nil {
			t.Fatal(err)
		}
		readyAgain(t, e)
		if _, err := start(e); err != nil {
			t.Fatalf("a start once EVALSHA is allowed: %v", err)
		}
	})

	t.Run("inner command after a write", func(t *testing.T) {
		// start.lua increments the open count first, then adds the run to the history.
		e, c := user(t, "nozadd", "+@all", "-zadd", "~*")
		b.Client.Del(ctx, "{hf:0}:open")
		_, err := start(e)
		if !errors.Is(err, ErrOutcomeUnknown) || errors.Is(err, ErrRefused) {
			t.Fatalf("a start whose script was refused a command after a write: %v, want ErrOutcomeUnknown", err)
		}
		if n, _ := c.Get(ctx, "{hf:0}:open").Int(); n != 1 {
			t.Errorf("the open count is %d: the write before the refusal, made, is the reason the start may be stored", n)
		}
		if err := e.Ready(ctx); err != nil {
			t.Errorf("Ready after a start that may be stored: %v", err)
		}
	})

	t.Run("full", func(t *testing.T) {
		e, _ := user(t, "full", "+@all", "~*")
		if _, err := start(e); err != nil { // its version's source stored
			t.Fatal(err)
		}
		b.Fill(t)
		runs := len(b.Keys(ctx, "{hf:0}:run:*"))
		_, err := start(e)
		notStored(t, err, "out of memory")
		if n := len(b.Keys(ctx, "{hf:0}:run:*")); n != runs {
			t.Errorf("%d runs stored after a refused start, %d before", n, runs)
		}
		refusing(t, e, "out of memory")
		b.Client.Del(ctx, "filler")
		readyAgain(t, e)
	})
}

// wholeReply is an error reply to a command as a whole, as go-redis gives one.
type wholeReply string

func (e wholeReply) Error() string { return string(e) }
func (wholeReply) RedisError()     {}

// A probe Redis does not answer, after a refusal, says Redis is unreachable: it is no
// sign that Redis still refuses starts.
func TestAProbeWithoutAnswerIsNoRefusal(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() { // takes connections and answers nothing
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	rdb := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), ReadTimeout: 100 * time.Millisecond,
		WriteTimeout: 100 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	r := &refusals{rdb: rdb, keys: []string{"{hf:0}:open"}}
	r.last.Store(&refusal{err: &RefusedError{Reason: "it is out of memory", err: errors.New("OOM command not allowed")}, at: time.Now()})
	_, err = r.probe(context.Background())
	if err == nil || errors.Is(err, ErrStartsRefused) || !strings.Contains(err.Error(), "it is out of memory") {
		t.Errorf("a probe without an answer: %v, want an error that is not ErrStartsRefused, naming the refusal kept", err)
	}
	if r.last.Load() == nil {
		t.Error("the refusal kept was cleared by a probe Redis did not answer")
	}
}
