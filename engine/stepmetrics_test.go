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
