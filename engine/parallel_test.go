package engine

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

const parallelSrc = `
workflow "order" {
  step "http" "reserve" {
    url = "URL/reserve"
  }
  parallel "notify" {
    step "http" "slack" {
      url  = "URL/slack"
      json = { reserved = "{{ steps.reserve.body.path }}" }
    }
    step "http" "crm" {
      url = "URL/crm"
    }
    step "http" "lines" {
      for_each = "event.body.lines"
      url      = "URL/line/{{ each.key }}"
    }
  }
  step "http" "after" {
    url  = "URL/after"
    json = { slack = "{{ steps.slack.body.path }}", crm = "{{ steps.crm.body.path }}", lines = "{{ len(steps.lines) }}" }
  }
}
`

// The steps of a parallel block start together, and the step after it starts when all
// have finished and reads each of them by name.
func TestParallelStepsStartTogether(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		tg := newTarget(t, 30*time.Millisecond)
		e, set := httpEngine(t, b, strings.ReplaceAll(parallelSrc, "URL", tg.srv.URL))
		id, err := e.Start(context.Background(), set.Workflow("order"), event(`{"lines": [1, 2]}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != RunSucceeded {
			t.Fatalf("run %+v", r.RunSummary)
		}
		calls := tg.list()
		if len(calls) != 6 || calls[0].path != "/reserve" || calls[5].path != "/after" {
			t.Fatalf("calls %+v: want reserve, the block's four, then after", calls)
		}
		tg.mu.Lock()
		peak := tg.peak
		tg.mu.Unlock()
		if peak < 3 {
			t.Errorf("at most %d calls in flight: the block's steps did not run together", peak)
		}
		if body := afterBody(t, tg); body["slack"] != "/slack" || body["crm"] != "/crm" || body["lines"] != float64(2) {
			t.Errorf("after read %v", body)
		}
		var paths []string
		for _, s := range r.Steps {
			paths = append(paths, s.Path+"="+string(s.Status))
		}
		want := "[reserve=succeeded notify=succeeded notify/slack=succeeded notify/crm=succeeded notify/lines=succeeded after=succeeded]"
		if got := "[" + strings.Join(paths, " ") + "]"; got != want {
			t.Errorf("steps %v, want %s", paths, want)
		}
		if keys := tg.list(); keys[1].key == keys[2].key {
			t.Errorf("two steps of the block share an Idempotency-Key: %q", keys[1].key)
		}
	})
}

// A failed step fails the run once its siblings have settled; a replay runs only it.
func TestParallelFailureWaitsForSiblings(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		tg := newTarget(t, 20*time.Millisecond)
		tg.failPath("/crm", http.StatusBadRequest)
		e, set := httpEngine(t, b, strings.ReplaceAll(parallelSrc, "URL", tg.srv.URL))
		id, err := e.Start(context.Background(), set.Workflow("order"), event(`{"lines": [1, 2, 3]}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != RunFailed || !strings.HasPrefix(r.Error, "step crm: ") {
			t.Fatalf("run %+v", r.RunSummary)
		}
		status := map[string]Status{}
		for _, s := range r.Steps {
			status[s.Path] = s.Status
		}
		if status["notify/slack"] != StatusSucceeded || status["notify/lines"] != StatusSucceeded ||
			status["notify/crm"] != StatusFailed || status["notify"] != StatusFailed || status["after"] != StatusCancelled {
			t.Fatalf("steps %v", status)
		}
		tg.failPath("/crm", 0)
		if _, err := e.Replay(context.Background(), id, ReplayOptions{}); err != nil {
			t.Fatal(err)
		}
		if r := waitRun(t, e, id); r.Status != RunSucceeded {
			t.Fatalf("replayed run %+v", r.RunSummary)
		}
		got := tg.paths()
		if got["/crm"] != 2 || got["/slack"] != 1 || got["/line/0"] != 1 || got["/reserve"] != 1 || got["/after"] != 1 {
			t.Errorf("calls %v: the replay should run crm again and nothing else of the block", got)
		}
	})
}

