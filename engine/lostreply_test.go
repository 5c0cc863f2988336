package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/metricstest"
	"github.com/hookflow/hookflow/internal/redistest"
)

// lostReply is a hook that lets Redis run the first commit of a step (a call of the
// commit scripts, alone or in a batch), or the nth, and then loses its reply, as a
// connection cut on the way back would.
type lostReply struct {
	hashes map[string]bool
	nth    int32 // the commit whose reply is lost
	seen   atomic.Int32
	armed  atomic.Bool
}

func newLostReply() *lostReply { return newLostReplyAt(1) }

func newLostReplyAt(nth int32) *lostReply {
	h := &lostReply{hashes: map[string]bool{}, nth: nth}
	for _, s := range []*redis.Script{completeScript, advanceScript, finishScript} {
		h.hashes[s.Hash()], h.hashes[manyOf[s].Hash()] = true, true
	}
	h.armed.Store(true)
	return h
}

func (h *lostReply) cuts(cmd redis.Cmder) bool {
	args := cmd.Args()
	if len(args) < 2 || cmd.Name() != "evalsha" || !h.hashes[args[1].(string)] || !h.armed.Load() {
		return false
	}
	return h.seen.Add(1) == h.nth && h.armed.CompareAndSwap(true, false)
}

func (h *lostReply) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *lostReply) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err == nil && h.cuts(cmd) {
			cmd.SetErr(io.EOF)
			return io.EOF
		}
		return err
	}
}

func (h *lostReply) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			if cmd.Err() == nil && h.cuts(cmd) {
				cmd.SetErr(io.EOF)
				err = io.EOF
			}
		}
		return err
	}
}

var _ redis.Hook = (*lostReply)(nil)

// A step whose commit Redis stored, but whose reply was lost, is stored: the commit
// sent again finds its job gone, and the step is neither run again nor left
// uncounted. The run goes on and ends, and each step is counted once.
func TestStepStoredWhenItsCommitsReplyIsLost(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		rec := &recorder{}
		e, reg, set := meteredEngine(t, b, rec, `
workflow "two" {
  step "probe" "a" {
    value = "x"
  }
  step "probe" "b" {
    value = "y"
  }
}`, Options{Lease: 2 * time.Second})
		hook := newLostReply()
		b.Client.AddHook(hook)
		id, err := e.Start(ctx, set.Workflow("two"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		p := startPool(t, e, 1)
		if r := waitRun(t, e, id); r.Status != RunSucceeded {
			t.Fatalf("run %s: %s", r.Status, stepsOf(r))
		}
		if err := p.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if hook.armed.Load() {
			t.Fatal("no commit's reply was lost")
		}
		if calls := rec.list(); len(calls) != 2 {
			t.Errorf("calls %v, want each step once", calls)
		}
		got := metricstest.Histograms(t, reg, "hookflow_step_duration_seconds")
		for _, step := range []string{"a", "b"} {
			if series := "kind=probe,outcome=succeeded,step=" + step + ",workflow=two"; got[series].Count != 1 {
				t.Errorf("%s: %d observations, want 1 (all: %v)", series, got[series].Count, got)
			}
		}
	})
}

const lostReplySrc = `
workflow "line" {
  step "http" "a" {
    url = "%[1]s/a"
  }
  step "http" "b" {
    url = "%[1]s/b"
  }
}

workflow "each" {
  step "http" "call" {
    for_each     = "event.body.items"
    max_parallel = 1
    url          = "%[1]s/call/{{ each.key }}"
    json         = { value = "{{ each.value }}" }
  }
  step "http" "after" {
    url = "%[1]s/after"
  }
}

workflow "both" {
  step "http" "a" {
    url = "%[1]s/a"
  }
  parallel "both" {
    step "http" "b" {
      url = "%[1]s/b"
    }
    step "http" "c" {
      url = "%[1]s/c"
    }
  }
  step "http" "after" {
    url = "%[1]s/after"
  }
}
`

