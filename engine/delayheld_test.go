package engine

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

// A delay step's time is the time it held its run: from its start to when the run
// went on, though no process ran the run at its end, and a delay that ends its run
// holds it from its start to its end; the API shows it started, finished and lasting
// so.
func TestDelayShowsTheTimeItHeldTheRun(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		tg := newTarget(t, 0)
		k := workflows.NewKinds()
		client := actions.NewClient(actions.NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}))
		actions.Register(k, actions.Options{Client: client, Logger: quiet})
		set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(`
workflow "held" {
  step "delay" "pause" {
    duration = "200ms"
  }
  step "http" "after" {
    url = "` + tg.srv.URL + `/after"
  }
  step "delay" "tail" {
    duration = "300ms"
  }
}`)}}, k)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Kinds: k})
		e.Use(set)
		id, err := e.Start(context.Background(), set.Workflow("held"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		// A process runs the delay step, and stops; the next starts a second later.
		down := e.NewPool(1)
		down.Start()
		testutil.Eventually(t, 10*time.Second, "the delay step", func() bool {
			r, err := e.Run(context.Background(), id)
			return err == nil && r.Steps[0].Status != StatusPending
		})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := down.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		startPool(t, e, 1)
		r := waitRun(t, e, id)
		if r.Status != RunSucceeded {
			t.Fatalf("run %+v", r.RunSummary)
		}
		pause, after, tail := r.Steps[0], r.Steps[1], r.Steps[2]
		if pause.DurationMS == nil || *pause.DurationMS < 1000 || pause.FinishedAt == nil || pause.StartedAt == nil ||
			pause.FinishedAt.Sub(*pause.StartedAt).Milliseconds() != *pause.DurationMS || !pause.FinishedAt.Equal(*after.StartedAt) {
			t.Errorf("the delay held the run from %v to %v (%v ms), want over a second, until the step after it started at %v",
				pause.StartedAt, pause.FinishedAt, msOf(pause.DurationMS), after.StartedAt)
		}
		if tail.DurationMS == nil || *tail.DurationMS < 300 || tail.StartedAt == nil || tail.StartedAt.Before(*after.FinishedAt) ||
			!tail.FinishedAt.Equal(*r.FinishedAt) {
			t.Errorf("the last delay held the run from %v to %v (%v ms), want 300ms from the end of the step before (%v) to the run's end (%v)",
				tail.StartedAt, tail.FinishedAt, msOf(tail.DurationMS), after.FinishedAt, r.FinishedAt)
		}
	})
}

// msOf is a duration in ms as a message shows it: nil when there is none.
func msOf(d *int64) any {
	if d == nil {
		return nil
	}
	return *d
}
