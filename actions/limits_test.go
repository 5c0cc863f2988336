package actions

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

// sharedAPIs returns the state of two processes sharing the backend's Redis.
func sharedAPIs(t *testing.T, b *redistest.Backend) (*APIs, *APIs) {
	opts, err := redis.ParseURL(b.URL)
	if err != nil {
		t.Fatal(err)
	}
	other := redis.NewClient(opts)
	t.Cleanup(func() { other.Close() })
	a, c := NewAPIs(), NewAPIs()
	a.Connect(b.Client)
	c.Connect(other)
	return a, c
}

func throttled(t *testing.T, err error, reason string) *workflows.Throttled {
	t.Helper()
	var th *workflows.Throttled
	if !errors.As(err, &th) || th.Reason != reason {
		t.Fatalf("err = %v, want held back by %s", err, reason)
	}
	if retry, _ := workflows.Retryable(err); !retry {
		t.Errorf("a held-back call is not to be tried again")
	}
	return th
}

func TestRateLimitHoldsAcrossProcesses(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		a, c := sharedAPIs(t, b)
		api := &workflows.API{Name: "crm", RateLimit: 5, Per: time.Minute, Burst: 5}
		la, lc := newLimiter(a, api), newLimiter(c, api)
		for i := range 5 {
			if _, err := []*limiter{la, lc}[i%2].admit(t.Context(), callID()); err != nil {
				t.Fatalf("call %d of the burst: %v", i+1, err)
			}
		}
		_, err := lc.admit(t.Context(), callID())
		th := throttled(t, err, "rate_limit")
		if th.After < 10*time.Second || th.After > 12*time.Second+time.Millisecond { // rounded up to Redis's next ms
			t.Errorf("wait %s, want about one call's share of a minute, 12s", th.After)
		}
		if got := testutil.ToFloat64(c.metrics.waits.WithLabelValues("crm", "rate_limit")); got != 1 {
			t.Errorf("waits metric = %v, want 1", got)
		}
		if got := testutil.ToFloat64(a.metrics.calls.WithLabelValues("crm")) + testutil.ToFloat64(c.metrics.calls.WithLabelValues("crm")); got != 5 {
			t.Errorf("calls metric = %v, want 5", got)
		}
	})
}

func TestConcurrencyHoldsAcrossProcesses(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		a, c := sharedAPIs(t, b)
		api := &workflows.API{Name: "crm", Concurrency: 2}
		la, lc := newLimiter(a, api), newLimiter(c, api)
		r1, err := la.admit(t.Context(), callID())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := lc.admit(t.Context(), callID()); err != nil {
			t.Fatal(err)
		}
		_, err = lc.admit(t.Context(), callID())
		throttled(t, err, "concurrency")
		r1() // one call is over: its slot is free
		if _, err := lc.admit(t.Context(), callID()); err != nil {
			t.Fatalf("after a call ended: %v", err)
		}
	})
}

// TestLimitsOfTheWorkflowsInUse: a step loaded with an api's old rate_limit and
// concurrency is admitted by those of the workflows in use once a reload has changed
// them, and by its own again for an api the workflows in use no longer define.
func TestLimitsOfTheWorkflowsInUse(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		a, _ := sharedAPIs(t, b)
		old := newLimiter(a, &workflows.API{Name: "crm", RateLimit: 100, Per: time.Second, Burst: 1})
		a.Use([]*workflows.API{{Name: "crm", RateLimit: 1, Per: time.Minute, Burst: 1}})
		if _, err := old.admit(t.Context(), "first"); err != nil {
			t.Fatal(err)
		}
		_, err := old.admitCall(t.Context(), &workflows.Call{RunID: "r1", Step: "s", Attempt: 1})
		if th := throttled(t, err, "rate_limit"); th.After < 50*time.Second {
			t.Errorf("wait %s, want about the minute of the rate_limit in use", th.After)
		}
		if turns, _ := b.Client.ZRange(t.Context(), old.turns, 0, -1).Result(); len(turns) != 1 || turns[0] == "" {
			t.Errorf("turns booked %q, want the step's own", turns)
		}

		a.Use([]*workflows.API{{Name: "crm", Concurrency: 1}})
		release, err := old.admit(t.Context(), callID())
		if err != nil {
			t.Fatalf("the rate_limit taken out: %v", err)
		}
		_, err = old.admit(t.Context(), callID())
		throttled(t, err, "concurrency")
		release()

		a.Use(nil) // the api is gone from the files: the step's own limits, 100/s
		_, err = old.admit(t.Context(), callID())
		if th := throttled(t, err, "rate_limit"); th.After < 50*time.Second {
			// The bucket is shared: the minute the last call booked still holds.
			t.Errorf("wait %s, want the rest of the minute the last call under 1/m booked", th.After)
		}
	})
}

