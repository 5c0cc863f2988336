package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

const onFailureSrc = `
workflow "w" {
  step "probe" "a" {
    value = "a"
  }
  step "probe" "b" {
    value = "b"
    fail  = FAIL
  }
  step "probe" "c" {
    value = "not reached"
  }
  on_failure {
    step "probe" "notify" {
      value = "{{ run.failed_step }}: {{ run.error }} (a said {{ steps.a.value }})"
    }
    step "probe" "page" {
      value = "page"
      fail  = true
    }
    step "probe" "after" {
      value = "not reached: page failed"
    }
  }
}
`

func onFailureSrcWith(fail bool) string {
	return strings.ReplaceAll(onFailureSrc, "FAIL", fmt.Sprint(fail))
}

// stepsOf renders a run's steps as "path status".
func stepsOf(r *Run) string {
	var out []string
	for _, s := range r.Steps {
		out = append(out, s.Path+" "+string(s.Status))
	}
	return strings.Join(out, ", ")
}

// A run that fails runs its on_failure steps once, in order; they read run.error,
// run.failed_step and the steps that ran. One of them failing is recorded, ends them,
// and starts nothing more: the run stays failed with its own error, and its dead
// letter is the step that failed it.
func TestOnFailure(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		e, set, rec := running(t, b, onFailureSrcWith(true), 2)
		id, err := e.Start(context.Background(), set.Workflow("w"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != RunFailed || r.Error != "step b: probe failed as asked: b" || r.FailedStep != "b" || r.DeadLetter != id+":b" {
			t.Errorf("run %+v", r.RunSummary)
		}
		want := "a succeeded, b failed, c cancelled, on_failure/notify succeeded, on_failure/page failed"
		if got := stepsOf(r); got != want {
			t.Errorf("steps %s\nwant  %s", got, want)
		}
		if v := r.Steps[3].Output.(map[string]any)["value"]; v != "b: step b: probe failed as asked: b (a said a)" {
			t.Errorf("notify saw %q", v)
		}
		calls := rec.list()
		if want := []string{id + ":a", id + ":b", id + ":on_failure/notify", id + ":on_failure/page"}; fmt.Sprint(calls) != fmt.Sprint(want) {
			t.Errorf("calls %v\nwant  %v", calls, want)
		}
	})
}

// A run that succeeds runs none of its on_failure steps.
func TestOnFailureNotOnSuccess(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		e, set, rec := running(t, b, onFailureSrcWith(false), 1)
		id, err := e.Start(context.Background(), set.Workflow("w"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != RunSucceeded || stepsOf(r) != "a succeeded, b succeeded, c succeeded" || len(rec.list()) != 3 {
			t.Errorf("run %s: %s; calls %v", r.Status, stepsOf(r), rec.list())
		}
	})
}

// An on_failure step whose worker dies runs again once its lease expires, with the
// same Idempotency-Key; the failure starts the on_failure steps once.
func TestOnFailureAcrossACrash(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		rec := &recorder{}
		e := New(b.Client, Options{Logger: quiet, Lease: 200 * time.Millisecond})
		set := loadSet(t, rec, onFailureSrcWith(true))
		e.Use(set)
		id, err := e.Start(ctx, set.Workflow("w"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		sh := e.q.shardFor("w")
		// A worker that does not chain runs a and b: b fails the run, and the first
		// on_failure step is queued.
		p := e.NewPool(1)
		p.stopFetch()
		for range 2 {
			var jobs []*job
			testutil.Eventually(t, 5*time.Second, "a job leased", func() bool {
				jobs, _, err = e.q.lease(ctx, sh, 1)
				return err == nil && len(jobs) == 1
			})
			p.running.Add(1)
			p.slots <- struct{}{}
			p.execute(jobs[0])
		}
		// The worker that leases notify dies.
		var jobs []*job
		testutil.Eventually(t, 5*time.Second, "notify leased", func() bool {
			jobs, _, err = e.q.lease(ctx, sh, 1)
			return err == nil && len(jobs) == 1
		})
		if jobs[0].unit.step != "on_failure/notify" {
			t.Fatalf("leased %s", jobs[0].id)
		}
		if s := b.Client.HGet(ctx, sh.run(id), "status").Val(); s != string(RunRunning) {
			t.Errorf("while its on_failure steps run, the run is %s", s)
		}
		startPool(t, e, 2) // takes the job back once the lease expires
		r := waitRun(t, e, id)
		if r.Status != RunFailed || r.Steps[3].Path != "on_failure/notify" || r.Steps[3].Attempts != 2 {
			t.Errorf("run %s: %s, notify %+v", r.Status, stepsOf(r), r.Steps[3])
		}
		calls := rec.list()
		if want := []string{id + ":a", id + ":b", id + ":on_failure/notify", id + ":on_failure/page"}; fmt.Sprint(calls) != fmt.Sprint(want) {
			t.Errorf("calls %v\nwant  %v", calls, want)
		}
	})
}

