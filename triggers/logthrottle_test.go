package triggers

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

// A flood of requests refused, by verification or by Redis, logs a line at once, then,
// once its second ends, the last line held back, saying how many were not logged
// between the two, though no other request comes; the metrics count every request.
// The throttles read a clock the test moves.
func TestRefusalsAreLoggedOnceASecond(t *testing.T) {
	set, diags := loadHooks("hooks.hcl", `
workflow "signed" {
  trigger "webhook" {
    path = "/github"
    verify "github" {
      secrets = ["It's a Secret to Everybody"]
    }
  }
}

workflow "any" {
  trigger "webhook" {
    path = "/any"
  }
}`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var logs testutil.LogBuffer
	reg := prometheus.NewRegistry()
	starter := &recordingStarter{events: map[string][]*workflows.Event{}, failed: map[string]string{},
		fail: errors.New("redis: connection refused")}
	h := NewWebhooks(starter, slog.New(slog.NewTextHandler(&logs, nil)), nil, WithMetrics(NewMetrics(reg)))
	h.Use(set)
	clock := newFakeClock()
	h.forgedLog.now, h.forgedLog.after = clock.now, clock.after
	h.queueLog.now, h.queueLog.after = clock.now, clock.after
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	post := func(path string, header http.Header) int {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(`{"n": 1}`))
		req.Header.Set("Content-Type", "application/json")
		for k, vs := range header {
			req.Header[k] = vs
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	forged := http.Header{"X-Hub-Signature-256": {"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}}
	for _, c := range []struct {
		name, path, line, reason string
		header                   http.Header
		status                   int
	}{
		{"a forged signature", "/hooks/github", "webhook refused", "bad_signature", forged, http.StatusUnauthorized},
		{"Redis refusing the start", "/hooks/any", "cannot queue run", "unavailable", nil, http.StatusServiceUnavailable},
	} {
		t.Run(c.name, func(t *testing.T) {
			const flood = 200
			for range flood {
				if status := post(c.path, c.header); status != c.status {
					t.Fatalf("answered %d, want %d", status, c.status)
				}
			}
			if lines := logs.Lines(c.line); len(lines) != 1 || !strings.Contains(lines[0], "suppressed=0") {
				t.Errorf("%d requests refused within a second logged %d lines, want 1 saying suppressed=0: %q", flood, len(lines), lines)
			}
			clock.advance(time.Second) // no request comes
			lines := logs.Lines(c.line)
			if len(lines) != 2 || !strings.HasSuffix(lines[1], "suppressed=198") {
				t.Errorf("once the second ended, %d lines, want a second one, the last held back, saying suppressed=198: %q", len(lines), lines)
			}
			clock.advance(time.Second)
			post(c.path, c.header)
			lines = logs.Lines(c.line)
			if len(lines) != 3 || !strings.HasSuffix(lines[2], "suppressed=0") {
				t.Errorf("a request a second later: %d lines, want a third one saying suppressed=0: %q", len(lines), lines)
			}
			if n := promtest.ToFloat64(h.metrics.rejected[reasonIndex(t, c.reason)]); n != flood+1 {
				t.Errorf("hookflow_events_rejected_total{reason=%q} = %v, want %d", c.reason, n, flood+1)
			}
		})
	}
}

// reasonIndex is the reason named name.
func reasonIndex(t *testing.T, name string) reason {
	t.Helper()
	for r, n := range reasonNames {
		if n == name {
			return reason(r)
		}
	}
	t.Fatalf("no reason %q", name)
	return 0
}

// fakeClock is a clock the test moves, and the timers set on it, run as it passes them.
type fakeClock struct {
	mu     sync.Mutex
	at     time.Time
	timers []fakeTimer
}

type fakeTimer struct {
	at time.Time
	f  func()
}

func newFakeClock() *fakeClock {
	return &fakeClock{at: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

func (c *fakeClock) after(d time.Duration, f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timers = append(c.timers, fakeTimer{at: c.at.Add(d), f: f})
}

// advance moves the clock by d, running each timer due, in the order they are due, at
// its time.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	end := c.at.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		next := -1
		for i, tm := range c.timers {
			if !tm.at.After(end) && (next < 0 || tm.at.Before(c.timers[next].at)) {
				next = i
			}
		}
		if next < 0 {
			c.at = end
			c.mu.Unlock()
			return
		}
		tm := c.timers[next]
		c.timers = slices.Delete(c.timers, next, next+1)
		if tm.at.After(c.at) {
			c.at = tm.at
		}
		c.mu.Unlock()
		tm.f()
	}
}

// However lines come, every line is written or counted as suppressed by the next line
// written, and no two lines are written less than a second apart; a line is held back
// a second at most.
func TestLogThrottleTellsEveryLine(t *testing.T) {
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
		t.Run(name, func(t *testing.T) {
			clock := newFakeClock()
			th := &logThrottle{now: clock.now, after: clock.after}
			type written struct {
				at, came   time.Time
				suppressed int64
			}
			var lines []written
			var mu sync.Mutex
			log := slog.New(handlerFunc(func(r slog.Record) {
				w := written{at: clock.now(), came: r.Time}
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
				clock.advance(gap)
				th.log(log, slog.LevelWarn, "refused", "n", i)
			}
			clock.advance(time.Minute)
			told := int64(len(lines))
			for i, l := range lines {
				told += l.suppressed
				if i > 0 && l.at.Sub(lines[i-1].at) < logEvery {
					t.Errorf("line %d written %v after the one before", i, l.at.Sub(lines[i-1].at))
				}
				if l.at.Sub(l.came) > logEvery {
					t.Errorf("line %d held back %v", i, l.at.Sub(l.came))
				}
			}
			if told != int64(len(gaps)) {
				t.Errorf("%d lines written, telling of %d, want %d: %+v", len(lines), told, len(gaps), lines)
			}
		})
	}
}

// handlerFunc is a slog handler that hands each record to a function.
type handlerFunc func(slog.Record)

func (handlerFunc) Enabled(context.Context, slog.Level) bool        { return true }
func (f handlerFunc) Handle(_ context.Context, r slog.Record) error { f(r); return nil }
func (f handlerFunc) WithAttrs([]slog.Attr) slog.Handler            { return f }
func (f handlerFunc) WithGroup(string) slog.Handler                 { return f }

// On the real clock, a burst's last line held back is written once its second ends.
func TestLogThrottleFlushesOnTime(t *testing.T) {
	var logs testutil.LogBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	var th logThrottle
	for i := range 3 {
		th.log(log, slog.LevelWarn, "refused", "n", i)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(logs.Lines("refused")) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if lines := logs.Lines("refused"); len(lines) != 2 || !strings.HasSuffix(lines[1], "n=2 suppressed=1") {
		t.Errorf("%q, want two lines, the second n=2 suppressed=1", lines)
	}
}

// At a stop, the line held back is written at once (flushNow), with what it held back
// before it, and the timer's flush then writes nothing more.
func TestLogThrottleFlushesAtAStop(t *testing.T) {
	var logs testutil.LogBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	var th logThrottle
	for i := range 3 {
		th.log(log, slog.LevelWarn, "refused", "n", i)
	}
	th.flushNow()
	if lines := logs.Lines("refused"); len(lines) != 2 || !strings.HasSuffix(lines[1], "n=2 suppressed=1") {
		t.Errorf("%q, want two lines at once, the second n=2 suppressed=1", lines)
	}
	th.flushNow()
	th.flush()
	if lines := logs.Lines("refused"); len(lines) != 2 {
		t.Errorf("%q, want no line more", lines)
	}
}