func TestRetryAfterSlowsEveryCallOfTheAPI(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusTooManyRequests)
		}))
		t.Cleanup(srv.Close)
		a, c := sharedAPIs(t, b)
		load := func(apis *APIs) *workflows.Step {
			k := workflows.NewKinds()
			Register(k, Options{Client: NewClient(NewGuard(loopback)), APIs: apis})
			src := `api "crm" {
  base_url = "` + srv.URL + `"
}
workflow "w" {
  step "http" "a" {
    api = "crm"
    url = "/a"
  }
}`
			set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(src)}}, k)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			return set.Workflow("w").Steps[0]
		}
		first, second := load(a), load(c)
		_, err := first.Action.Do(t.Context(), &workflows.Call{Env: &workflows.Env{}, RunID: "r1", Step: "a", Attempt: 1})
		if err == nil || !strings.Contains(err.Error(), "429") {
			t.Fatalf("err = %v, want the 429", err)
		}
		// Another process's call of the same api is held back, before sending anything.
		c2 := &workflows.Call{Env: &workflows.Env{}, RunID: "r2", Step: "a", Attempt: 1}
		_, err = second.Action.Do(t.Context(), c2)
		th := throttled(t, err, "retry_after")
		if th.After < 20*time.Second || th.After > 30*time.Second {
			t.Errorf("wait %s, want what is left of 30s", th.After)
		}
		if c2.Sent != nil {
			t.Errorf("a held-back call recorded a request: %+v", c2.Sent)
		}
		if got := testutil.ToFloat64(a.metrics.tooMany.WithLabelValues("crm")); got != 1 {
			t.Errorf("429 metric = %v, want 1", got)
		}

		// No longer than the step that got it waits: its retry's max.
		_, err = first.Action.Do(t.Context(), &workflows.Call{Env: &workflows.Env{}, RunID: "r3", Step: "a", Attempt: 1,
			RetryMax: 5 * time.Second})
		if err == nil {
			t.Fatal("the call was not held back")
		}
		b.Client.Del(t.Context(), first.Action.(*HTTP).limits.slow)
		_, err = first.Action.Do(t.Context(), &workflows.Call{Env: &workflows.Env{}, RunID: "r4", Step: "a", Attempt: 1,
			RetryMax: 5 * time.Second})
		if err == nil || !strings.Contains(err.Error(), "429") {
			t.Fatalf("err = %v, want the 429", err)
		}
		_, err = second.Action.Do(t.Context(), &workflows.Call{Env: &workflows.Env{}, RunID: "r5", Step: "a", Attempt: 1})
		if th := throttled(t, err, "retry_after"); th.After > 5*time.Second {
			t.Errorf("wait %s, want at most the retry's max of 5s, though the API asked for 30s", th.After)
		}
	})
}

// A call whose api has no limits and no Redis is sent without asking anything.
func TestNoRedisNoLimits(t *testing.T) {
	api := &workflows.API{Name: "crm", RateLimit: 1, Per: time.Hour, Burst: 1}
	l := newLimiter(NewAPIs(), api)
	for i := range 3 {
		if _, err := l.admit(context.Background(), callID()); err != nil {
			t.Fatal(fmt.Sprint(i), err)
		}
	}
}

// limitClock is the clock the limits read, Redis's: miniredis's is set by the test, a
// redis-server's is the machine's, which the test waits for.
type limitClock struct {
	b   *redistest.Backend
	now time.Time // miniredis's
}

func newLimitClock(b *redistest.Backend) *limitClock {
	c := &limitClock{b: b, now: time.Now().Truncate(time.Second)}
	if b.Mini != nil {
		b.Mini.SetTime(c.now)
	}
	return c
}

