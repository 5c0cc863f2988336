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
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		rec := &recorder{}
		k := probeKinds(rec)
		actions.Register(k, actions.Options{Logger: quiet})
		set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(limitedSrc)}}, k)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		var engines []*Engine
		for range 2 {
			e := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Kinds: k})
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
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
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

// The limit is the workflow's, set by the version that started the last run: lowered
// by an edit, it holds for the runs waiting too; raised, it admits them oldest first.
func TestConcurrencyLimitFollowsTheLatestStart(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet})
		limited := func(n int) *workflows.Workflow {
			return loadSet(t, &recorder{}, strings.Replace(chainSrc, `workflow "chain" {`, fmt.Sprintf("workflow \"chain\" {\n  concurrency = %d", n), 1)).Workflow("chain")
		}
		three, one := limited(3), limited(1)
		sh := e.q.shardFor("chain")
		inflight := func() int64 { return b.Client.ZCard(ctx, sh.inflight("chain")).Val() }
		pending := func() []string { return b.Client.ZRange(ctx, sh.pending("chain"), 0, -1).Val() }
		for i, wf := range []*workflows.Workflow{three, three, three, three, three, one} {
			if err := e.q.start(ctx, fmt.Sprintf("run%d", i), wf, []byte(`{}`), ""); err != nil {
				t.Fatal(err)
			}
		}
		if inflight() != 3 || len(pending()) != 3 {
			t.Fatalf("in flight %d, waiting %v; want 3 and 3", inflight(), pending())
		}
		jobs, _, err := e.q.lease(ctx, sh, 10)
		if err != nil || len(jobs) != 3 {
			t.Fatalf("leased %d jobs (%v), want the 3 runs holding slots", len(jobs), err)
		}
		end := func(j *job) {
			t.Helper()
			_, err := e.q.complete(ctx, commit{job: j, runID: j.run["id"], wf: three,
				record: &Record{Status: StatusSucceeded}, plan: &Plan{Status: RunSucceeded}})
			if err != nil {
				t.Fatal(err)
			}
		}
		end(jobs[0])
		end(jobs[1])
		if inflight() != 1 || len(pending()) != 3 {
			t.Errorf("after two ended under a limit lowered to 1: in flight %d, waiting %v", inflight(), pending())
		}
		end(jobs[2])
		if inflight() != 1 || fmt.Sprint(pending()) != "[run4:first run5:first]" {
			t.Errorf("after the third ended: in flight %d, waiting %v; want run3 admitted first", inflight(), pending())
		}

		// Lifted: a run of a version without a limit lets every waiting run go.
		free := loadSet(t, &recorder{}, chainSrc).Workflow("chain")
		if err := e.q.start(ctx, "run6", free, []byte(`{}`), ""); err != nil {
			t.Fatal(err)
		}
		if len(pending()) != 0 {
			t.Errorf("waiting %v after the limit was lifted", pending())
		}
		jobs, _, _ = e.q.lease(ctx, sh, 10)
		if len(jobs) != 4 {
			t.Errorf("leased %d jobs, want run3 to run6", len(jobs))
		}

		// Set again: the runs let go meanwhile count against it.
		if err := e.q.start(ctx, "run7", one, []byte(`{}`), ""); err != nil {
			t.Fatal(err)
		}
		if inflight() != 4 || fmt.Sprint(pending()) != "[run7:first]" {
			t.Errorf("limit 1 set again with 4 runs going: in flight %d, waiting %v", inflight(), pending())
		}

		// Lifted by a start that could take its first step at once: the runs waiting go
		// first, so it is queued behind them; once none waits, a start takes its step.
		if _, j, err := e.q.startOnce(ctx, "run8", free, []byte(`{}`), nil, "", nil, true); err != nil || j != nil {
			t.Errorf("lifted with run7 waiting: leased %v (%v), want run8 queued", j, err)
		}
		if len(pending()) != 0 {
			t.Errorf("waiting %v after the limit was lifted again", pending())
		}
		if _, j, err := e.q.startOnce(ctx, "run9", free, []byte(`{}`), nil, "", nil, true); err != nil || j == nil {
			t.Errorf("no limit, none waiting: leased %v (%v), want run9's first step", j, err)
		}
	})
}
