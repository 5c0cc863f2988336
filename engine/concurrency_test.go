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

// A limit raised by an edit lets the runs waiting for a slot start when the edited
// version is put in use, not at the next run's start; one lowered holds for the runs
// still waiting. With no start after the edit, nothing else would admit them.
func TestConcurrencyLimitRaisedByUse(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet})
		limited := func(n int) *workflows.Set {
			return loadSet(t, &recorder{}, strings.Replace(chainSrc, `workflow "chain" {`, fmt.Sprintf("workflow \"chain\" {\n  concurrency = %d", n), 1))
		}
		one := limited(1)
		e.Use(one)
		sh := e.q.shardFor("chain")
		inflight := func() int64 { return b.Client.ZCard(ctx, sh.inflight("chain")).Val() }
		pending := func() []string { return b.Client.ZRange(ctx, sh.pending("chain"), 0, -1).Val() }
		for i := range 4 {
			if err := e.q.start(ctx, fmt.Sprintf("run%d", i), one.Workflow("chain"), []byte(`{}`), ""); err != nil {
				t.Fatal(err)
			}
		}
		if inflight() != 1 || len(pending()) != 3 {
			t.Fatalf("in flight %d, waiting %v; want 1 and 3", inflight(), pending())
		}
		e.Use(limited(3))
		testutil.Eventually(t, 10*time.Second, "two waiting runs admitted by the raised limit", func() bool {
			return inflight() == 3 && fmt.Sprint(pending()) == "[run3:first]"
		})
		if got := b.Client.Get(ctx, sh.limit("chain")).Val(); got != "3" {
			t.Errorf("limit %q in Redis, want 3", got)
		}
		// Lifted: every run waiting goes.
		e.Use(loadSet(t, &recorder{}, chainSrc))
		testutil.Eventually(t, 10*time.Second, "the last waiting run admitted by the lifted limit", func() bool {
			return inflight() == 4 && len(pending()) == 0
		})
		if n := b.Client.Exists(ctx, sh.limit("chain")).Val(); n != 0 {
			t.Errorf("a limit left in Redis after it was lifted")
		}
		// Lowered again: it is written, and the runs going keep their slots.
		e.Use(limited(1))
		testutil.Eventually(t, 10*time.Second, "the lowered limit written", func() bool {
			return b.Client.Get(ctx, sh.limit("chain")).Val() == "1"
		})
		if inflight() != 4 {
			t.Errorf("in flight %d after the limit was lowered, want the 4 runs going", inflight())
		}
	})
}