// The unit that a commit leases to its worker, whose reply was lost, runs at once in
// that worker, under that lease: it does not wait for the lease to expire (a minute
// here, past the test's wait for the run's end), nor does its history show an attempt
// lost. So for the next step, the first item of a for_each step (leased with its
// listing), the next item waiting for its max_parallel slot, the step after a join,
// and the first step of a parallel block. Each unit runs once.
func TestNextStepRunsAtOnceWhenItsCommitsReplyIsLost(t *testing.T) {
	for _, tc := range []struct {
		name, wf string
		nth      int32 // the commit whose reply is lost
		paths    []string
	}{
		{"the next step", "line", 1, []string{"/a", "/b"}},
		{"the first item, leased with its listing", "each", 1, []string{"/call/0", "/call/1", "/call/2", "/after"}},
		{"the next item waiting for its slot", "each", 2, []string{"/call/0", "/call/1", "/call/2", "/after"}},
		{"the step after a for_each step's join", "each", 5, []string{"/call/0", "/call/1", "/call/2", "/after"}},
		{"the first step of a parallel block", "both", 1, []string{"/a", "/b", "/c", "/after"}},
		{"the step after a parallel block's join", "both", 4, []string{"/a", "/b", "/c", "/after"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
				ctx := context.Background()
				var mu sync.Mutex
				seen, bodies := map[string]int{}, map[string]string{}
				api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					body, _ := io.ReadAll(r.Body)
					mu.Lock()
					seen[r.URL.Path]++
					bodies[r.URL.Path] = string(body)
					mu.Unlock()
					w.Header().Set("Content-Type", "application/json")
					fmt.Fprint(w, `{"ok":true}`)
				}))
				t.Cleanup(api.Close)
				// Past waitRun's wait: a unit left to its lease's expiry fails the test.
				e, set := apiEngine(t, b, fmt.Sprintf(lostReplySrc, api.URL), time.Minute)
				hook := newLostReplyAt(tc.nth)
				b.Client.AddHook(hook)
				id, err := e.Start(ctx, set.Workflow(tc.wf), event(`{"items":["x","y","z"]}`))
				if err != nil {
					t.Fatal(err)
				}
				startPool(t, e, 1)
				r := waitRun(t, e, id)
				if r.Status != RunSucceeded {
					t.Fatalf("run %s: %s", r.Status, r.Error)
				}
				if hook.armed.Load() {
					t.Fatalf("no commit's reply was lost (%d commits)", hook.seen.Load())
				}
				var units []StepRun
				for _, s := range r.Steps {
					units = append(units, s)
					units = append(units, s.Items...)
				}
				for _, u := range units {
					if u.Items != nil || u.Kind == "parallel" {
						continue // its items, its steps have the attempts
					}
					if u.Attempts != 1 || len(u.Requests) != 1 || u.Requests[0].Lost {
						t.Errorf("%s: %d attempts, requests %+v: want one, not lost", u.Path, u.Attempts, u.Requests)
					}
				}
				mu.Lock()
				defer mu.Unlock()
				for _, path := range tc.paths {
					if seen[path] != 1 {
						t.Errorf("the API saw %s %d times, want once (all: %v)", path, seen[path], seen)
					}
				}
				if len(seen) != len(tc.paths) {
					t.Errorf("the API saw %v, want %v", seen, tc.paths)
				}
				for i, v := range []string{"x", "y", "z"} {
					path := fmt.Sprintf("/call/%d", i)
					if want := `{"value":"` + v + `"}`; seen[path] > 0 && bodies[path] != want {
						t.Errorf("%s sent %s, want %s", path, bodies[path], want)
					}
				}
			})
		})
	}
}

// So for commits that went to Redis together, in one call of their batch form, whose
// reply was lost: each step after them runs at once in the worker that committed the
// step before.
func TestNextStepsRunAtOnceWhenTheirBatchsReplyIsLost(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		const runs = 4
		// The runs' first steps are answered together, once all have sent: their
		// commits are made together, and those made while one is with Redis go in one
		// batch.
		arrived, proceed := make(chan struct{}, runs), make(chan struct{}, runs)
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/a" {
				arrived <- struct{}{}
				select {
				case <-proceed:
				case <-r.Context().Done():
				}
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"ok":true}`)
		}))
		t.Cleanup(api.Close)
		e, set := apiEngine(t, b, fmt.Sprintf(lostReplySrc, api.URL), time.Minute)
		hook := newLostReply()
		hook.hashes = map[string]bool{manyOf[advanceScript].Hash(): true} // a batch of advances only
		b.Client.AddHook(hook)
		startPool(t, e, runs)
		for round := 0; hook.armed.Load(); round++ {
			if round == 100 {
				t.Fatal("no commits went together in 100 rounds")
			}
			ids := make([]string, runs)
			for i := range ids {
				var err error
				if ids[i], err = e.Start(ctx, set.Workflow("line"), event(`{}`)); err != nil {
					t.Fatal(err)
				}
			}
			for range runs {
				select {
				case <-arrived:
				case <-time.After(10 * time.Second):
					t.Fatal("the runs' first steps did not all send their requests")
				}
			}
			for range runs {
				proceed <- struct{}{}
			}
			for _, id := range ids {
				r := waitRun(t, e, id)
				if r.Status != RunSucceeded {
					t.Fatalf("run %s: %s", r.Status, r.Error)
				}
				for _, s := range r.Steps {
					if s.Attempts != 1 || len(s.Requests) != 1 || s.Requests[0].Lost {
						t.Errorf("%s: %d attempts, requests %+v: want one, not lost", s.Path, s.Attempts, s.Requests)
					}
				}
			}
		}
	})
}

// The job a lost reply leased is held for a whole lease once its worker finds it, in
// the call that finds it: when the commit was sent again after the lease had expired
// (but before any worker took the job back), another worker's lease call does not
// take it back and run it too.
func TestTheJobALostReplyLeasedIsHeldAgain(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Lease: 200 * time.Millisecond})
		wf := loadSet(t, &recorder{}, chainSrc).Workflow("chain")
		if err := e.q.start(ctx, "run1", wf, []byte(`{}`), ""); err != nil {
			t.Fatal(err)
		}
		sh := e.q.shardFor("chain")
		jobs, _, err := e.q.lease(ctx, sh, 1)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("leased %v, %v", jobs, err)
		}
		c := commit{job: jobs[0], runID: "run1", wf: wf, record: &Record{Status: StatusSucceeded, Attempt: 1}, chain: true,
			plan: &Plan{Status: RunRunning, Start: []unit{{step: "second"}}}}
		if _, err := e.q.complete(ctx, c); err != nil { // stored, its reply lost
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond) // sent again once the lease it made has expired
		if _, err := e.q.complete(ctx, c); !errors.Is(err, errStaleLease) {
			t.Fatalf("the commit sent again: %v, want errStaleLease", err)
		}
		mine, err := e.q.leasedByLost(ctx, c)
		if err != nil || mine == nil || mine.unit.step != "second" {
			t.Fatalf("leasedByLost = %+v, %v; want the job of step second", mine, err)
		}
		if theirs, _, _ := e.q.lease(ctx, sh, 1); len(theirs) != 0 {
			t.Errorf("another worker leased %s (token %s) while the lost reply's worker holds it (token %s)",
				theirs[0].id, theirs[0].token, mine.token)
		}
	})
}
