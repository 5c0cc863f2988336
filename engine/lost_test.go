package engine

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

func TestLostRequests(t *testing.T) {
	httpStep := &workflows.Step{Name: "call", Kind: "http"}
	sent := func(attempt, page int) *workflows.Request {
		return &workflows.Request{Attempt: attempt, Page: page, Method: "GET", URL: "http://x", Status: 200}
	}
	lost := lostRequest
	for _, tc := range []struct {
		name string
		j    job
		step *workflows.Step
		sent []*workflows.Request
		want []*workflows.Request
	}{
		{"no lease expired", job{attempt: 2, unit: unit{step: "call"}}, httpStep,
			[]*workflows.Request{sent(2, 0)}, []*workflows.Request{sent(2, 0)}},
		{"one lost before", job{attempt: 2, reaped: 1, unit: unit{step: "call"}}, httpStep,
			[]*workflows.Request{sent(2, 0)}, []*workflows.Request{lost(1), sent(2, 0)}},
		{"two lost after a finished attempt", job{attempt: 4, reaped: 2, unit: unit{step: "call", part: partItem}}, httpStep,
			[]*workflows.Request{sent(4, 0)}, []*workflows.Request{lost(2), lost(3), sent(4, 0)}},
		{"nothing sent (the run's timeout, a crash)", job{attempt: 6, reaped: 5, unit: unit{step: "call"}}, httpStep,
			nil, []*workflows.Request{lost(1), lost(2), lost(3), lost(4), lost(5)}},
		{"each after the pages it kept", job{attempt: 3, reaped: 2, unit: unit{step: "call"}}, httpStep,
			[]*workflows.Request{sent(1, 1), sent(2, 2), sent(3, 3), sent(3, 4)},
			[]*workflows.Request{sent(1, 1), lost(1), sent(2, 2), lost(2), sent(3, 3), sent(3, 4)}},
		{"a step of another kind", job{attempt: 2, reaped: 1, unit: unit{step: "call"}}, &workflows.Step{Name: "call", Kind: "set"},
			nil, nil},
		{"a for_each step's listing", job{attempt: 2, reaped: 1, unit: unit{step: "call"}},
			&workflows.Step{Name: "call", Kind: "http", ForEach: &workflows.Expr{}}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := lostRequests(&tc.j, tc.step, tc.sent)
			if g, w := jsonOf(t, got), jsonOf(t, tc.want); g != w {
				t.Errorf("got  %s\nwant %s", g, w)
			}
		})
	}
}

// lostTarget is an API whose first request never gets its answer while the test
// runs: its worker "dies" with it in flight. It records every request's path and
// Idempotency-Key.
type lostTarget struct {
	mu       sync.Mutex
	keys     []string
	inFlight chan struct{} // closed when the first request arrives
	release  chan struct{} // closed when the test ends
	srv      *httptest.Server
}

