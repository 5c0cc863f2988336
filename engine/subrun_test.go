package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

const subRunSrc = `
workflow "order" {
  step "probe" "a" {
    value = "a"
  }
  step "workflow" "invoice" {
    workflow = "create_invoice"
    input    = { order = "{{ event.body.id }}", a = "{{ steps.a.value }}" }
  }
  step "workflow" "audit" {
    workflow = "audit"
    wait     = false
  }
  step "probe" "after" {
    value = "{{ steps.invoice.result.number }} of {{ steps.invoice.run_id }}"
  }
}

workflow "create_invoice" {
  concurrency = 1
  step "probe" "check" {
    value = "{{ event.trigger }} {{ event.parent.run_id }} {{ event.parent.step }} {{ event.parent.depth }}"
  }
  step "set" "number" {
    number = "INV-{{ event.body.order }}-{{ event.body.a }}"
    fail   = "{{ event.body.order == 'bad' }}"
  }
  step "probe" "fails" {
    if    = "steps.number.fail"
    value = "bad order"
    fail  = true
  }
}

workflow "audit" {
  step "probe" "note" {
    value = "noted"
  }
}
`

// subRunEngine runs workflows with probe steps and the real kinds, workflow included.
func subRunEngine(t *testing.T, b *redistest.Backend, src string) (*Engine, *workflows.Set, *recorder) {
	t.Helper()
	e, _, set, rec := realKindsEngine(t, b, src, Options{})
	return e, set, rec
}

// realKindsEngine runs src with probe steps and the real kinds (wait and workflow
// steps included) on b, with o's options and one worker: a run that waits, for a
// resume or for its child, must not hold it.
func realKindsEngine(t *testing.T, b *redistest.Backend, src string, o Options) (*Engine, *Pool, *workflows.Set, *recorder) {
	t.Helper()
	rec := &recorder{}
	k := probeKinds(rec)
	actions.Register(k, actions.Options{Logger: quiet})
	set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(src)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	o.Logger, o.Kinds = quiet, k
	e := New(b.Client, o)
	e.Use(set)
	return e, startPool(t, e, 1), set, rec
}

// A workflow step starts its child with the input as event.body and the parent in
// event.parent, waits for it holding no worker, and reads its result; one that does
// not wait goes on with its run id.
func TestWorkflowStep(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, set, rec := subRunEngine(t, b, subRunSrc)
		id, err := e.Start(ctx, set.Workflow("order"), event(`{"id": "o1"}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != RunSucceeded {
			t.Fatalf("run %+v: %s", r.RunSummary, stepsOf(r))
		}
		child := id + ":invoice"
		if v := r.Steps[3].Output.(map[string]any)["value"]; v != "INV-o1-a of "+child {
			t.Errorf("after saw %q", v)
		}
		if out := r.Steps[2].Output.(map[string]any); out["run_id"] != id+":audit" || out["result"] != nil {
			t.Errorf("a step that does not wait: %v", out)
		}
		c := waitRun(t, e, child)
		if c.Status != RunSucceeded || c.Event.Trigger != "workflow" {
			t.Fatalf("child %+v", c.RunSummary)
		}
		if v := c.Steps[0].Output.(map[string]any)["value"]; v != "workflow "+id+" invoice 1" {
			t.Errorf("the child saw %q", v)
		}
		waitRun(t, e, id+":audit")
		if calls := rec.list(); len(calls) != 4 {
			t.Errorf("calls %v", calls)
		}
	})
}

// A failed child fails its parent's step; the parent's step that runs again (its
// worker died) finds its child rather than start a second.
func TestWorkflowStepChildFails(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, set, _ := subRunEngine(t, b, subRunSrc)
		id, err := e.Start(ctx, set.Workflow("order"), event(`{"id": "bad"}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		child := id + ":invoice"
		if r.Status != RunFailed || !strings.Contains(r.Error, "step invoice: child run "+child+" failed: step fails: probe failed as asked") {
			t.Errorf("run %+v", r.RunSummary)
		}
		page, err := e.Runs(ctx, RunFilter{Workflow: "create_invoice"})
		if err != nil || len(page.Runs) != 1 || page.Runs[0].ID != child {
			t.Errorf("children %+v %v", page, err)
		}
	})
}

