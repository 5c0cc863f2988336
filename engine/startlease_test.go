package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
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
		ev := &workflows.Event{ID: "ev", Trigger: "manual", Raw: "{}"}
		_, j, err := e.q.startOnce(ctx, id, set.Workflow("chain"), []byte(`{"id":"ev","trigger":"manual","raw":"{}"}`), nil, "", nil, true)
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
		j.event = ev.AsStored() // as Engine.start gives it
		p.runTaken(j)           // no fetcher runs: the step runs because the start leased it here
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
		_, j, err := dead.q.startOnce(ctx, "run-orphan", set.Workflow("chain"), []byte(`{"id":"ev","trigger":"manual","raw":"{}"}`), nil, "", nil, true)
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
			t.Fatal("a pool with an idle worker let no start lease its first job")
		}
		p.giveBack()
		e.local.Store(p)
		p.slots <- struct{}{} // the one worker is busy
		if p.take() {
			t.Fatal("a pool whose one worker is busy let a start lease its first job")
		}
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

// leasedRun starts a run of set's chain workflow and leases its first job, as a start
// or a lease would hand it to a pool.
func leasedRun(t *testing.T, b *redistest.Backend, set *workflows.Set) (*Engine, string, *job) {
	t.Helper()
	ctx := context.Background()
	e := New(b.Client, Options{Shards: b.Shards, Logger: quiet})
	e.Use(set)
	id, err := e.Start(ctx, set.Workflow("chain"), event(`{"name": "Ada"}`))
	if err != nil {
		t.Fatal(err)
	}
	jobs, _, err := e.q.lease(ctx, e.q.shardFor("chain"), 1)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("lease: %v %v", jobs, err)
	}
	return e, id, jobs[0]
}

// TestStartLeasedJobWaitsForAWorker: a start leased its first job to this process,
// which had an idle worker when the start was sent; a step took that worker before the
// job came back. The job runs on the next worker free, and only then.
func TestStartLeasedJobWaitsForAWorker(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		rec := &recorder{}
		set := loadSet(t, rec, chainSrc)
		e, id, job := leasedRun(t, b, set)
		p := e.NewPool(1)
		t.Cleanup(func() {
			if err := p.Stop(context.Background()); err != nil {
				t.Error(err)
			}
		})
		if !p.take() {
			t.Fatal("an idle pool let no start lease its first job")
		}
		p.slots <- struct{}{} // a step takes the worker while the start is with Redis
		p.runTaken(job)
		time.Sleep(100 * time.Millisecond)
		if calls := rec.list(); len(calls) != 0 {
			t.Fatalf("calls %v while every worker was busy", calls)
		}
		<-p.slots // the step ends
		if r := waitRun(t, e, id); r.Status != "succeeded" || r.Steps[0].Attempts != 1 {
			t.Errorf("run %s, first step attempts %d", r.Status, r.Steps[0].Attempts)
		}
	})
}

// TestStopHandsBackJobsWaitingForAWorker: a job leased to this process and waiting for
// a worker when Stop begins is handed back unrun, and another process runs it.
func TestStopHandsBackJobsWaitingForAWorker(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		rec := &recorder{}
		set := loadSet(t, rec, chainSrc)
		e, id, job := leasedRun(t, b, set)
		p := e.NewPool(1)
		p.slots <- struct{}{} // the one worker is busy, with a step Stop does not wait for
		p.running.Add(1)
		go p.runWhenIdle(job)
		stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := p.Stop(stopCtx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if len(rec.list()) != 0 {
			t.Fatalf("calls %v: a job waiting for a worker ran after Stop began", rec.list())
		}
		other := New(b.Client, Options{Shards: b.Shards, Logger: quiet})
		other.Use(set)
		startPool(t, other, 1)
		if r := waitRun(t, other, id); r.Status != "succeeded" {
			t.Errorf("run %s %s", r.Status, r.Error)
		}
	})
}

// TestStartedRunReadsItsEvent: the first step leased by its run's start reads the run's
// event, whether it is taken from the start (a webhook's, sealed) or decoded from the
// run (a poll's, whose free-form values read as their JSON types).
func TestStartedRunReadsItsEvent(t *testing.T) {
	const src = `
workflow "reads" {
  step "probe" "first" {
    value = "{{ event.body.name }} {{ event.poll?.page }}"
  }
}
`
	b := redistest.Mini(t)
	e, set, _ := running(t, b, src, 2)
	webhook := &workflows.Event{ID: "e1", Trigger: "webhook", ContentType: "application/json", Raw: `{"name": "Ada"}`}
	if err := webhook.Seal(); err != nil {
		t.Fatal(err)
	}
	poll := &workflows.Event{ID: "e2", Trigger: "poll", ContentType: "application/json", Raw: `{"name": "Bob"}`,
		Poll: map[string]any{"page": 2}}
	for ev, want := range map[*workflows.Event]string{webhook: "Ada ", poll: "Bob 2"} {
		id, err := e.Start(context.Background(), set.Workflow("reads"), ev)
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != "succeeded" || len(r.Steps) != 1 {
			t.Fatalf("%s run: %s %s", ev.Trigger, r.Status, r.Error)
		}
		if got := r.Steps[0].Output.(map[string]any)["value"]; got != want {
			t.Errorf("%s run: the step read %q, want %q", ev.Trigger, got, want)
		}
	}
}

