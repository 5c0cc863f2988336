package engine

import (
	"context"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
)

// TestStartRunsTheFirstStepWhereTheRunStarts: a process with an idle worker that starts
// a run has the run's first step leased to it by the start itself, and runs it without
// a lease call.
func TestStartRunsTheFirstStepWhereTheRunStarts(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		rec := &recorder{}
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet})
		set := loadSet(t, rec, chainSrc)
		e.Use(set)
		sh := e.q.shardFor("chain")
		p := e.NewPool(2)
		if !p.take() { // as Engine.start does, before its start call
			t.Fatal("an idle pool gave no worker")
		}
		id := "run-leased"
		_, j, err := e.q.startOnce(ctx, id, set.Workflow("chain"), []byte(`{"id":"ev","trigger":"manual","raw":"{}"}`), "", nil, true)
		if err != nil || j == nil {
			t.Fatalf("start: job %v, %v", j, err)
		}
		if j.attempt != 1 || j.unit.step != "first" || j.run["status"] != string(RunRunning) || j.run["created"] == "" {
			t.Errorf("leased job %+v run %v", j, j.run)
		}
		if n, _ := b.Client.ZCard(ctx, sh.ready("chain")).Result(); n != 0 {
			t.Errorf("%d jobs queued, want the first one leased instead", n)
		}
		if s, err := b.Client.ZScore(ctx, sh.leases(), j.id).Result(); err != nil || s == 0 {
			t.Errorf("the job is not in the leases: %v", err)
		}
		fields, _ := b.Client.HGetAll(ctx, sh.run(id)).Result()
		if fields["status"] != string(RunRunning) || fields["started"] != j.run["created"] {
			t.Errorf("run hash %v", fields)
		}
		p.runTaken(j) // no fetcher runs: the step runs because the start leased it here
		r := waitRun(t, e, id)
		if r.Status != RunSucceeded || r.Steps[0].Attempts != 1 {
			t.Errorf("run %s, first step attempts %d", r.Status, r.Steps[0].Attempts)
		}
		p.Start() // the second step was chained, not queued: nothing else ran
		t.Cleanup(func() { _ = p.Stop(context.Background()) })
		if calls := rec.list(); len(calls) != 2 {
			t.Errorf("calls %v, want each step once", calls)
		}
	})
}

// TestStartLeasedJobOutlivesItsProcess: a process that started a run, with the first
// step leased to it, dies before running it. The lease expires and another process
// runs the step: the run is not lost.
func TestStartLeasedJobOutlivesItsProcess(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		rec := &recorder{}
		set := loadSet(t, rec, chainSrc)
		dead := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Lease: 300 * time.Millisecond})
		dead.Use(set)
		_, j, err := dead.q.startOnce(ctx, "run-orphan", set.Workflow("chain"), []byte(`{"id":"ev","trigger":"manual","raw":"{}"}`), "", nil, true)
		if err != nil || j == nil {
			t.Fatalf("start: job %v, %v", j, err)
		}
		// The process dies here: nothing runs j.

		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Lease: 300 * time.Millisecond})
		e.Use(set)
		startPool(t, e, 2)
		r := waitRun(t, e, "run-orphan")
		if r.Status != RunSucceeded || r.Steps[0].Attempts != 2 {
			t.Errorf("run %s, first step attempts %d, want 2 (the dead process's counts)", r.Status, r.Steps[0].Attempts)
		}
		if calls := rec.list(); len(calls) != 2 {
			t.Errorf("calls %v, want each step once", calls)
		}
	})
}

// TestStartQueuesWhenNoWorkerIsFree: a start in a process whose workers are all busy,
// or of a workflow with a concurrency limit, queues the first job for any worker.
func TestStartQueuesWhenNoWorkerIsFree(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		rec := &recorder{}
		set := loadSet(t, rec, chainSrc)
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet})
		e.Use(set)
		p := e.NewPool(1)
		if !p.take() {
			t.Fatal("an idle pool gave no worker")
		}
		if p.take() {
			t.Fatal("a pool of one worker gave two")
		}
		p.giveBack()
		e.local.Store(p)
		p.slots <- struct{}{} // the one worker is busy
		if _, err := e.Start(ctx, set.Workflow("chain"), event(`{}`)); err != nil {
			t.Fatal(err)
		}
		if n, _ := b.Client.ZCard(ctx, e.q.shardFor("chain").ready("chain")).Result(); n != 1 {
			t.Errorf("%d jobs queued, want 1", n)
		}
		<-p.slots
		e.local.Store(nil)
	})
}