// The parent's job, run again after its child started, starts no second child.
func TestWorkflowStepStartsOneChild(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		rec := &recorder{}
		k := probeKinds(rec)
		actions.Register(k, actions.Options{Logger: quiet})
		set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(subRunSrc)}}, k)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		e := New(b.Client, Options{Logger: quiet, Kinds: k, Lease: 200 * time.Millisecond})
		e.Use(set)
		id, err := e.Start(ctx, set.Workflow("order"), event(`{"id": "o2"}`))
		if err != nil {
			t.Fatal(err)
		}
		p := e.NewPool(1)
		p.stopFetch() // no chaining: each unit is leased by the test
		sh := e.q.shardFor("order")
		leaseOne := func(sh *shard) *job {
			var jobs []*job
			testutil.Eventually(t, 5*time.Second, "a job leased", func() bool {
				jobs, _, err = e.q.lease(ctx, sh, 1)
				return err == nil && len(jobs) == 1
			})
			return jobs[0]
		}
		for range 2 { // a, then invoice: it starts its child and parks
			p.running.Add(1)
			p.slots <- struct{}{}
			p.execute(leaseOne(sh))
		}
		// The parked job is run again before its child ran: it finds the child. (The
		// child's job, leased meanwhile, is handed back.)
		var j *job
		for j == nil || j.unit.step != "invoice" {
			if j != nil {
				if err := e.q.release(ctx, j, "create_invoice"); err != nil {
					t.Fatal(err)
				}
			}
			j = leaseOne(sh)
		}
		p.running.Add(1)
		p.slots <- struct{}{}
		p.execute(j)
		startPool(t, e, 2)
		if r := waitRun(t, e, id); r.Status != RunSucceeded {
			t.Fatalf("run %+v", r.RunSummary)
		}
		page, err := e.Runs(ctx, RunFilter{Workflow: "create_invoice"})
		if err != nil || len(page.Runs) != 1 {
			t.Errorf("children %+v %v", page, err)
		}
	})
}

// Workflow steps nest at most MaxCallDepth deep.
func TestWorkflowStepDepth(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		var src strings.Builder
		for i := range workflows.MaxCallDepth + 1 {
			fmt.Fprintf(&src, "workflow \"w%d\" {\n  step \"workflow\" \"next\" {\n    workflow = \"w%d\"\n  }\n}\n", i, i+1)
		}
		fmt.Fprintf(&src, "workflow \"w%d\" {\n  step \"probe\" \"last\" {\n    value = \"deep\"\n  }\n}\n", workflows.MaxCallDepth+1)
		e, set, rec := subRunEngine(t, b, src.String())
		id, err := e.Start(context.Background(), set.Workflow("w0"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != RunFailed || !strings.Contains(r.Error, "nest deeper than 10") {
			t.Errorf("run %+v", r.RunSummary)
		}
		if calls := rec.list(); len(calls) != 0 {
			t.Errorf("calls %v", calls)
		}
	})
}

// Children wait in line for their workflow's concurrency slot like any run, though
// their ids hold ':' as job ids do.
func TestWorkflowStepChildrenWaitForASlot(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, set, _ := subRunEngine(t, b, subRunSrc)
		var ids []string
		for i := range 3 {
			id, err := e.Start(ctx, set.Workflow("order"), event(fmt.Sprintf(`{"id": "o%d"}`, i)))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		for _, id := range ids {
			if r := waitRun(t, e, id); r.Status != RunSucceeded {
				t.Errorf("run %+v", r.RunSummary)
			}
		}
		sh := e.q.shardFor("create_invoice")
		if n := b.Client.ZCard(ctx, sh.inflight("create_invoice")).Val(); n != 0 {
			t.Errorf("%d runs still hold a slot", n)
		}
	})
}