// TestStraightLineLeasesNeedNoCounter: the leases given on a run's straight line (its
// first job, by the start; each next job, to the worker that commits the one before)
// take no token from the shard's counter, and still fence: a worker whose lease expired
// cannot commit or heartbeat over the worker the job went to, a chained job holds the
// token of the one it follows, which cannot commit twice, a job that failed its run
// keeps no token (a replay queues it, to be leased with a fresh one), and a run made
// again with the id of one dropped gives its first job another token.
func TestStraightLineLeasesNeedNoCounter(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		rec := &recorder{}
		set := loadSet(t, rec, chainSrc)
		wf := set.Workflow("chain")
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Lease: 300 * time.Millisecond})
		e.Use(set)
		sh := e.q.shardFor("chain")
		_, stalled, err := e.q.startOnce(ctx, "run-line", wf, []byte(`{"id":"ev","trigger":"manual","raw":"{}"}`), nil, "", nil, true)
		if err != nil || stalled == nil {
			t.Fatalf("start: job %v, %v", stalled, err)
		}
		if n, _ := b.Client.Exists(ctx, sh.tokens()).Result(); n != 0 {
			t.Error("a start that leased its first job used the token counter")
		}
		// The worker holding the first job stalls past its lease; another leases it.
		var taken []*job
		deadline := time.Now().Add(5 * time.Second)
		for len(taken) == 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			if taken, _, err = e.q.lease(ctx, sh, 1); err != nil {
				t.Fatal(err)
			}
		}
		if len(taken) != 1 || taken[0].id != stalled.id || taken[0].token == stalled.token {
			t.Fatalf("after the lease expired: %+v (the stalled worker's token %q)", taken, stalled.token)
		}
		first := taken[0]
		next := func(j *job, step string) commit {
			return commit{job: j, runID: "run-line", wf: wf, record: &Record{Status: StatusSucceeded}, chain: true,
				plan: &Plan{Status: RunRunning, Start: []unit{{step: step}}}}
		}
		if _, err := e.q.complete(ctx, next(stalled, "second")); !errors.Is(err, errStaleLease) {
			t.Errorf("the stalled worker's commit: %v", err)
		}
		if held, err := e.q.heartbeat(ctx, []*job{stalled}); err != nil || held[0] != beatLost {
			t.Errorf("the stalled worker's heartbeat: %v %v", held, err)
		}
		second, err := e.q.complete(ctx, next(first, "second")) // advance.lua
		if err != nil || second == nil || second.token != first.token {
			t.Fatalf("chained: %+v %v, want the token %q", second, err, first.token)
		}
		if _, err := e.q.complete(ctx, next(first, "second")); !errors.Is(err, errStaleLease) {
			t.Errorf("the first job committed twice: %v", err)
		}
		// The second step fails the run and its on_failure step goes on, leased to the
		// same worker (complete.lua): the failed job keeps no token.
		c := next(second, "third")
		c.dead, c.record = true, &Record{Status: StatusFailed, Error: "boom"}
		c.plan.Handle, c.plan.Error, c.plan.FailedStep = true, "boom", "second"
		third, err := e.q.complete(ctx, c)
		if err != nil || third == nil || third.token != first.token || third.unit.step != "third" {
			t.Fatalf("chained after a failure: %+v %v, want the token %q", third, err, first.token)
		}
		if tok, err := b.Client.HGet(ctx, sh.job(second.id), "token").Result(); err != redis.Nil {
			t.Errorf("the dead letter holds the token %q (%v)", tok, err)
		}
		if n, _ := b.Client.Get(ctx, sh.tokens()).Int(); n != 1 {
			t.Errorf("the counter gave %d tokens, want 1: only the lease of a job taken back", n)
		}

		// A run's id may come again once the run is dropped (a child run's is its
		// parent step's): its first job's token then differs from the first time's.
		_, once, err := e.q.startOnce(ctx, "run-again", wf, []byte(`{"id":"ev","trigger":"manual","raw":"{}"}`), nil, "", nil, true)
		if err != nil || once == nil {
			t.Fatalf("start: job %v, %v", once, err)
		}
		time.Sleep(2 * time.Millisecond)
		if err := b.Client.Del(ctx, sh.run("run-again"), sh.job("run-again:first")).Err(); err != nil {
			t.Fatal(err)
		}
		_, again, err := e.q.startOnce(ctx, "run-again", wf, []byte(`{"id":"ev","trigger":"manual","raw":"{}"}`), nil, "", nil, true)
		if err != nil || again == nil || again.token == once.token {
			t.Fatalf("the run's id again: job %+v, %v; the first time's token %q", again, err, once.token)
		}
	})
}