const delaySrc = `
workflow "hold" {
  parallel "both" {
    step "delay" "pause" {
      duration = "300ms"
    }
    step "http" "fast" {
      url = "URL/fast"
    }
  }
  step "delay" "each_pause" {
    for_each = "event.body.xs"
    duration = "{{ each.value }}ms"
  }
  step "http" "after" {
    url = "URL/after"
  }
}
`

// A delay in a parallel block or a for_each step holds its own unit: the block waits
// for it, and the step after a for_each waits for its longest item.
func TestDelayInsideParallelAndForEach(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		tg := newTarget(t, 0)
		e, set := httpEngine(t, b, strings.ReplaceAll(delaySrc, "URL", tg.srv.URL))
		start := time.Now()
		id, err := e.Start(context.Background(), set.Workflow("hold"), event(`{"xs": [50, 400, 100]}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != RunSucceeded {
			t.Fatalf("run %+v", r.RunSummary)
		}
		// The after step cannot start before 300ms (the block) + 400ms (the longest item).
		var afterAt time.Time
		for _, s := range r.Steps {
			if s.Name == "after" {
				afterAt = *s.FinishedAt
			}
		}
		if took := afterAt.Sub(start); took < 700*time.Millisecond {
			t.Errorf("the step after finished %s after the start: a delay did not hold its unit", took)
		}
		for _, s := range r.Steps {
			if s.Status != StatusSucceeded {
				t.Errorf("%s: %s", s.Path, s.Status)
			}
		}
	})
}

// A for_each step of a parallel block whose items cannot be listed fails, and the block
// settles with it: the run ends, failed, rather than wait for the block forever.
func TestParallelForEachThatCannotList(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		tg := newTarget(t, 0)
		e, set := httpEngine(t, b, strings.ReplaceAll(parallelSrc, "URL", tg.srv.URL))
		id, err := e.Start(context.Background(), set.Workflow("order"), event(`{"lines": "not a list"}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != RunFailed || !strings.Contains(r.Error, "step lines: for_each") {
			t.Fatalf("run %+v", r.RunSummary)
		}
		if got := tg.paths(); got["/slack"] != 1 || got["/crm"] != 1 || got["/after"] != 0 {
			t.Errorf("calls %v", got)
		}
	})
}

// bothLeased starts run1 of a workflow whose parallel block "p" runs x and y (then
// after), and leases the block's two jobs, as two workers would.
func bothLeased(t *testing.T, b *redistest.Backend) (*Engine, *workflows.Workflow, []*job) {
	t.Helper()
	ctx := context.Background()
	e := New(b.Client, Options{Shards: b.Shards, Logger: quiet})
	wf := loadSet(t, &recorder{}, `
workflow "both" {
  parallel "p" {
    step "probe" "x" {
      value = "x"
    }
    step "probe" "y" {
      value = "y"
    }
  }
  step "probe" "after" {
    value = "a"
  }
}`).Workflow("both")
	if err := e.q.start(ctx, "run1", wf, []byte(`{}`), ""); err != nil {
		t.Fatal(err)
	}
	jobs, _, err := e.q.lease(ctx, e.q.shardFor("both"), 10)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("leased %d, %v", len(jobs), err)
	}
	return e, wf, jobs
}

// When a unit fails its run while others of it are in flight (it could not be resumed:
// its version is gone), what those others commit later is kept as their record, and
// nothing follows: no join, no second end of the run.
func TestUnitsAfterTheRunEndedStartNothing(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, wf, jobs := bothLeased(t, b)
		sh := e.q.shardFor("both")
		failed := commit{job: jobs[0], runID: "run1", wf: wf, record: &Record{Status: StatusFailed, Error: "gone"}, dead: true,
			plan: &Plan{Status: RunFailed, Error: "step x: gone"}}
		if _, err := e.q.complete(ctx, failed); err != nil {
			t.Fatal(err)
		}
		late := commit{job: jobs[1], runID: "run1", wf: wf, record: &Record{Status: StatusSucceeded},
			plan: &Plan{Status: RunRunning, Join: "p"}}
		if _, err := e.q.complete(ctx, late); err != nil {
			t.Fatal(err)
		}
		run := b.Client.HGetAll(ctx, sh.run("run1")).Val()
		if run["status"] != "failed" || run["j:p"] != "2" || !strings.Contains(run["s:"+jobs[1].unit.step], "succeeded") {
			t.Errorf("run %v", run)
		}
		if open := b.Client.Get(ctx, sh.open()).Val(); open != "0" {
			t.Errorf("open runs %s, want 0", open)
		}
		if n := b.Client.ZCard(ctx, sh.ready("both")).Val(); n != 0 {
			t.Errorf("%d jobs queued after the run ended", n)
		}
		if n := b.Client.ZCard(ctx, sh.dead()).Val(); n != 1 {
			t.Errorf("%d dead letters", n)
		}
	})
}