// A child run that ends before its parent's step has parked (the parent's worker is
// still between starting the child and parking) marks the parent's job woken, and the
// park that follows is due at once rather than after the poll's wait.
func TestWakeBeforeParkIsKept(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet})
		set := loadSet(t, &recorder{}, chainSrc)
		e.Use(set)
		id, err := e.Start(ctx, set.Workflow("chain"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		sh := e.q.shardFor("chain")
		jobs, _, err := e.q.lease(ctx, sh, 1)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("lease: %v %v", jobs, err)
		}
		j := jobs[0] // leased: not in the queue, as a parent's step is before it parks
		e.wakeParent(map[string]any{"parent": map[string]any{"job": j.id, "workflow": "chain"}})
		if v, _ := b.Client.HGet(ctx, sh.job(j.id), "woken").Result(); v != "1" {
			t.Fatalf("the job is not marked woken: %q", v)
		}
		if err := e.q.retry(ctx, j, id, "chain", &Record{Status: StatusWaiting}, 0, time.Hour); err != nil {
			t.Fatal(err)
		}
		due, err := b.Client.ZScore(ctx, sh.ready("chain"), j.id).Result()
		if err != nil || time.UnixMilli(int64(due)).After(time.Now().Add(time.Minute)) {
			t.Errorf("the parked job is due at %v (%v): it should be due at once", time.UnixMilli(int64(due)), err)
		}
		if v, _ := b.Client.HExists(ctx, sh.job(j.id), "woken").Result(); v {
			t.Error("the mark stays after the park that used it")
		}
	})
}

// A workflow step whose child ended and was dropped before the step read it fails
// with the reason, rather than start the child again and repeat its work.
func TestWorkflowStepChildGone(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, id, child, sh := parkedOnChild(t, b)
		testutil.Eventually(t, 10*time.Second, "the child waits", func() bool {
			c, err := e.Run(ctx, child)
			return err == nil && c.Status == RunWaiting
		})
		// The child as the cap drops it: its hash and its index entries go.
		if err := b.Client.Del(ctx, sh.run(child)).Err(); err != nil {
			t.Fatal(err)
		}
		failedChildGone(t, e, b, id, child, sh)
	})
}

// parkedOnChild starts a run whose workflow step parks on a child that waits an hour,
// and returns once the step parked: the engine, the run, its child and the child's shard.
func parkedOnChild(t *testing.T, b *redistest.Backend) (*Engine, string, string, *shard) {
	t.Helper()
	ctx := context.Background()
	e, set, _ := subRunEngine(t, b, `
workflow "parent" {
  step "workflow" "call" {
    workflow = "slow"
  }
}

workflow "slow" {
  step "wait" "approval" {
    timeout = "1h"
  }
}`)
	id, err := e.Start(ctx, set.Workflow("parent"), event(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the parent's step parked on its child", func() bool {
		r, err := e.Run(ctx, id)
		return err == nil && len(r.Steps) == 1 && r.Steps[0].Status == StatusWaiting
	})
	return e, id, id + ":call", e.q.shardFor("slow")
}

// failedChildGone checks that run id failed as its child's end cannot be read, without
// starting the child again.
func failedChildGone(t *testing.T, e *Engine, b *redistest.Backend, id, child string, sh *shard) {
	t.Helper()
	r := waitStatus(t, e, id, RunFailed)
	if !strings.Contains(r.Error, "child run "+child+" is gone") {
		t.Errorf("the parent failed with %q", r.Error)
	}
	if n, _ := b.Client.Exists(context.Background(), sh.run(child)).Result(); n != 0 {
		t.Error("the child was started again")
	}
}

