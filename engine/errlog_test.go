package engine

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

// A Redis outage: the workers' error lines are written once per errEvery, each saying
// how many of its message were not written since the one before; the last one held
// back is written when its interval ends, though Redis answers again and no failure
// comes after it. The pool's throttle reads a clock the test moves.
func TestRedisOutageLogsALineAnInterval(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		e, set, p, out, logs, clock := outagePool(t, b)
		start := func() {
			t.Helper()
			id, err := e.Start(context.Background(), set.Workflow("chain"), event(`{"name": "Ada"}`))
			if err != nil {
				t.Fatal(err)
			}
			if r := waitRun(t, e, id); r.Status != "succeeded" {
				t.Fatalf("run %s, want succeeded", r.Status)
			}
		}
		start()
		const line = "leasing steps failed; retrying"

		out.begin()
		heldBack(t, logs, clock, line, 1)
		clock.Advance(errEvery - time.Millisecond)
		if lines := logs.Lines(line); len(lines) != 1 {
			t.Fatalf("%d lines before the interval ended, want 1: %q", len(lines), lines)
		}
		clock.Advance(time.Millisecond)
		lines := logs.Lines(line)
		if len(lines) != 2 || suppressed(t, lines[1]) < 0 {
			t.Fatalf("once the interval ended, %d lines, want a second one, the last held back, saying suppressed: %q", len(lines), lines)
		}

		heldBack(t, logs, clock, line, 2)
		out.end()
		start() // leasing works again: no more failures
		clock.Advance(errEvery)
		lines = logs.Lines(line)
		if len(lines) != 3 || suppressed(t, lines[2]) < 0 {
			t.Fatalf("once Redis answered and the interval ended, %d lines, want a third one, the last of the outage: %q", len(lines), lines)
		}
		clock.Advance(time.Minute)
		if n := len(logs.Lines(line)); n != 3 {
			t.Errorf("%d lines a minute after the outage, want still 3", n)
		}
		if err := p.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
		if n := len(logs.Lines(line)); n != 3 {
			t.Errorf("%d lines after Stop, want still 3: nothing was held back", n)
		}
	})
}

// Stop writes the error lines held back before it returns: before the process's last
// line, not after it, or never.
func TestStopWritesTheErrorLinesHeldBack(t *testing.T) {
	_, _, p, out, logs, clock := outagePool(t, redistest.Mini(t))
	const line = "leasing steps failed; retrying"
	out.begin()
	heldBack(t, logs, clock, line, 1)
	if err := p.Stop(context.Background()); err != nil {
		t.Errorf("Stop: %v", err)
	}
	lines := logs.Lines(line)
	if len(lines) != 2 || suppressed(t, lines[1]) < 0 {
		t.Errorf("after Stop, %d lines, want a second one, the one held back: %q", len(lines), lines)
	}
	clock.Advance(time.Minute)
	if n := len(logs.Lines(line)); n != 2 {
		t.Errorf("%d lines once the interval ended, want still 2", n)
	}
}

// outagePool returns an engine of chainSrc on b, through a client whose connections
// out cuts, with a pool of one worker started, logging to logs, its throttle reading
// clock.
func outagePool(t *testing.T, b *redistest.Backend) (*Engine, *workflows.Set, *Pool, *outage, *testutil.LogBuffer, *testutil.Clock) {
	t.Helper()
	opts, err := redis.ParseURL(b.URL)
	if err != nil {
		t.Fatal(err)
	}
	out := &outage{dial: (&net.Dialer{}).DialContext}
	if b.Mini != nil {
		out.dial = b.Mini.Dial
	}
	opts.Dialer = out.Dial
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	logs := &testutil.LogBuffer{}
	e := New(rdb, Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	set := loadSet(t, &recorder{}, chainSrc)
	e.Use(set)
	clock := testutil.NewClock()
	p := e.NewPool(1)
	p.errLog.Clock = clock
	p.Start()
	t.Cleanup(func() {
		out.end()
		_ = p.Stop(context.Background())
	})
	return e, set, p, out, logs, clock
}

// heldBack waits until the pool has written n lines of msg, and held back one more:
// the throttle has set a timer to write it. The outage's lines are the only ones that
// come twice.
func heldBack(t *testing.T, logs *testutil.LogBuffer, clock *testutil.Clock, msg string, n int) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, "a line of "+msg+" held back", func() bool {
		lines := logs.Lines(msg)
		if len(lines) > n {
			t.Fatalf("%d lines, want %d and one held back: %q", len(lines), n, lines)
		}
		return len(lines) == n && clock.Pending() > 0
	})
}

var suppressedField = regexp.MustCompile(` suppressed=(\d+)`)

// suppressed is the count a log line says it left out, -1 when it says none.
func suppressed(t *testing.T, line string) int {
	t.Helper()
	m := suppressedField.FindStringSubmatch(line)
	if m == nil {
		return -1
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// outage cuts a Redis client off its server: while it lasts, every connection open is
// closed and every dial refused, as when Redis is down.
type outage struct {
	dial  func(ctx context.Context, network, addr string) (net.Conn, error)
	down  atomic.Bool
	mu    sync.Mutex
	conns []net.Conn
}

func (o *outage) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if o.down.Load() {
		return nil, errors.New("dial " + addr + ": connection refused")
	}
	c, err := o.dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.down.Load() { // it began while this dialled
		c.Close()
		return nil, errors.New("dial " + addr + ": connection refused")
	}
	o.conns = append(o.conns, c)
	return c, nil
}

func (o *outage) begin() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.down.Store(true)
	for _, c := range o.conns {
		c.Close()
	}
	o.conns = nil
}

func (o *outage) end() { o.down.Store(false) }

// Results discarded because their leases were lost (a failover that lost the commits
// of many steps) are logged as the loops' errors are: a line at once, with its run and
// step, then the last held back once errEvery ends, with the count of the others.
func TestLostLeasesLogALineAnInterval(t *testing.T) {
	logs := &testutil.LogBuffer{}
	e := New(redistest.Mini(t).Client, Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	p := e.NewPool(1)
	clock := testutil.NewClock()
	p.errLog.Clock = clock
	const line = "step result discarded: its lease was lost"
	const steps = 50
	for i := range steps {
		j := &job{shard: e.q.shardFor("chain"), id: "j" + strconv.Itoa(i), unit: unit{step: "first"}}
		if p.persist(&runState{id: "r" + strconv.Itoa(i)}, j, func() error { return errStaleLease }) {
			t.Fatal("a write refused for its lease reported stored")
		}
	}
	lines := logs.Lines(line)
	if len(lines) != 1 || !regexp.MustCompile(`run=r0 step=first .*suppressed=0`).MatchString(lines[0]) {
		t.Fatalf("%d results discarded logged %q, want one line, the first's, saying suppressed=0", steps, lines)
	}
	clock.Advance(errEvery)
	lines = logs.Lines(line)
	if len(lines) != 2 || !regexp.MustCompile(`run=r49 .*suppressed=48$`).MatchString(lines[1]) {
		t.Errorf("once the interval ended: %q, want a second line, the last's, saying suppressed=48", lines)
	}
}
