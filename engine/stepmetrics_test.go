package engine

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/internal/metricstest"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

// meteredEngine is a process on b running src, with probe steps (calling rec) and the
// real kinds, and metrics of its own; no pool runs its steps yet.
func meteredEngine(t *testing.T, b *redistest.Backend, rec *recorder, src string, o Options) (*Engine, *prometheus.Registry, *workflows.Set) {
	t.Helper()
	k := probeKinds(rec)
	actions.Register(k, actions.Options{Logger: quiet})
	set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(src)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	reg := prometheus.NewRegistry()
	o.Shards, o.Logger, o.Kinds, o.Metrics = b.Shards, quiet, k, reg
	e := New(b.Client, o)
	e.Use(set)
	return e, reg, set
}

// A step's attempt is counted in hookflow_step_duration_seconds once Redis stored its
// outcome: an attempt whose lease was taken back before it could commit (another
// process runs the step again, and counts it) is not counted, nor is the delay before
// it, which that process counts.
func TestStepMetricsCountOnlyStoredAttempts(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		const src = `
workflow "paused" {
  step "delay" "d" {
    duration = "100ms"
  }
  step "probe" "after" {
    value = "x"
  }
}`
		// Two processes; leases long enough that no heartbeat beats during the test:
		// the first process's lease is taken back by hand.
		held := &recorder{hold: make(chan struct{}), entered: make(chan struct{}, 1)}
		slow, slowReg, set := meteredEngine(t, b, held, src, Options{Lease: time.Hour})
		other, otherReg, _ := meteredEngine(t, b, &recorder{}, src, Options{Lease: time.Hour})
		id, err := slow.Start(ctx, set.Workflow("paused"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		release := sync.OnceFunc(func() { close(held.hold) })
		t.Cleanup(release) // before the pool's Stop, which waits for the step
		p := startPool(t, slow, 1)
		select {
		case <-held.entered: // the step after the delay runs in the first process
		case <-time.After(10 * time.Second):
			t.Fatal("the step after the delay never ran")
		}

		// Its lease expires: the other process takes the step back and runs it.
		leases := slow.q.shardFor("paused").leases()
		for _, id := range b.Client.ZRange(ctx, leases, 0, -1).Val() {
			b.Client.ZAdd(ctx, leases, redis.Z{Score: 1, Member: id})
		}
		op := startPool(t, other, 1)
		if r := waitRun(t, other, id); r.Status != RunSucceeded {
			t.Fatalf("run %s: %s", r.Status, stepsOf(r))
		}

		// The first process's attempt ends, and its commit is refused. Each pool
		// stopped has counted what its steps did.
		release()
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		for _, p := range []*Pool{p, op} {
			if err := p.Stop(stopCtx); err != nil {
				t.Fatal(err)
			}
		}
		if got := metricstest.Histograms(t, slowReg, "hookflow_step_duration_seconds"); len(got) != 0 {
			t.Errorf("the process whose lease was taken back counted %v", got)
		}
		got := metricstest.Histograms(t, otherReg, "hookflow_step_duration_seconds")
		for _, series := range []string{"kind=probe,outcome=succeeded,step=after,workflow=paused",
			"kind=delay,outcome=succeeded,step=d,workflow=paused"} {
			if got[series].Count != 1 {
				t.Errorf("%s: %d observations in the process that ran the step, want 1", series, got[series].Count)
			}
		}
	})
}

// The delay before a step is counted when that step's first attempt goes straight to
// a retry, without running its action: here a workflow step whose read of its child
// run fails.
func TestDelayIsCountedWhenTheStepAfterRetries(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, reg, set := meteredEngine(t, b, &recorder{}, `
workflow "parent" {
  step "delay" "d" {
    duration = "100ms"
  }
  step "workflow" "call" {
    workflow = "child"
  }
}

workflow "child" {
  step "probe" "c" {
    value = "x"
  }
}`, Options{})
		id, err := e.Start(ctx, set.Workflow("parent"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		// The child run's key holds no hash: every read of the child fails (WRONGTYPE).
		child := e.q.shardFor("child").run(childIDOf(id, "call", nil))
		b.Client.Set(ctx, child, "not a run", 0)
		p := startPool(t, e, 1)
		testutil.Eventually(t, 10*time.Second, "the workflow step retrying", func() bool {
			r, err := e.Run(ctx, id)
			return err == nil && len(r.Steps) == 2 && r.Steps[1].Status == StatusRetrying
		})
		b.Client.Del(ctx, child)
		if r := waitRun(t, e, id); r.Status != RunSucceeded {
			t.Fatalf("run %s: %s", r.Status, stepsOf(r))
		}
		if err := p.Stop(ctx); err != nil { // every step done and counted
			t.Fatal(err)
		}
		got := metricstest.Histograms(t, reg, "hookflow_step_duration_seconds")
		if h := got["kind=delay,outcome=succeeded,step=d,workflow=parent"]; h.Count != 1 || h.Sum < 0.1 {
			t.Errorf("the delay: %d observations, %.3f s; want one of its hold, 100ms at least (all: %v)", h.Count, h.Sum, got)
		}
	})
}

// A delay that the run's timeout cut ends at the deadline, though no process ran then
// and the one that settles it comes later: the step metrics count its time to the
// deadline, not to when a process came back, and its history shows it ending there,
// as a wait step's does.
func TestDelayCutWhileNoProcessRanEndsAtTheDeadline(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, reg, set := meteredEngine(t, b, &recorder{}, `
workflow "cut" {
  timeout = "500ms"
  step "delay" "d" {
    duration = "1h"
  }
  step "probe" "after" {
    value = "x"
  }
}`, Options{})
		id, err := e.Start(ctx, set.Workflow("cut"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		// A process runs the delay, which holds its unit to the deadline, and stops.
		down := e.NewPool(1)
		down.Start()
		var r *Run
		testutil.Eventually(t, 10*time.Second, "the delay held", func() bool {
			r, err = e.Run(ctx, id)
			return err == nil && stepsOf(r) == "d waiting, after pending"
		})
		if err := down.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		deadline := r.CreatedAt.Add(500 * time.Millisecond)
		// The deadline passes while no process runs; the next starts a second after it.
		time.Sleep(time.Until(deadline.Add(time.Second)))
		p := startPool(t, e, 1)
		if r = waitRun(t, e, id); r.Status != RunFailed {
			t.Fatalf("run %s: %s", r.Status, stepsOf(r))
		}
		if err := p.Stop(ctx); err != nil { // its steps counted
			t.Fatal(err)
		}
		d := r.Steps[0]
		if d.Status != StatusFailed || d.StartedAt == nil || d.FinishedAt == nil || d.DurationMS == nil ||
			!d.FinishedAt.Equal(deadline) || d.FinishedAt.Sub(*d.StartedAt).Milliseconds() != *d.DurationMS {
			t.Errorf("the delay: %s from %v to %v (%v ms), want failed, from its start to the deadline at %v",
				d.Status, d.StartedAt, d.FinishedAt, msOf(d.DurationMS), deadline)
		}
		h := metricstest.Histograms(t, reg, "hookflow_step_duration_seconds")["kind=delay,outcome=failed,step=d,workflow=cut"]
		if h.Count != 1 || h.Sum > deadline.Sub(r.CreatedAt).Seconds() {
			t.Errorf("the delay counted %d times, %.3f s; want once, its time to the deadline: %v at most",
				h.Count, h.Sum, deadline.Sub(r.CreatedAt))
		}
	})
}