// A reload that removes the workflow a workflow step calls leaves the parents waiting
// on a child of it alone: they read their child's end. A child not started yet cannot
// start, and its step fails saying why.
func TestWorkflowStepChildAfterReloadRemovesItsWorkflow(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, set, rec := subRunEngine(t, b, `
workflow "parent" {
  step "workflow" "call" {
    workflow = "kid"
  }
  step "workflow" "again" {
    workflow = "kid"
  }
}

workflow "kid" {
  step "wait" "approval" {
    timeout = "1h"
  }
  step "probe" "done" {
    value = "kid done"
  }
}`)
		id, err := e.Start(ctx, set.Workflow("parent"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		child := id + ":call"
		testutil.Eventually(t, 10*time.Second, "the child waits", func() bool {
			c, err := e.Run(ctx, child)
			return err == nil && c.Status == RunWaiting
		})
		testutil.Eventually(t, 10*time.Second, "the parent's step parked on its child", func() bool {
			r, err := e.Run(ctx, id)
			return err == nil && len(r.Steps) > 0 && r.Steps[0].Status == StatusWaiting
		})
		next, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(`
workflow "parent" {
  step "probe" "only" {
    value = "new"
  }
}`)}}, e.versions.kinds)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		e.Use(next)
		if _, err := e.Resume(ctx, child, "approval", &workflows.Resume{}); err != nil {
			t.Fatal(err)
		}
		if c := waitRun(t, e, child); c.Status != RunSucceeded {
			t.Fatalf("child %+v", c.RunSummary)
		}
		r := waitRun(t, e, id)
		if r.Status != RunFailed || len(r.Steps) < 2 || r.Steps[0].Status != StatusSucceeded {
			t.Fatalf("run %+v: %s", r.RunSummary, stepsOf(r))
		}
		if out := r.Steps[0].Output.(map[string]any); out["result"] == nil {
			t.Errorf("the step that waited read no result: %v", out)
		}
		if !strings.Contains(r.Error, "child run "+id+":again cannot start: workflow kid is not among the workflows loaded now") {
			t.Errorf("the step whose child had not started failed with %q", r.Error)
		}
		if fmt.Sprint(r.CallsGone) != "[kid]" {
			t.Errorf("the run says its replay needs %v back, want [kid]", r.CallsGone)
		}
		if calls := rec.list(); len(calls) != 1 {
			t.Errorf("calls %v", calls)
		}
	})
}

// A workflow step that waits for its child records its time from when it first
// parked, through the parks after a look that found the child still running, to the
// child's end or the run's timeout.
func TestWorkflowStepDurationIsItsWait(t *testing.T) {
	const src = `
workflow "parent" {
  step "workflow" "call" {
    workflow = "slow"
    input    = { ms = 2500 }
  }
}
workflow "impatient" {
  timeout = "1s"
  step "workflow" "call" {
    workflow = "slow"
    input    = { ms = 3000 }
  }
}
workflow "slow" {
  step "delay" "d" {
    duration = "{{ event.body.ms }}ms"
  }
  step "probe" "done" {
    value = "done"
  }
}`
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, set, _ := subRunEngine(t, b, src)
		// 2.5 s: the step looks again after a second (childPoll), parks again, and the
		// child's end wakes it.
		id, err := e.Start(ctx, set.Workflow("parent"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		late, err := e.Start(ctx, set.Workflow("impatient"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		took := func(r *Run) int64 {
			if d := r.Steps[0].DurationMS; d != nil {
				return *d
			}
			return -1
		}
		r := waitRun(t, e, id)
		if r.Status != RunSucceeded || took(r) < 2400 {
			t.Errorf("the step that waited 2.5 s for its child: run %s, step %s in %d ms", r.Status, stepsOf(r), took(r))
		}
		r = waitRun(t, e, late)
		if r.Status != RunFailed || took(r) < 900 {
			t.Errorf("the step whose wait the run's timeout ended after 1 s: run %s, step %s in %d ms", r.Status, stepsOf(r), took(r))
		}
	})
}

// A workflow step whose run's timeout passes while it waits for its child cancels the
// child, an item's too: the run that failed leaves nothing of its own running.
func TestWorkflowStepTimeoutCancelsItsChild(t *testing.T) {
	const src = `
workflow "impatient" {
  timeout = "1s"
  parallel "both" {
    step "workflow" "call" {
      workflow = "slow"
    }
    step "workflow" "each" {
      for_each = "[1, 2]"
      workflow = "slow"
    }
  }
}
workflow "slow" {
  step "delay" "d" {
    duration = "3s"
  }
  step "probe" "done" {
    value = "done"
  }
}`
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, set, rec := subRunEngine(t, b, src)
		id, err := e.Start(ctx, set.Workflow("impatient"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		if r := waitRun(t, e, id); r.Status != RunFailed {
			t.Fatalf("the parent: %s, %s", r.Status, stepsOf(r))
		}
		for _, child := range []string{id + ":call", id + ":each:0", id + ":each:1"} {
			testutil.Eventually(t, 5*time.Second, child+" cancelled", func() bool {
				c, err := e.Run(ctx, child)
				return err == nil && c.Status == RunCancelled
			})
		}
		time.Sleep(2500 * time.Millisecond) // past the children's delay, were they still on
		if calls := rec.list(); len(calls) != 0 {
			t.Errorf("the cancelled children went on: %v", calls)
		}
	})
}

// A parked workflow step whose read of its child fails (here, a key of another type)
// still knows it waited for that child: the child gone by its next look fails the step
// rather than start it again.
func TestWorkflowStepChildGoneAfterAFailedRead(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, id, child, sh := parkedOnChild(t, b)
		if err := b.Client.Del(ctx, sh.run(child)).Err(); err != nil {
			t.Fatal(err)
		}
		if err := b.Client.Set(ctx, sh.run(child), "not a run", 0).Err(); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 15*time.Second, "the parent's read of its child failed", func() bool {
			r, err := e.Run(ctx, id)
			return err == nil && len(r.Steps) == 1 && r.Steps[0].Status == StatusRetrying
		})
		if err := b.Client.Del(ctx, sh.run(child)).Err(); err != nil {
			t.Fatal(err)
		}
		failedChildGone(t, e, b, id, child, sh)
	})
}