// A replay clears the on_failure steps' records with the failure they answered: one
// that fails again runs them again, under a new Idempotency-Key; one that succeeds
// after a fix does not call them.
func TestOnFailureOncePerFailure(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, set, rec := running(t, b, onFailureSrcWith(true), 2)
		id, err := e.Start(ctx, set.Workflow("w"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		waitRun(t, e, id)
		if _, err := e.Replay(ctx, id, ReplayOptions{}); err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != RunFailed || r.FailedStep != "b" || r.Replays != 1 {
			t.Errorf("replay that failed again: %+v", r.RunSummary)
		}
		want := []string{id + ":a", id + ":b", id + ":on_failure/notify", id + ":on_failure/page",
			id + ":b", id + ":on_failure/notify:2", id + ":on_failure/page:2"}
		if calls := rec.list(); fmt.Sprint(calls) != fmt.Sprint(want) {
			t.Errorf("calls %v\nwant  %v", calls, want)
		}

		e.Use(loadSet(t, rec, onFailureSrcWith(false))) // the fix
		if _, err := e.Replay(ctx, id, ReplayOptions{Current: true}); err != nil {
			t.Fatal(err)
		}
		r = waitRun(t, e, id)
		if r.Status != RunSucceeded || r.FailedStep != "" || stepsOf(r) != "a succeeded, b succeeded, c succeeded" {
			t.Errorf("replay after the fix: %+v: %s", r.RunSummary, stepsOf(r))
		}
		want = append(want, id+":b", id+":c")
		if calls := rec.list(); fmt.Sprint(calls) != fmt.Sprint(want) {
			t.Errorf("calls %v\nwant  %v", calls, want)
		}
	})
}

// The run finished line of a run that failed names the step that failed it, as its
// failed_step does: not the on_failure step that failed after it.
func TestFailedRunLogsTheStepThatFailedIt(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		var logs testutil.LogBuffer
		e := New(b.Client, Options{Shards: b.Shards, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
		set := loadSet(t, &recorder{}, onFailureSrcWith(true))
		e.Use(set)
		startPool(t, e, 2)
		id, err := e.Start(context.Background(), set.Workflow("w"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		if r := waitRun(t, e, id); r.Status != RunFailed {
			t.Fatalf("run %s", r.Status)
		}
		// The line is written once the run's end is: wait for it.
		testutil.Eventually(t, 10*time.Second, "the run finished line", func() bool {
			return len(logs.Lines(`"msg":"run finished"`)) > 0
		})
		lines := logs.Lines(`"msg":"run finished"`)
		if len(lines) != 1 {
			t.Fatalf("%d run finished lines, want 1:\n%s", len(lines), logs.String())
		}
		var line map[string]any
		if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
			t.Fatal(err)
		}
		if line["step"] != "b" || line["err"] != "step b: probe failed as asked: b" || line["level"] != "WARN" {
			t.Errorf("the run finished line: %s", lines[0])
		}
	})
}
