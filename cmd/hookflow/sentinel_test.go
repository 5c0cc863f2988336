package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

func TestFewWaitedReplicas(t *testing.T) {
	info := func(n string) string {
		return "# Replication\r\nrole:master\r\nconnected_slaves:" + n + "\r\nslave0:ip=127.0.0.1,port=1,state=online\r\n"
	}
	for _, c := range []struct {
		name, info string
		wait       int
		want       string
	}{
		{"no wait", info("2"), 0, ""},
		{"one of two", info("2"), 1, "--redis-wait-replicas 1 with a primary that has 2 replicas"},
		{"two of three", info("3"), 2, "set --redis-wait-replicas 3"},
		{"all", info("2"), 2, ""},
		{"more than there are", info("1"), 2, ""},
		{"no replicas", info("0"), 1, ""},
		{"no count", "# Replication\r\nrole:master\r\n", 1, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := fewWaitedReplicas(c.info, c.wait)
			if c.want == "" && got != "" || !strings.Contains(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// serve warns at start when a Sentinel failover could lose accepted webhooks: the
// primary has two replicas and --redis-wait-replicas waits for one.
func TestWarnFewWaitedReplicasOnSentinel(t *testing.T) {
	primary, replica := redistest.WithReplica(t)
	other := redistest.Replica(t, primary)
	addr := func(b *redistest.Backend) string { return strings.TrimPrefix(b.URL, "redis://") }
	sentinel := redistest.Sentinel(t, "mymaster", addr(primary), addr(replica), addr(other))
	ctx := context.Background()
	rdb, _, closeRedis, err := openRedis(ctx, "redis+sentinel://"+sentinel+"/mymaster/0", redisTLS{}, 4, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer closeRedis()
	for _, c := range []struct {
		wait int
		warn bool
	}{{0, false}, {1, true}, {2, false}} {
		var logs strings.Builder
		warnFewWaitedReplicas(ctx, rdb, c.wait, slog.New(slog.NewTextHandler(&logs, nil)))
		warned := strings.Contains(logs.String(), "level=WARN") &&
			strings.Contains(logs.String(), "has 2 replicas") && strings.Contains(logs.String(), "set --redis-wait-replicas 2")
		if warned != c.warn {
			t.Errorf("--redis-wait-replicas %d: warned %v, want %v:\n%s", c.wait, warned, c.warn, logs.String())
		}
	}
}

// serve started on a Sentinel URL that cannot work says why, once, in one line: a
// primary name no Sentinel knows is a wrong --redis (exit status 2); Sentinels that
// cannot be reached are named with the reason (3); a sentinel_password they refuse is
// said once, and is a wrong --redis too (2): waiting does not change it.
func TestServeSentinelStartErrors(t *testing.T) {
	t.Setenv("FAULT_API", "http://127.0.0.1:1") // no step runs
	dir := testutil.WriteRelay(t)
	primary := redistest.Real(t)
	sentinel := redistest.Sentinel(t, "mymaster", strings.TrimPrefix(primary.URL, "redis://"))
	locked := redistest.Sentinel(t, "mymaster", strings.TrimPrefix(primary.URL, "redis://"))
	s := redis.NewClient(&redis.Options{Addr: locked})
	if err := s.Do(context.Background(), "ACL", "SETUSER", "default", "resetpass", ">right").Err(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	down, down2 := refusingAddr(t), refusingAddr(t)
	for _, c := range []struct {
		name, url string
		code      int
		want      []string
		once      string
	}{
		{"unknown primary name", "redis+sentinel://" + sentinel + "/nosuch/0", 2,
			[]string{`no Sentinel knows a primary named "nosuch"`, sentinel}, "nosuch"},
		{"no sentinel listening", "redis+sentinel://" + down + "," + down2 + "/mymaster/0", 3,
			[]string{"cannot reach Redis", down + ": dial tcp " + down + ": connect: connection refused", down2 + ": dial tcp"}, "cannot reach Redis"},
		{"wrong sentinel password", "redis+sentinel://" + locked + "/mymaster/0?sentinel_password=wrong", 2,
			[]string{"--redis: no Sentinel of mymaster told its address", locked + ": WRONGPASS", "?sentinel_password="}, "WRONGPASS"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := run(context.Background(), []string{"serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
				"--redis", c.url, dir}, nil, io.Discard, &stderr)
			if code := exitStatus(err, &stderr); code != c.code {
				t.Errorf("exit status %d (%v), want %d", code, err, c.code)
			}
			out := stderr.String()
			for _, want := range c.want {
				if !strings.Contains(out, want) {
					t.Errorf("stderr does not say %q:\n%s", want, out)
				}
			}
			if n := strings.Count(out, c.once); n != 1 {
				t.Errorf("stderr says %q %d times:\n%s", c.once, n, out)
			}
			t.Logf("%s", out)
			if strings.Contains(out, "redis: nil") || strings.Contains(out, "context deadline exceeded") {
				t.Errorf("stderr says what go-redis says, not what is wrong:\n%s", out)
			}
		})
	}
}

// go-redis's Sentinel client's messages: a new primary is logged (at INFO when first
// found, WARN when it changes: a failover), Sentinels that fail at WARN once per 10 s
// with the count left out, the last of those held back once the 10 s end, and the rest
// stays at DEBUG.
func TestSentinelLog(t *testing.T) {
	var logs strings.Builder
	clock := testutil.NewClock()
	l := newRedisLog(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	l.sentinel.failed.Clock = clock
	ctx := context.Background()
	lines := func() []string {
		defer logs.Reset()
		return strings.Split(strings.TrimSpace(logs.String()), "\n")
	}
	for _, c := range []struct {
		name   string
		after  time.Duration // the clock moves first
		format string        // "" for no message
		args   []any
		want   string // "" for no line
	}{
		{"found", 0, `sentinel: new master=%q addr=%q`, []any{"mymaster", "10.0.0.1:6379"},
			`level=INFO msg="Redis primary is 10.0.0.1:6379 (from Sentinel)" primary=mymaster`},
		{"selected", 0, `sentinel: selected addr=%s masterAddr=%s`, []any{"10.0.0.5:26379", "10.0.0.1:6379"}, "level=DEBUG"},
		{"failover", 0, `sentinel: new master=%q addr=%q`, []any{"mymaster", "10.0.0.2:6379"},
			`level=WARN msg="Redis primary is now 10.0.0.2:6379 (Sentinel failover)" primary=mymaster was=10.0.0.1:6379`},
		{"a sentinel fails", 0, `sentinel: GetMasterAddrByName addr=%s, master=%q failed: %s`,
			[]any{"10.0.0.5:26379", "mymaster", "dial tcp 10.0.0.5:26379: connect: connection refused"},
			`level=WARN msg="a Redis Sentinel failed: GetMasterAddrByName addr=10.0.0.5:26379, master=\"mymaster\" failed: dial tcp 10.0.0.5:26379: connect: connection refused" suppressed=0`},
		{"another, soon after", time.Second, `sentinel: GetMasterAddrByName name=%q failed: %s`, []any{"mymaster", "EOF"}, ""},
		{"and another", time.Second, `sentinel: Sentinels master=%q failed: %s`, []any{"mymaster", "EOF"}, ""},
		{"10 s after the first: the last held back, and one more held", 10 * time.Second, `sentinel: Replicas master=%q failed: %s`, []any{"mymaster", "EOF"},
			`level=WARN msg="a Redis Sentinel failed: Sentinels master=\"mymaster\" failed: EOF" suppressed=1`},
		{"other chatter", 0, `redis: connection pool: %s`, []any{"closed"}, "level=DEBUG"},
		{"no failure since: the last held back", 10 * time.Second, "", nil,
			`level=WARN msg="a Redis Sentinel failed: Replicas master=\"mymaster\" failed: EOF" suppressed=0`},
	} {
		clock.Advance(c.after)
		if c.format != "" {
			l.Printf(ctx, c.format, c.args...)
		}
		got := lines()
		if c.want == "" && got[0] != "" || !strings.Contains(got[0], c.want) || len(got) != 1 {
			t.Errorf("%s: logged %q, want a line with %s", c.name, got, c.want)
		}
	}
}

// The line of the last Sentinel that failed, held back, is written once the client
// is closed: serve and worker close Redis just before their stopped line, and a
// failure during the shutdown is not lost.
func TestSentinelLogFlushedAtClose(t *testing.T) {
	var logs strings.Builder
	clock := testutil.NewClock()
	l := newRedisLog(slog.New(slog.NewTextHandler(&logs, nil)))
	l.sentinel.failed.Clock = clock
	ctx := context.Background()
	for _, addr := range []string{"10.0.0.5:26379", "10.0.0.6:26379"} {
		l.Printf(ctx, `sentinel: GetMasterAddrByName addr=%s, master=%q failed: %s`, addr, "mymaster", "EOF")
	}
	if n := strings.Count(logs.String(), "a Redis Sentinel failed"); n != 1 {
		t.Fatalf("%d lines before the close, want the first alone:\n%s", n, logs.String())
	}
	closed := false
	l.closing(func() {
		closed = true
		if strings.Contains(logs.String(), "10.0.0.6") {
			t.Error("the line held back was written before the client closed")
		}
	})()
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if !closed || len(lines) != 2 || !strings.Contains(lines[1], "addr=10.0.0.6:26379") || !strings.Contains(lines[1], "suppressed=0") {
		t.Errorf("after the close: %q, want the line held back, with suppressed=0", lines)
	}
}

// go-redis asks every Sentinel at once and cancels the others once one answers: those
// cancellations are no failure, and stay at DEBUG; a Sentinel whose dial failed before
// it was canceled is logged with that reason, not "context canceled".
func TestSentinelLogCancellations(t *testing.T) {
	refused := errors.New("dial tcp 10.0.0.5:26379: connect: connection refused")
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
		addr string
		err  error
		want string
	}{
		{"canceled, its dial refused before", canceled, "10.0.0.5:26379", fmt.Errorf("dial: %w", context.Canceled),
			`level=WARN msg="a Redis Sentinel failed: GetMasterAddrByName addr=10.0.0.5:26379, master=\"mymaster\" failed: dial tcp 10.0.0.5:26379: connect: connection refused"`},
		{"canceled while it answered", canceled, "10.0.0.6:26379", context.Canceled, "level=DEBUG"},
		{"a failure", context.Background(), "10.0.0.6:26379", errors.New("EOF"), "level=WARN"},
	} {
		var logs strings.Builder
		l := newRedisLog(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
		l.sentinel.watch(&sentinelDials{failed: map[string]error{"10.0.0.5:26379": refused}})
		l.Printf(c.ctx, sentinelAskedEach, c.addr, "mymaster", c.err)
		got := strings.TrimSpace(logs.String())
		if !strings.HasPrefix(got, "time=") || !strings.Contains(got, c.want) || strings.Count(got, "\n") > 0 {
			t.Errorf("%s: logged %q, want one line with %s", c.name, got, c.want)
		}
	}
}

// A start with a Sentinel down and one up logs no cancellation as a Sentinel that
// failed; the one down, if logged, is said to refuse connections.
func TestSentinelDownAtStartLog(t *testing.T) {
	primary := redistest.Real(t)
	sentinel := redistest.Sentinel(t, "mymaster", strings.TrimPrefix(primary.URL, "redis://"))
	down := refusingAddr(t)
	var logs bytes.Buffer
	rdb, _, closeRedis, err := openRedis(context.Background(), "redis+sentinel://"+down+","+sentinel+"/mymaster/0", redisTLS{}, 2,
		slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	closeRedis()
	t.Logf("%s", logs.String())
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "Sentinel failed") && (strings.Contains(line, "context canceled") || !strings.Contains(line, "connection refused")) {
			t.Errorf("logged %s", line)
		}
	}
}

// The messages TestSentinelLog feeds are the ones of the go-redis hookflow is built
// with.
func TestSentinelLogKnowsGoRedisMessages(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/redis/go-redis/v9").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	src, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "sentinel.go"))
	if err != nil {
		t.Fatal(err)
	}
	formats := []string{sentinelNewPrimary}
	for f := range sentinelFailures {
		formats = append(formats, f)
	}
	for _, f := range formats {
		if !strings.Contains(string(src), `"`+f+`"`) {
			t.Errorf("go-redis's sentinel.go has no message %q", f)
		}
	}
}

// A Sentinel that names a primary that cannot be reached fails the start with the
// primary's own reason (connection refused), not with how long it was waited for.
func TestSentinelPrimaryUnreachableSaysWhy(t *testing.T) {
	primary := redistest.Real(t)
	addr := strings.TrimPrefix(primary.URL, "redis://")
	sentinel := redistest.Sentinel(t, "mymaster", addr)
	primary.Stop()
	_, _, _, err := openRedis(context.Background(), "redis+sentinel://"+sentinel+"/mymaster/0", redisTLS{}, 2, discard)
	if err == nil {
		t.Fatal("started on a primary that is down")
	}
	t.Log(err)
	if !strings.Contains(err.Error(), "dial tcp "+addr+": connect: connection refused") || strings.Contains(err.Error(), "no answer") {
		t.Errorf("error %q, want the primary's connection refused", err)
	}
}
