package embedredis_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/embedredis"
	"github.com/hookflow/hookflow/internal/redistest"
)

func client(t testing.TB) *redis.Client {
	t.Helper()
	m, err := embedredis.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr(), Dialer: m.Dial})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// Scripts see KEYS and ARGV, call commands, and their results convert as a real
// Redis converts them: the same cases pass on a real redis-server.
func TestScriptReplies(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { testScriptReplies(t, client(t)) })
	t.Run("redis-server", func(t *testing.T) { testScriptReplies(t, redistest.Real(t).Client) })
}

func testScriptReplies(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	for _, c := range []struct {
		script string
		keys   []string
		args   []any
		want   any
		err    string
	}{
		{script: `return KEYS[1] .. ARGV[1]`, keys: []string{"k"}, args: []any{"v"}, want: "kv"},
		{script: `return 3.9`, want: int64(3)},
		{script: `return true`, want: int64(1)},
		{script: `return false`, err: "redis: nil"},
		{script: `return {1, "a", {2}}`, want: []any{int64(1), "a", []any{int64(2)}}},
		{script: `return {1, nil, 3}`, want: []any{int64(1)}},
		{script: `redis.call('SET', KEYS[1], 5); return redis.call('INCRBY', KEYS[1], ARGV[1])`, keys: []string{"n"}, args: []any{2}, want: int64(7)},
		{script: `return redis.call('GET', 'missing')`, err: "redis: nil"},
		{script: `return tostring(redis.call('GET', 'missing'))`, want: "false"},
		{script: `return redis.call('SET', 'x', 1)`, want: "OK"},
		{script: `return redis.status_reply('FINE')`, want: "FINE"},
		{script: `return redis.error_reply('HFSTALE the lease moved')`, err: "HFSTALE the lease moved"},
		{script: `return redis.error_reply('no code')`, err: "no code"},
		{script: `local r = redis.pcall('INCR', 'h'); return r`, want: int64(1)},
		{script: `redis.call('HSET', 'h2', 'f', 'v'); local r = redis.pcall('INCR', 'h2'); return r.err`, want: "WRONGTYPE Operation against a key holding the wrong kind of value"},
		{script: `redis.call('HSET', 'h3', 'f', 'v'); return redis.call('INCR', 'h3')`, err: "WRONGTYPE"},
		{script: `x = 1; return 1`, err: "Attempt to modify a readonly table"},
		{script: `return y`, err: "Script attempted to access nonexistent global variable 'y'"},
		{script: `return cjson.encode({a = 1})`, want: `{"a":1}`},
		{script: `return redis.sha1hex('')`, want: "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
		{script: `return redis.call('MULTI')`, err: "not allowed from script"},
		{script: `return math.max(unpack({1, 5, 2})) .. string.sub('hello', 1, 2)`, want: "5he"},
		{script: `return nil +`, err: "Error compiling script"},
	} {
		got, err := rdb.Eval(ctx, c.script, c.keys, c.args...).Result()
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: got %v, %v; want error %q", c.script, got, err, c.err)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: got %#v, %v; want %#v", c.script, got, err, c.want)
		}
	}
}

// go-redis sends EVALSHA first and EVAL on NOSCRIPT; SCRIPT LOAD, EXISTS and FLUSH
// agree with what EVALSHA finds.
func TestScriptCache(t *testing.T) {
	ctx := context.Background()
	rdb := client(t)
	s := redis.NewScript(`return ARGV[1] * 2`)
	if n, err := s.Run(ctx, rdb, nil, 21).Int(); err != nil || n != 42 {
		t.Fatalf("Run: %d, %v", n, err)
	}
	if err := rdb.EvalSha(ctx, "0123456789012345678901234567890123456789", nil).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOSCRIPT") {
		t.Fatalf("unknown sha: %v", err)
	}
	sha, err := rdb.ScriptLoad(ctx, `return 'loaded'`).Result()
	if err != nil {
		t.Fatal(err)
	}
	if v, err := rdb.EvalSha(ctx, sha, nil).Result(); err != nil || v != "loaded" {
		t.Fatalf("EvalSha after SCRIPT LOAD: %v, %v", v, err)
	}
	if ex, err := rdb.ScriptExists(ctx, sha, s.Hash()).Result(); err != nil || !ex[0] || !ex[1] {
		t.Fatalf("SCRIPT EXISTS: %v, %v", ex, err)
	}
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.EvalSha(ctx, sha, nil).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOSCRIPT") {
		t.Fatalf("after SCRIPT FLUSH: %v", err)
	}
	// A script in a MULTI runs at EXEC, by miniredis, while other clients run scripts.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				_ = s.Run(ctx, rdb, nil, 1).Err()
			}
		}
	}()
	for i := range 50 {
		pipe := rdb.TxPipeline()
		ev := s.Eval(ctx, pipe, nil, 6)
		again := s.EvalSha(ctx, pipe, nil, 7)
		loop := pipe.Eval(ctx, `local n = 0 for i = 1, 20000 do n = n + i end return redis.call('INCR', KEYS[1])`, []string{"m"})
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatalf("MULTI %d: %v", i, err)
		}
		if ev.Val() != int64(12) || again.Val() != int64(14) || loop.Val() != int64(i+1) {
			t.Fatalf("scripts in a MULTI: %v, %v, %v", ev.Val(), again.Val(), loop.Val())
		}
	}
}

// A script is atomic: no other client's command runs between its commands. Each
// script reads a counter, yields to Go (a command), and writes it back plus one;
// with the gate, no increment is lost.
func TestScriptsAreAtomic(t *testing.T) {
	ctx := context.Background()
	rdb := client(t)
	rdb.Options().PoolSize = 16
	s := redis.NewScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
for i = 1, 20 do redis.call('LPUSH', KEYS[2], i) end
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[1], n + 1)
return n + 1`)
	const goroutines, each = 8, 200
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if i%2 == 0 {
					if err := s.Run(ctx, rdb, []string{"counter", "scratch"}).Err(); err != nil {
						t.Error(err)
						return
					}
				} else if err := rdb.Incr(ctx, "counter").Err(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n, err := rdb.Get(ctx, "counter").Int(); err != nil || n != goroutines*each {
		t.Fatalf("counter = %d, %v; want %d", n, err, goroutines*each)
	}
}

// An embedded Redis started in memory has no port; Dial reaches it, scripts and all,
// and a dial after Close fails.
func TestStartInMemory(t *testing.T) {
	m, err := embedredis.StartInMemory()
	if err != nil {
		t.Fatal(err)
	}
	if addr := m.Addr(); addr != "" {
		t.Errorf("it listens on %s", addr)
	}
	rdb := redis.NewClient(&redis.Options{Addr: "embedded", Dialer: m.Dial})
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := rdb.Eval(ctx, `return redis.call('GET', KEYS[1]) .. ARGV[1]`, []string{"k"}, "!").Result()
	if err != nil || got != "v!" {
		t.Fatalf("got %v, %v", got, err)
	}
	m.Close()
	if _, err := m.Dial(ctx, "tcp", "embedded"); err == nil {
		t.Error("a dial after Close succeeded")
	}
}