// Two units of one run that both could not be resumed (their version is gone) end the
// run once: one dead letter, and the count of unfinished runs back at 0.
func TestTwoUnitsFailingTheirRunEndItOnce(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, _, jobs := bothLeased(t, b)
		sh := e.q.shardFor("both")
		stub := &workflows.Workflow{Name: "both"} // as a process that cannot load the version commits
		for _, j := range jobs {
			c := commit{job: j, runID: "run1", wf: stub, record: &Record{Status: StatusFailed, Error: "gone"}, dead: true,
				plan: &Plan{Status: RunFailed, Error: "step " + j.unit.step + ": gone"}}
			if _, err := e.q.complete(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		if open := b.Client.Get(ctx, sh.open()).Val(); open != "0" {
			t.Errorf("open runs %s, want 0", open)
		}
		if n := b.Client.ZCard(ctx, sh.dead()).Val(); n != 1 {
			t.Errorf("%d dead letters, want 1", n)
		}
	})
}

// A for_each step of a parallel block that lists its items after a step beside it
// failed the run starts none of them, and leaves no keys behind.
func TestListingAfterTheRunEndedStartsNothing(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet})
		wf := loadSet(t, &recorder{}, `
workflow "both" {
  parallel "p" {
    step "probe" "x" {
      value = "x"
    }
    step "probe" "lines" {
      for_each = "event.body.items"
      value    = "v"
    }
  }
}`).Workflow("both")
		e.versions.add(wf)
		ev, _ := json.Marshal(event(`{"items": [1, 2, 3]}`))
		if err := e.q.start(ctx, "run1", wf, ev, ""); err != nil {
			t.Fatal(err)
		}
		sh := e.q.shardFor("both")
		jobs, _, err := e.q.lease(ctx, sh, 10)
		if err != nil || len(jobs) != 2 {
			t.Fatalf("leased %d, %v", len(jobs), err)
		}
		x, lines := jobs[0], jobs[1]
		if x.unit.step != "x" {
			x, lines = lines, x
		}
		r, err := e.resume(ctx, lines)
		if err != nil {
			t.Fatal(err)
		}
		failed := commit{job: x, runID: "run1", wf: wf, record: &Record{Status: StatusFailed, Error: "gone"}, dead: true,
			plan: &Plan{Status: RunFailed, Error: "step x: gone"}}
		if _, err := e.q.complete(ctx, failed); err != nil {
			t.Fatal(err)
		}
		step, _ := wf.Step("lines")
		items, isMap, _ := step.Items(r.env)
		enc, _ := encodeItems(items)
		listed := commit{job: lines, runID: "run1", wf: wf, plan: r.planWith(lines.unit, nil, itemSetOf(items, isMap)), items: enc,
			mapItems: isMap, listed: true}
		if _, err := e.q.complete(ctx, listed); err != nil {
			t.Fatal(err)
		}
		if n := b.Client.ZCard(ctx, sh.ready("both")).Val(); n != 0 {
			t.Errorf("%d jobs queued after the run ended", n)
		}
		if n := b.Client.Exists(ctx, sh.items("run1", "lines"), sh.todo("run1", "lines")).Val(); n != 0 {
			t.Errorf("%d keys of the step's items left with no expiry", n)
		}
	})
}

