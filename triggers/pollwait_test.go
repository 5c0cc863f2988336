package triggers

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// A poll without an api answered 429 or 503 with a Retry-After (seconds, or an HTTP
// date) is asked again by no process before that time, an hour ahead at most: the
// tick of another process sharing the Redis is skipped, counting no failure, and the
// first tick after it polls. The poll's status shows the time while it is ahead.
func TestPollRetryAfterHoldsEveryProcess(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		retryAfter func() string
		wait       time.Duration // what the poll waits, to the second
	}{
		{"429 seconds", http.StatusTooManyRequests, func() string { return "7" }, 7 * time.Second},
		{"503 seconds", http.StatusServiceUnavailable, func() string { return "120" }, 2 * time.Minute},
		{"429 HTTP date", http.StatusTooManyRequests, func() string {
			return time.Now().Add(10*time.Minute + time.Second).UTC().Format(http.TimeFormat)
		}, 10 * time.Minute},
		{"a day capped", http.StatusTooManyRequests, func() string { return "86400" }, time.Hour},
		{"a year's date capped", http.StatusServiceUnavailable, func() string {
			return time.Now().AddDate(1, 0, 0).UTC().Format(http.TimeFormat)
		}, time.Hour},
	}
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ctx := context.Background()
				b.Client.FlushAll(ctx)
				var calls atomic.Int64
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if calls.Add(1) == 1 {
						w.Header().Set("Retry-After", c.retryAfter())
						w.WriteHeader(c.status)
						return
					}
					w.Header().Set("Content-Type", "application/json")
					fmt.Fprint(w, `{"orders": [{"id": "o1"}]}`)
				}))
				defer srv.Close()
				set := loadPolls(t, srv.Client(), fmt.Sprintf(heldPollSrc, srv.URL))
				wf := set.Workflow("orders")
				poll := wf.Triggers[0].Config.(*Poll)
				var logged testutil.LogBuffer
				var procs []*Poller
				var engines []*engine.Engine
				for range 2 {
					e := engine.New(b.Client, engine.Options{Logger: quietLog, Shards: b.Shards})
					e.Use(set)
					engines = append(engines, e)
					procs = append(procs, NewPoller(e, slog.New(slog.NewTextHandler(&logged, nil))))
				}
				// Each process's clock: the test moves the second's past the wait.
				t0 := time.Now()
				procs[0].now = func() time.Time { return t0 }
				var now atomic.Pointer[time.Time]
				now.Store(&t0)
				procs[1].now = func() time.Time { return *now.Load() }
				at := t0.Add(-time.Hour).Truncate(time.Minute)

				first, second := &streak{}, &streak{}
				procs[0].tick(ctx, wf, poll, first, at)
				if calls.Load() != 1 || first.failures != 1 {
					t.Fatalf("the poll answered %d: %d requests, %d failures; want 1 and 1", c.status, calls.Load(), first.failures)
				}
				until := t0.Add(c.wait)
				if first.retryAt.Before(until.Add(-time.Second)) {
					t.Errorf("the process that got the Retry-After waits until %s, want %s at least", first.retryAt, until)
				}
				st, _ := engines[1].TriggerState(ctx, wf, poll.Key())
				s, _ := st.(*engine.PollStatus)
				if s == nil || s.NotBefore == nil || s.NotBefore.Sub(until).Abs() > time.Second {
					t.Errorf("the poll's status %+v, want not_before %s", st, until.UTC())
				}

				for i, d := range []time.Duration{time.Second, c.wait / 2, c.wait - 2*time.Second} {
					later := t0.Add(d)
					now.Store(&later)
					procs[1].tick(ctx, wf, poll, second, at.Add(time.Duration(i+1)*time.Minute))
				}
				if n := calls.Load(); n != 1 || second.failures != 0 {
					t.Errorf("before the Retry-After passed, the other process sent %d requests and counts %d failures; want none",
						n-1, second.failures)
				}
				if s, _ := engines[1].TriggerState(ctx, wf, poll.Key()); s.(*engine.PollStatus).Failures != 1 {
					t.Errorf("the ticks skipped counted as failures: %+v", s)
				}
				if n := strings.Count(logged.String(), "its API asked it to wait (Retry-After)"); n != 1 {
					t.Errorf("the process that got the Retry-After logged it %d times, want once:\n%s", n, logged.String())
				}
				if n := strings.Count(logged.String(), "a tick is skipped, as its API asked an earlier poll to wait"); n != 1 {
					t.Errorf("the skipped ticks logged %d times, want once:\n%s", n, logged.String())
				}

				past := t0.Add(c.wait + 2*time.Second)
				now.Store(&past)
				procs[1].tick(ctx, wf, poll, second, at.Add(10*time.Minute))
				if n := calls.Load(); n != 2 || second.failures != 0 {
					t.Errorf("once the Retry-After passed: %d requests, %d failures; want the tick to poll", n, second.failures)
				}
			})
		}
	})
}

// A 500 with a Retry-After holds no other process; nor does a 429 to a poll with an
// api, which its api's limits hold (TestPollWaitsForItsAPI).
func TestPollRetryAfterOfA500HoldsNothing(t *testing.T) {
	b := redistest.Mini(t)
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"orders": []}`)
	}))
	defer srv.Close()
	set := loadPolls(t, srv.Client(), fmt.Sprintf(heldPollSrc, srv.URL))
	wf := set.Workflow("orders")
	poll := wf.Triggers[0].Config.(*Poll)
	e := engine.New(b.Client, engine.Options{Logger: quietLog})
	e.Use(set)
	at := time.Now().Add(-time.Hour).Truncate(time.Minute)
	NewPoller(e, quietLog).tick(context.Background(), wf, poll, &streak{}, at)
	NewPoller(e, quietLog).tick(context.Background(), wf, poll, &streak{}, at.Add(time.Minute))
	if n := calls.Load(); n != 2 {
		t.Errorf("%d requests, want 2: a 500's Retry-After holds the other processes", n)
	}
}

var (
	_ statusAnswer = (*actions.StatusError)(nil)
	_ pollWaits    = (*engine.Engine)(nil)
)

// A 503's Retry-After holds a poll with an api in every process too: its api's
// limits hold only a 429's (TestPollWaitsForItsAPI).
func TestPollRetryAfterOfA503HoldsAPollWithAnAPI(t *testing.T) {
	b := redistest.Mini(t)
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"orders": []}`)
	}))
	defer srv.Close()
	src := fmt.Sprintf(shopPoll, srv.URL, "")
	first, _, wf, poll := apiPoller(t, b, srv.Client(), src)
	second, _, wf2, poll2 := apiPoller(t, b, srv.Client(), src)
	t0 := time.Now()
	first.now = func() time.Time { return t0 }
	second.now = func() time.Time { return t0.Add(time.Minute) }
	at := t0.Add(-time.Hour).Truncate(time.Minute)
	first.tick(context.Background(), wf, poll, &streak{}, at)
	second.tick(context.Background(), wf2, poll2, &streak{}, at.Add(time.Minute))
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d requests, want 1: the other process asked before the 503's Retry-After passed", n)
	}
	second.now = func() time.Time { return t0.Add(2*time.Minute + time.Second) }
	second.tick(context.Background(), wf2, poll2, &streak{}, at.Add(2*time.Minute))
	if n := calls.Load(); n != 2 {
		t.Errorf("%d requests, want 2: the tick after the Retry-After polls", n)
	}
}