func (c *limitClock) Now() time.Time {
	if c.b.Mini != nil {
		return c.now
	}
	return time.Now()
}

// Until moves the clock to t, or waits for it.
func (c *limitClock) Until(t time.Time) {
	if c.b.Mini != nil {
		if t.After(c.now) {
			c.now = t
			c.b.Mini.SetTime(t)
		}
		return
	}
	time.Sleep(time.Until(t))
}

// A backlog of steps, shared by two processes, each step queued again for as long as
// the rate limit asks as the engine does: every step is held back once, and goes at
// its turn, one a call's interval after the other. On miniredis, whose clock the test
// sets, the calls admitted keep to the bucket exactly: never more than burst calls,
// plus one per interval, in any stretch of time.
func TestRateLimitServesABacklogInTurn(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		const steps, rate, burst = 40, 50, 3
		a, c := sharedAPIs(t, b)
		api := &workflows.API{Name: "crm", RateLimit: rate, Per: time.Second, Burst: burst}
		ls := []*limiter{newLimiter(a, api), newLimiter(c, api)}
		clock := newLimitClock(b)
		due := make([]time.Time, steps) // when each step is queued for; zero once it went
		for i := range due {
			due[i] = clock.Now()
		}
		var admitted []time.Time
		for len(admitted) < steps {
			next := -1
			for i, d := range due {
				if !d.IsZero() && (next < 0 || d.Before(due[next])) {
					next = i
				}
			}
			clock.Until(due[next])
			call := &workflows.Call{RunID: fmt.Sprintf("run%d", next), Step: "call", Attempt: 1}
			_, err := ls[next%2].admit(t.Context(), turnKey(call))
			if err == nil {
				admitted, due[next] = append(admitted, clock.Now()), time.Time{}
				continue
			}
			due[next] = clock.Now().Add(throttled(t, err, "rate_limit").After)
		}
		waits := testutil.ToFloat64(a.metrics.waits.WithLabelValues("crm", "rate_limit")) +
			testutil.ToFloat64(c.metrics.waits.WithLabelValues("crm", "rate_limit"))
		// On a redis-server, a step this test queues again late (the machine is busy)
		// may find its turn's call gone to the bucket's burst after a stall, and wait
		// once more; a step waking at the next free slot with all the others, as before
		// turns, waited some 700 times in all here.
		if want := float64(steps - burst); waits != want && (b.Mini != nil || waits > 2*want) {
			t.Errorf("%v waits for %d steps past the burst: a step was held back more than once", waits, steps-burst)
		}
		if b.Mini == nil {
			return
		}
		interval := time.Second / rate
		for i := range admitted {
			for j := i + burst; j < len(admitted); j++ {
				if gap, least := admitted[j].Sub(admitted[i]), time.Duration(j-i-burst+1)*interval; gap < least {
					t.Fatalf("calls %d and %d admitted %s apart, want at least %s", i, j, gap, least)
				}
			}
		}
		if last, want := admitted[steps-1].Sub(admitted[0]), time.Duration(steps-burst)*interval; last != want {
			t.Errorf("the backlog took %s, want %s: one call per interval past the burst", last, want)
		}
	})
}

// A turn whose step never comes back (its process died) passes: the steps booked
// after it go at their own turns, and a call after the last turn goes as the bucket
// allows.
func TestRateLimitTurnNotTakenPasses(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		a, c := sharedAPIs(t, b)
		api := &workflows.API{Name: "crm", RateLimit: 20, Per: time.Second, Burst: 1}
		la, lc := newLimiter(a, api), newLimiter(c, api)
		clock := newLimitClock(b)
		if _, err := la.admit(t.Context(), "first"); err != nil {
			t.Fatal(err)
		}
		_, err := la.admit(t.Context(), "dies")
		throttled(t, err, "rate_limit")
		_, err = lc.admit(t.Context(), "waits")
		th := throttled(t, err, "rate_limit")
		if b.Mini != nil && th.After != 100*time.Millisecond {
			t.Errorf("the second step held back waits %s, want two intervals, 100ms", th.After)
		}
		clock.Until(clock.Now().Add(th.After)) // queued again once the answer came, as the engine does
		if _, err := lc.admit(t.Context(), "waits"); err != nil {
			t.Fatalf("at its turn, after a turn not taken: %v", err)
		}
		clock.Until(clock.Now().Add(50 * time.Millisecond))
		if _, err := la.admit(t.Context(), "new"); err != nil {
			t.Fatalf("a call after the last turn: %v", err)
		}
	})
}

