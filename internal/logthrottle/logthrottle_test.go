package logthrottle

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hookflow/hookflow/internal/testutil"
)

// However lines come, every line is written or counted as suppressed by the next line
// written, and no two lines are written less than Every apart; a line is held back
// Every at most.
func TestThrottleTellsEveryLine(t *testing.T) {
	cases := map[string][]time.Duration{
		"a burst":               {0, 0, 0, 0, 0},
		"around a second's end": {0, 300 * time.Millisecond, 700 * time.Millisecond, 10 * time.Millisecond, 2 * time.Second, 0},
		"just within a second":  {0, 999 * time.Millisecond, time.Millisecond, time.Millisecond},
		"one alone":             {0},
	}
	for _, every := range []time.Duration{10 * time.Millisecond, 40 * time.Millisecond, 350 * time.Millisecond} {
		var gaps []time.Duration
		for range 5 * time.Second / every {
			gaps = append(gaps, every)
		}
		cases["a line every "+every.String()] = gaps
	}
	for name, gaps := range cases {
		for _, every := range []time.Duration{0, 5 * time.Second} {
			t.Run(name+" Every="+every.String(), func(t *testing.T) {
				clock := testutil.NewClock()
				th := &Throttle{Every: every, Clock: clock}
				if every == 0 {
					every = time.Second
				}
				type written struct {
					at, came   time.Time
					suppressed int64
				}
				var lines []written
				var mu sync.Mutex
				log := slog.New(handlerFunc(func(r slog.Record) {
					w := written{at: clock.Now(), came: r.Time}
					r.Attrs(func(a slog.Attr) bool {
						if a.Key == "suppressed" {
							w.suppressed = a.Value.Int64()
						}
						return true
					})
					mu.Lock()
					lines = append(lines, w)
					mu.Unlock()
				}))
				for i, gap := range gaps {
					clock.Advance(gap)
					th.Log(log, slog.LevelWarn, "refused", "n", i)
				}
				clock.Advance(time.Minute)
				told := int64(len(lines))
				for i, l := range lines {
					told += l.suppressed
					if i > 0 && l.at.Sub(lines[i-1].at) < every {
						t.Errorf("line %d written %v after the one before", i, l.at.Sub(lines[i-1].at))
					}
					if l.at.Sub(l.came) > every {
						t.Errorf("line %d held back %v", i, l.at.Sub(l.came))
					}
				}
				if told != int64(len(gaps)) {
					t.Errorf("%d lines written, telling of %d, want %d: %+v", len(lines), told, len(gaps), lines)
				}
			})
		}
	}
}

// handlerFunc is a slog handler that hands each record to a function.
type handlerFunc func(slog.Record)

func (handlerFunc) Enabled(context.Context, slog.Level) bool        { return true }
func (f handlerFunc) Handle(_ context.Context, r slog.Record) error { f(r); return nil }
func (f handlerFunc) WithAttrs([]slog.Attr) slog.Handler            { return f }
func (f handlerFunc) WithGroup(string) slog.Handler                 { return f }

// Each message is a kind of its own: one failure does not hide another, and each line
// counts only the lines of its message left out.
func TestThrottleKeepsKindsApart(t *testing.T) {
	var logs testutil.LogBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	clock := testutil.NewClock()
	th := &Throttle{Every: 5 * time.Second, Clock: clock}
	for i := range 3 {
		th.Log(log, slog.LevelError, "leasing steps failed", "shard", i)
	}
	th.Log(log, slog.LevelError, "recording step result failed", "run", "r1")
	if record := logs.Lines("recording step result failed"); len(record) != 1 || !strings.HasSuffix(record[0], "run=r1 suppressed=0") {
		t.Errorf("recording lines %q, want its own line within the leasing lines' interval", record)
	}
	clock.Advance(5 * time.Second)
	lease := logs.Lines("leasing steps failed")
	if len(lease) != 2 || !strings.HasSuffix(lease[0], "shard=0 suppressed=0") || !strings.HasSuffix(lease[1], "shard=2 suppressed=1") {
		t.Errorf("leasing lines %q, want the first, then the last, shard=2 suppressed=1, once 5s ended", lease)
	}
	if n := len(logs.Lines("recording step result failed")); n != 1 {
		t.Errorf("%d recording lines, want still 1: none was held back", n)
	}
}

// Lines whose message varies are one kind by their key: the first is written, the
// last told when the interval ends, with the count of those between.
func TestThrottleLogKind(t *testing.T) {
	var logs testutil.LogBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	clock := testutil.NewClock()
	th := &Throttle{Every: 10 * time.Second, Clock: clock}
	for _, s := range []string{"10.0.0.5", "10.0.0.6", "10.0.0.7"} {
		th.LogKind("sentinel", log, slog.LevelWarn, "a Redis Sentinel failed: "+s)
	}
	clock.Advance(10 * time.Second)
	lines := logs.Lines("a Redis Sentinel failed")
	if len(lines) != 2 || !strings.Contains(lines[0], "10.0.0.5\" suppressed=0") || !strings.Contains(lines[1], "10.0.0.7\" suppressed=1") {
		t.Errorf("%q, want the first line, then the last with suppressed=1", lines)
	}
}