// An item whose map key holds a ':' has a child run of its own: its id does not name
// the child another item's child started for its step (x's child's d, "<run>:c:x:d").
func TestWorkflowStepItemKeysDoNotCollide(t *testing.T) {
	const src = `
workflow "collide" {
  step "workflow" "c" {
    for_each     = "event.body.m"
    max_parallel = 1
    workflow     = "mid"
    input        = { k = "{{ each.key }}" }
  }
}
workflow "mid" {
  step "workflow" "d" {
    workflow = "leaf"
    input    = { from = "mid {{ event.body.k }}" }
  }
}
workflow "leaf" {
  step "set" "r" {
    leaf_from = "{{ event.body.from }}"
  }
}
`
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		e, set, _ := subRunEngine(t, b, src)
		id, err := e.Start(context.Background(), set.Workflow("collide"), event(`{"m": {"x": 1, "x:d": 2, "%": 3}}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != RunSucceeded {
			t.Fatalf("run %+v: %s", r.RunSummary, stepsOf(r))
		}
		want := map[string]string{"c[x]": id + ":c:x", "c[x:d]": id + ":c:x%3Ad", "c[%]": id + ":c:%25"}
		if len(r.Steps[0].Items) != len(want) {
			t.Fatalf("items %+v", r.Steps[0].Items)
		}
		for _, it := range r.Steps[0].Items {
			out, _ := it.Output.(map[string]any)
			if out["run_id"] != want[it.Path] {
				t.Errorf("item %s: run_id %v, want %s", it.Path, out["run_id"], want[it.Path])
			}
			key := strings.TrimSuffix(strings.TrimPrefix(it.Path, "c["), "]")
			if got := fmt.Sprint(out["result"]); got != fmt.Sprintf("map[result:map[leaf_from:mid %s] run_id:%s:d]", key, want[it.Path]) {
				t.Errorf("item %s: its child's result %s", it.Path, got)
			}
		}
	})
}

// A workflow step, or item, waiting for its child run shows since when it waits and no
// time it goes on at: its child's end wakes it. The times it looks at its child again
// meanwhile (a second, doubling) are no times of its own, and the run reads the same
// from one look to the next.
func TestWorkflowStepWaitingForItsChildHasNoTimeToGoOn(t *testing.T) {
	const src = `
workflow "parent" {
  step "workflow" "call" {
    workflow = "held"
  }
}
workflow "fan" {
  step "workflow" "kids" {
    for_each = "event.body.items"
    workflow = "held"
  }
}
workflow "held" {
  step "wait" "approval" {
    timeout = "1h"
  }
}`
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, _, set, _ := realKindsEngine(t, b, src, Options{})
		one, err := e.Start(ctx, set.Workflow("parent"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		fan, err := e.Start(ctx, set.Workflow("fan"), event(`{"items": ["a"]}`))
		if err != nil {
			t.Fatal(err)
		}
		waiting := func(id string) StepRun {
			t.Helper()
			r, err := e.Run(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if s := r.Steps[0]; len(s.Items) == 1 {
				return s.Items[0]
			}
			return r.Steps[0]
		}
		for _, id := range []string{one, fan} {
			var first StepRun
			testutil.Eventually(t, 10*time.Second, "the step waiting for its child", func() bool {
				first = waiting(id)
				return first.Status == StatusWaiting
			})
			// It looks again after a second: a second park, whose record is the last.
			testutil.Eventually(t, 10*time.Second, "the step looking at its child again", func() bool {
				return waiting(id).Attempts > first.Attempts
			})
			s := waiting(id)
			if s.Status != StatusWaiting || s.NextAttemptAt != nil || s.FinishedAt != nil || s.DurationMS != nil ||
				s.StartedAt == nil || first.StartedAt == nil || !s.StartedAt.Equal(*first.StartedAt) {
				t.Errorf("%s waiting for its child: %s, goes on at %v, finished %v in %v, started %v (at its first park %v)",
					s.Path, s.Status, s.NextAttemptAt, s.FinishedAt, s.DurationMS, s.StartedAt, first.StartedAt)
			}
		}
	})
}

// A child that failed and waits in its on_failure steps when its parent's timeout
// passes has those steps cancelled and stays failed, with its dead letter: it is to be
// replayed before its parent, which failed too.
func TestWorkflowStepTimeoutLeavesAFailedChildFailed(t *testing.T) {
	const src = `
workflow "impatient" {
  timeout = "1s"
  step "workflow" "call" {
    workflow = "failing"
  }
}
workflow "failing" {
  step "probe" "a" {
    value = "a"
    fail  = true
  }
  on_failure {
    step "wait" "ack" {
      timeout = "1h"
    }
  }
}`
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, set, _ := subRunEngine(t, b, src)
		id, err := e.Start(ctx, set.Workflow("impatient"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		if r := waitRun(t, e, id); r.Status != RunFailed {
			t.Fatalf("the parent: %s, %s", r.Status, stepsOf(r))
		}
		child := id + ":call"
		var c *Run
		testutil.Eventually(t, 5*time.Second, "the child's on_failure wait cancelled", func() bool {
			c, err = e.Run(ctx, child)
			return err == nil && c.Status.Done()
		})
		if c.Status != RunFailed || c.DeadLetter != child+":a" {
			t.Errorf("the child: %s, dead letter %q, %s", c.Status, c.DeadLetter, stepsOf(c))
		}
	})
}

// A failed child of a for_each workflow step whose on_error is "continue" is a failed
// run of its own workflow all the same: its step is a dead letter of the child, and
// the child's on_failure steps run, while the parent goes on and succeeds.
func TestContinuedChildFailureIsTheChildsDeadLetter(t *testing.T) {
	const src = `
workflow "batch" {
  step "workflow" "each" {
    for_each = "[1, 2]"
    workflow = "failing"
    input    = "{{ each.value }}"
    on_error = "continue"
  }
}
workflow "failing" {
  step "probe" "a" {
    value = "a"
    fail  = "{{ event.body == 2 }}"
  }
  on_failure {
    step "probe" "alert" {
      value = "alert"
    }
  }
}`
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, set, _ := subRunEngine(t, b, src)
		id, err := e.Start(ctx, set.Workflow("batch"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		if r := waitRun(t, e, id); r.Status != RunSucceeded {
			t.Fatalf("the parent: %s, %s", r.Status, stepsOf(r))
		}
		child := id + ":each:1"
		c := waitRun(t, e, child)
		if c.Status != RunFailed || c.DeadLetter != child+":a" {
			t.Errorf("the child: %s, dead letter %q, %s", c.Status, c.DeadLetter, stepsOf(c))
		}
		if !strings.Contains(stepsOf(c), "on_failure/alert") {
			t.Errorf("the child's on_failure steps did not run: %s", stepsOf(c))
		}
		if ok := waitRun(t, e, id+":each:0"); ok.Status != RunSucceeded || ok.DeadLetter != "" {
			t.Errorf("the child that succeeded: %s, dead letter %q", ok.Status, ok.DeadLetter)
		}
	})
}
