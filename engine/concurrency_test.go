package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

const limitedSrc = `
workflow "limited" {
  concurrency = 2
  step "probe" "open" {
    value = "{{ event.body.n }}"
  }
  step "delay" "pause" {
    duration = "20ms"
  }
  step "probe" "close" {
    value = "{{ event.body.n }}"
  }
}
`

// A run holds one of its workflow's slots from its first step to its end, across every
// process, delays included; the runs past the limit wait in line and all finish.
func TestConcurrencyLimitHoldsAcrossEngines(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		rec := &recorder{}
		k := probeKinds(rec)
		actions.Register(k, actions.Options{Logger: quiet})
		set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(limitedSrc)}}, k)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		var engines []*Engine
		for range 2 {
			e := New(b.Client, Options{Logger: quiet, Kinds: k})
			e.Use(set)
			startPool(t, e, 8)
			engines = append(engines, e)
		}
		var ids []string
		for i := range 20 {
			id, err := engines[i%2].Start(context.Background(), set.Workflow("limited"), event(fmt.Sprintf(`{"n": %d}`, i)))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		for _, id := range ids {
			if r := waitRun(t, engines[0], id); r.Status != "succeeded" {
				t.Fatalf("run %s %s: %s", id, r.Status, r.Error)
			}
		}
		open, peak := map[string]bool{}, 0
		for _, c := range rec.list() {
			run, step, _ := strings.Cut(c, ":")
			if step == "open" {
				open[run] = true
			} else {
				delete(open, run)
			}
			peak = max(peak, len(open))
		}
		if peak != 2 {
			t.Errorf("at most %d runs were in flight at once, want exactly the limit of 2", peak)
		}
		sh := engines[0].q.shardFor("limited")
		if n := b.Client.Exists(context.Background(), sh.inflight("limited"), sh.pending("limited")).Val(); n != 0 {
			t.Errorf("%d slot keys left after every run finished", n)
		}
	})
}

// A run that fails frees its slot for the next.
func TestFailedRunFreesItsSlot(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		e, set, _ := running(t, b, `
workflow "one" {
  concurrency = 1
  step "probe" "a" {
    value = "x"
    fail  = "{{ event.body.fail }}"
  }
}
`, 4)
		failed, _ := e.Start(context.Background(), set.Workflow("one"), event(`{"fail": true}`))
		next, _ := e.Start(context.Background(), set.Workflow("one"), event(`{"fail": false}`))
		if r := waitRun(t, e, failed); r.Status != "failed" {
			t.Errorf("first run %s", r.Status)
		}
		if r := waitRun(t, e, next); r.Status != "succeeded" {
			t.Errorf("second run %s: %s", r.Status, r.Error)
		}
	})
}