// A failed step of a parallel block cancels nothing: a wait beside it keeps waiting,
// and the block fails the run, and on_failure starts, once the wait is over.
func TestParallelFailureWaitsForAWaitingSibling(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, _, set, _ := realKindsEngine(t, b, `
workflow "approve" {
  parallel "both" {
    step "wait" "approval" {
      timeout = "1h"
    }
    step "probe" "bad" {
      value = "x"
      fail  = true
    }
  }
  on_failure {
    step "probe" "page" {
      value = "{{ run.failed_step }}"
    }
  }
}`, Options{})
		id, err := e.Start(ctx, set.Workflow("approve"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		var r *Run
		testutil.Eventually(t, 10*time.Second, "the failed step recorded", func() bool {
			r, err = e.Run(ctx, id)
			return err == nil && stepsOf(r) != "" && strings.Contains(stepsOf(r), "bad failed")
		})
		if r.Status.Done() || strings.Contains(stepsOf(r), "on_failure/page") {
			t.Fatalf("the run ended before the wait beside the failed step was over: %+v %s", r.RunSummary, stepsOf(r))
		}
		waitStatus(t, e, id, RunWaiting)
		if _, err := e.Resume(ctx, id, "approval", resumeRequest(t, `{}`)); err != nil {
			t.Fatal(err)
		}
		r = waitRun(t, e, id)
		if r.Status != RunFailed || !strings.Contains(stepsOf(r), "bad failed") {
			t.Errorf("run %+v", r.RunSummary)
		}
		if got := stepsOf(r); !strings.Contains(got, "on_failure/page succeeded") {
			t.Errorf("steps %s", got)
		}
	})
}

// A step, a for_each item or a block's step whose attempt is in flight shows running,
// not pending: it has no record until the attempt ends, but its job is leased.
func TestStepsInFlightShowRunning(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		srv, release, calls := holdingServer(t)
		defer close(release) // before the engine's pool stops, which waits for the calls
		e, set := httpEngine(t, b, strings.ReplaceAll(`
workflow "slow" {
  step "http" "first" {
    url = "URL/first"
  }
  parallel "both" {
    step "http" "one" {
      url = "URL/one"
    }
    step "http" "lines" {
      for_each = "[1, 2]"
      url      = "URL/line/{{ each.key }}"
    }
  }
}`, "URL", srv.URL))
		id, err := e.Start(context.Background(), set.Workflow("slow"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		steps := func() string {
			r, err := e.Run(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			out := stepsOf(r)
			for _, s := range r.Steps {
				for _, it := range s.Items {
					out += ", " + it.Path + " " + string(it.Status)
				}
			}
			return out
		}
		testutil.Eventually(t, 10*time.Second, "the first call sent", func() bool { return calls() == 1 })
		if got, want := steps(), "first running, both pending, both/one pending, both/lines pending"; got != want {
			t.Errorf("first in flight: %s, want %s", got, want)
		}
		release <- struct{}{} // the first call answers
		testutil.Eventually(t, 10*time.Second, "the block's calls sent", func() bool { return calls() == 4 })
		want := "first succeeded, both running, both/one running, both/lines running, both/lines[0] running, both/lines[1] running"
		testutil.Eventually(t, 10*time.Second, want, func() bool { return steps() == want })
	})
}

// An on_failure step in flight shows running, though it has no record yet.
func TestOnFailureStepInFlightShowsRunning(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		srv, release, _ := holdingServer(t)
		defer close(release)
		e, set := httpEngine(t, b, strings.ReplaceAll(`
workflow "paged" {
  step "http" "charge" {
    url = "URL/fail"
  }
  on_failure {
    step "http" "page" {
      url = "URL/page"
    }
    step "http" "after" {
      url = "URL/after"
    }
  }
}`, "URL", srv.URL))
		id, err := e.Start(context.Background(), set.Workflow("paged"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		want := "charge failed, on_failure/page running"
		testutil.Eventually(t, 10*time.Second, want, func() bool {
			r, err := e.Run(context.Background(), id)
			return err == nil && stepsOf(r) == want
		})
	})
}

// holdingServer is an API that answers /fail with 400 at once and holds every other
// call until a value is sent on release, or it is closed; calls counts those held.
func holdingServer(t *testing.T) (srv *httptest.Server, release chan struct{}, calls func() int) {
	release = make(chan struct{})
	var mu sync.Mutex
	arrived := 0
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		arrived++
		mu.Unlock()
		<-release
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	return srv, release, func() int {
		mu.Lock()
		defer mu.Unlock()
		return arrived
	}
}