func newLostTarget(t *testing.T) *lostTarget {
	a := &lostTarget{inFlight: make(chan struct{}), release: make(chan struct{})}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.keys = append(a.keys, r.URL.Path+" "+r.Header.Get("Idempotency-Key"))
		first := len(a.keys) == 1
		a.mu.Unlock()
		if first {
			close(a.inFlight)
			select {
			case <-a.release:
			case <-r.Context().Done():
			}
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok":true}`)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *lostTarget) seen() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.keys...)
}

const lostSrc = `
workflow "one" {
  step "http" "call" {
    method = "POST"
    url    = "%[1]s/call"
    json   = { n = 1 }
  }
}

workflow "each" {
  step "http" "call" {
    for_each = "event.body.items"
    method   = "POST"
    url      = "%[1]s/call/{{ each.key }}"
    json     = { sku = "{{ each.value }}" }
  }
}
`

// An attempt of an http step whose worker stops while its request is in flight (its
// lease expires: the process was killed, or lost Redis) is in the step's history,
// marked lost, before the attempt that another worker then runs: the API saw both
// requests, with the same Idempotency-Key, and the history shows both attempts. So
// for an item of a for_each step, and for a step whose job its run's start leased.
func TestLostAttemptIsRecorded(t *testing.T) {
	for _, tc := range []struct {
		name, wf, body string
		leasedByStart  bool
		path, key      string // of the request, its Idempotency-Key after the run's id
	}{
		{"a step leased from the queue", "one", `{}`, false, "/call", ":call"},
		{"a step leased by its start", "one", `{}`, true, "/call", ":call"},
		{"an item of a for_each step", "each", `{"items":["a"]}`, true, "/call/0", ":call:0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
				ctx := context.Background()
				api := newLostTarget(t)
				src := fmt.Sprintf(lostSrc, api.srv.URL)
				// The lease outlasts the test: nothing but the test expires it.
				dying, set := apiEngine(t, b, src, time.Minute)
				wf := set.Workflow(tc.wf)
				var id string
				start := func() {
					var err error
					if id, err = dying.Start(ctx, wf, event(tc.body)); err != nil {
						t.Fatal(err)
					}
				}
				if !tc.leasedByStart {
					start()
				}
				startPool(t, dying, 1)
				if tc.leasedByStart {
					start()
				}
				var once sync.Once
				done := func() { once.Do(func() { close(api.release) }) }
				t.Cleanup(done) // before the pool stops: its step gets its answer, too late
				select {
				case <-api.inFlight:
				case <-time.After(10 * time.Second):
					t.Fatal("the first attempt never sent its request")
				}

				// Its worker stops here: its lease expires, and another process takes the
				// job back and runs the step again.
				sh := dying.q.shardFor(wf.Name)
				leased, err := b.Client.ZRange(ctx, sh.leases(), 0, -1).Result()
				if err != nil || len(leased) != 1 {
					t.Fatalf("leases %v, %v: want the one of the attempt in flight", leased, err)
				}
				if err := b.Client.ZAdd(ctx, sh.leases(), redis.Z{Score: 0, Member: leased[0]}).Err(); err != nil {
					t.Fatal(err)
				}
				other, _ := apiEngine(t, b, src, time.Minute)
				startPool(t, other, 1)
				r := waitRun(t, other, id)
				done()

				if r.Status != RunSucceeded {
					t.Fatalf("run %s: %s", r.Status, r.Error)
				}
				u := r.Steps[0]
				if tc.wf == "each" {
					u = u.Items[0]
				}
				if u.Attempts != 2 || len(u.Requests) != 2 {
					t.Fatalf("%d attempts, requests %+v: want the lost attempt and the next", u.Attempts, u.Requests)
				}
				lostReq, next := u.Requests[0], u.Requests[1]
				if lostReq.Attempt != 1 || !lostReq.Lost || lostReq.Status != 0 || !strings.Contains(lostReq.Error, "the request may have been sent") {
					t.Errorf("first request recorded %+v, want attempt 1 lost, the request maybe sent", lostReq)
				}
				if next.Attempt != 2 || next.Lost || next.Status != 200 || next.Method != "POST" {
					t.Errorf("second request recorded %+v, want attempt 2 answered 200", next)
				}
				want := tc.path + " " + id + tc.key
				if seen := api.seen(); len(seen) != 2 || seen[0] != want || seen[1] != want {
					t.Errorf("the API saw %q, want %q twice", seen, want)
				}
			})
		})
	}
}

// An http step whose workers keep dying on it fails its run with each attempt that
// died in its history, lost: as many attempts as leases expired, none run after them.
func TestStepThatKeepsCrashingListsItsLostAttempts(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		api := newLostTarget(t)
		e, set := apiEngine(t, b, fmt.Sprintf(lostSrc, api.srv.URL), time.Minute)
		id, err := e.Start(ctx, set.Workflow("one"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		sh := e.q.shardFor("one")
		lease := func() *job {
			t.Helper()
			jobs, _, err := e.q.lease(ctx, sh, 1) // takes back the expired lease first
			if err != nil || len(jobs) != 1 {
				t.Fatalf("leased %v, %v", jobs, err)
			}
			return jobs[0]
		}
		for range maxReaps {
			j := lease()
			// Its worker dies: its lease expires.
			if err := b.Client.ZAdd(ctx, sh.leases(), redis.Z{Score: 0, Member: j.id}).Err(); err != nil {
				t.Fatal(err)
			}
		}
		j := lease()
		if j.crashed == "" || j.reaped != maxReaps {
			t.Fatalf("job leased after %d crashes: crashed %q, reaped %d", maxReaps, j.crashed, j.reaped)
		}
		p := e.NewPool(1)
		p.running.Add(1) // as the pool's fetcher would, before execute
		p.slots <- struct{}{}
		p.execute(j)

		r, err := e.Run(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		s := r.Steps[0]
		if r.Status != RunFailed || s.Attempts != maxReaps || len(s.Requests) != maxReaps {
			t.Fatalf("run %s, %d attempts, requests %+v: want it failed after %d attempts, each lost", r.Status, s.Attempts, s.Requests, maxReaps)
		}
		for i, q := range s.Requests {
			if q.Attempt != i+1 || !q.Lost {
				t.Errorf("request %d recorded %+v, want attempt %d lost", i, q, i+1)
			}
		}
		if seen := api.seen(); len(seen) != 0 {
			t.Errorf("the API saw %q: the test's workers sent nothing", seen)
		}
	})
}