// A step that comes back after its turn passed, the bucket not letting a call go yet
// (the step before it was admitted late, by a busy process), keeps its place: it goes
// when the bucket next lets a call go, ahead of the turns booked after its own, rather
// than after the whole backlog. Each step is queued again for as long as the rate
// limit asks, and comes back late by what the case says; the steps are admitted in the
// order of their turns. On miniredis, whose clock the test sets, each case's waits are
// exact.
func TestRateLimitLateStepKeepsItsPlace(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name        string
		rate, burst int
		late        []time.Duration // how late each step comes back for its turn, the first time
		waits       float64         // on miniredis: each step's first wait, and those of the steps a late one moved
		// held is how long the second step waits when it comes back on time: the
		// lateness of the first, not the backlog's length (80ms).
		held  time.Duration
		loose bool // on a redis-server, the order is not exact (below)
	}{
		// Turns every 20ms from 20ms: the first step comes back at 25ms.
		{name: "one step late", rate: 50, burst: 1, late: []time.Duration{5 * ms, 0, 0, 0, 0}, waits: 5 + 4, held: 5 * ms},
		// Turns every 50ms from 50ms: the first three come back at 160, 170 and 180ms,
		// before the fourth's turn; the bucket lets one call go at 160ms, and the
		// others queue behind it in the order they came back.
		{name: "steps late together", rate: 20, burst: 1, late: []time.Duration{110 * ms, 70 * ms, 30 * ms, 0, 0, 0}, waits: 6 + 5, held: 40 * ms, loose: true},
		{name: "burst absorbs it", rate: 50, burst: 3, late: []time.Duration{5 * ms, 0, 0, 0, 0}, waits: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
				a, c := sharedAPIs(t, b)
				api := &workflows.API{Name: "crm", RateLimit: tc.rate, Per: time.Second, Burst: tc.burst}
				ls := []*limiter{newLimiter(a, api), newLimiter(c, api)}
				clock := newLimitClock(b)
				for i := range tc.burst { // the burst goes: every step after it books a turn
					if _, err := ls[0].admit(t.Context(), fmt.Sprintf("burst%d", i)); err != nil {
						t.Fatal(err)
					}
				}
				steps := len(tc.late)
				due := make([]time.Time, steps) // when each step is queued for; zero once it went
				waited := make([]int, steps)
				for i := range due {
					_, err := ls[i%2].admit(t.Context(), fmt.Sprintf("step%d", i))
					due[i] = clock.Now().Add(throttled(t, err, "rate_limit").After + tc.late[i])
					waited[i] = 1
				}
				var order []int
				for len(order) < steps {
					next := -1
					for i, d := range due {
						if !d.IsZero() && (next < 0 || d.Before(due[next])) {
							next = i
						}
					}
					clock.Until(due[next])
					_, err := ls[next%2].admit(t.Context(), fmt.Sprintf("step%d", next))
					if err == nil {
						order, due[next] = append(order, next), time.Time{}
						continue
					}
					after := throttled(t, err, "rate_limit").After
					if waited[next]++; next == 1 && b.Mini != nil && after != tc.held {
						t.Errorf("the second step, back on time, waits %s, want %s", after, tc.held)
					}
					due[next] = clock.Now().Add(after)
				}
				for i, s := range order {
					// On a redis-server, whose clock is the machine's, a step queued again
					// a little late (the machine is busy) is admitted late and moves the
					// bucket: a step keeps its place only to a turn or so, and steps late
					// together keep no order.
					if s != i && (b.Mini != nil || !tc.loose && (s-i > 1 || i-s > 1)) {
						t.Fatalf("steps admitted in the order %v, want the order of their turns", order)
					}
				}
				waits := testutil.ToFloat64(a.metrics.waits.WithLabelValues("crm", "rate_limit")) +
					testutil.ToFloat64(c.metrics.waits.WithLabelValues("crm", "rate_limit"))
				if b.Mini != nil && waits != tc.waits {
					t.Errorf("%v waits, want %v (each step's: %v)", waits, tc.waits, waited)
				}
			})
		})
	}
}