// LogKindContext hands its caller's context to the handler, for a line written at
// once and for one held back (written later: its values, not its cancel), as slog's
// WarnContext would have.
func TestThrottleLogKindContext(t *testing.T) {
	type key struct{}
	var got []string
	log := slog.New(ctxHandler(func(ctx context.Context, r slog.Record) {
		v, _ := ctx.Value(key{}).(string)
		got = append(got, r.Message+" "+v+" "+fmt.Sprint(ctx.Err()))
	}))
	clock := testutil.NewClock()
	th := &Throttle{Every: 10 * time.Second, Clock: clock}
	for _, s := range []string{"first", "held", "flushed"} {
		ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "from "+s))
		th.LogKindContext(ctx, "sentinel", log, slog.LevelWarn, s)
		cancel()
		if s == "held" {
			clock.Advance(10 * time.Second)
		}
	}
	th.Flush()
	want := []string{"first from first <nil>", "held from held <nil>", "flushed from flushed <nil>"}
	if !slices.Equal(got, want) {
		t.Errorf("the handler got %q, want %q", got, want)
	}
}

// ctxHandler is a slog handler that hands each record and its context to a function.
type ctxHandler func(context.Context, slog.Record)

func (ctxHandler) Enabled(context.Context, slog.Level) bool          { return true }
func (f ctxHandler) Handle(ctx context.Context, r slog.Record) error { f(ctx, r); return nil }
func (f ctxHandler) WithAttrs([]slog.Attr) slog.Handler              { return f }
func (f ctxHandler) WithGroup(string) slog.Handler                   { return f }

// On the wall clock (in a bubble, whose time passes as the goroutines wait), a
// burst's last line held back is written once its second ends, not before.
func TestThrottleFlushesOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs testutil.LogBuffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		var th Throttle
		for i := range 3 {
			th.Log(log, slog.LevelWarn, "refused", "n", i)
		}
		time.Sleep(time.Second - time.Nanosecond)
		synctest.Wait()
		if lines := logs.Lines("refused"); len(lines) != 1 {
			t.Errorf("%q before the second ended, want the first line only", lines)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if lines := logs.Lines("refused"); len(lines) != 2 || !strings.HasSuffix(lines[1], "n=2 suppressed=1") {
			t.Errorf("%q, want two lines, the second n=2 suppressed=1", lines)
		}
	})
}

// At a stop, the lines held back are written at once (Flush), each with what it held
// back before it, in the order they came, and the timers' flushes then write nothing
// more.
func TestThrottleFlushesAtAStop(t *testing.T) {
	var logs testutil.LogBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	clock := testutil.NewClock()
	th := &Throttle{Clock: clock}
	for i := range 3 {
		th.Log(log, slog.LevelWarn, "refused", "n", i)
		clock.Advance(time.Millisecond)
		th.Log(log, slog.LevelWarn, "forged", "n", i)
		clock.Advance(time.Millisecond)
	}
	th.Flush()
	want := []string{"refused", "forged", "refused", "forged"}
	got := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(got) != len(want) || !strings.HasSuffix(got[2], "msg=refused n=2 suppressed=1") || !strings.HasSuffix(got[3], "msg=forged n=2 suppressed=1") {
		t.Errorf("%q, want each kind's first line, then each kind's last, in the order they came, with suppressed=1", got)
	}
	th.Flush()
	clock.Advance(time.Minute)
	if n := len(strings.Split(strings.TrimSpace(logs.String()), "\n")); n != len(want) {
		t.Errorf("%d lines, want no line more:\n%s", n, logs.String())
	}
}

// A line held back at a level the logger does not write is not written, and takes its
// second as a line written would: the WARN lines within it are held back.
func TestThrottleHeldBelowTheLevel(t *testing.T) {
	var logs testutil.LogBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	clock := testutil.NewClock()
	th := &Throttle{Clock: clock}
	th.Log(log, slog.LevelInfo, "refused", "n", 0)
	th.Log(log, slog.LevelInfo, "refused", "n", 1)
	clock.Advance(time.Second)
	th.Log(log, slog.LevelWarn, "refused", "n", 2)
	th.Log(log, slog.LevelWarn, "refused", "n", 3)
	clock.Advance(time.Second)
	if lines := logs.Lines("refused"); len(lines) != 1 || !strings.HasSuffix(lines[0], "n=3 suppressed=1") {
		t.Errorf("%q, want only the last WARN line held back, n=3 suppressed=1", lines)
	}
}
