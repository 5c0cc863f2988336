package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// TestExpiredLeaseIsTakenBack: a worker leases a step and dies. Once the lease expires,
// another worker takes the step, runs it, and the dead worker's token can no longer
// commit.
func TestExpiredLeaseIsTakenBack(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		rec := &recorder{}
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Lease: 300 * time.Millisecond})
		set := loadSet(t, rec, chainSrc)
		e.Use(set)
		id, err := e.Start(ctx, set.Workflow("chain"), event(`{"name": "Ada"}`))
		if err != nil {
			t.Fatal(err)
		}
		dead, _, err := e.q.lease(ctx, e.q.shardFor("chain"), 1)
		if err != nil || len(dead) != 1 {
			t.Fatalf("lease: %v %v", dead, err)
		}

		startPool(t, e, 2)
		r := waitRun(t, e, id)
		// The attempt whose worker died counts.
		if r.Status != "succeeded" || r.Steps[0].Attempts != 2 {
			t.Errorf("run %s, first step attempts %d, want 2", r.Status, r.Steps[0].Attempts)
		}
		if calls := rec.list(); len(calls) != 2 {
			t.Errorf("calls %v, want each step once", calls)
		}
		c := commit{job: dead[0], runID: id, wf: set.Workflow("chain"), record: &Record{Status: StatusSucceeded},
			plan: &Plan{Status: RunRunning, Start: []unit{{step: "second"}}}}
		if _, err := e.q.complete(ctx, c); !errors.Is(err, errStaleLease) {
			t.Errorf("the dead worker's commit: %v", err)
		}
	})
}

// TestHeartbeatKeepsALongStep: a step that runs three times longer than the lease is
// not taken by another process meanwhile.
func TestHeartbeatKeepsALongStep(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		rec := &recorder{hold: make(chan struct{})}
		set := loadSet(t, rec, chainSrc)
		var engines []*Engine
		for range 2 { // two processes on one Redis
			e := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Lease: 300 * time.Millisecond})
			e.Use(set)
			startPool(t, e, 2)
			engines = append(engines, e)
		}
		id, err := engines[0].Start(context.Background(), set.Workflow("chain"), event(`{"name": "Ada"}`))
		if err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(time.Second, func() { close(rec.hold) }) // the step's own duration
		r := waitRun(t, engines[0], id)
		if r.Status != "succeeded" {
			t.Errorf("run %s %s", r.Status, r.Error)
		}
		if calls := rec.list(); len(calls) != 2 || r.Steps[0].Attempts != 1 {
			t.Errorf("calls %v, first step attempts %d: a held step ran twice", calls, r.Steps[0].Attempts)
		}
	})
}

// TestStopDeadlineHandsStepsBack: when Stop gives up waiting, the step still running
// goes back to the queue instead of failing its run, and another worker runs it.
func TestStopDeadlineHandsStepsBack(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		e, p, rec, id := holding(t, b)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if err := p.Stop(ctx); err == nil || !strings.Contains(err.Error(), "handed back") {
			t.Errorf("Stop: %v", err)
		}
		if got := p.Stopped(); got != (StopReport{HandedBack: 1}) {
			t.Errorf("Stopped: %+v, want the one step handed back", got)
		}
		r, err := e.Run(context.Background(), id)
		if err != nil || r.Status != "running" || r.Steps[0].Status != "pending" {
			t.Fatalf("after Stop the run should wait for another worker: %+v %v", r, err)
		}

		close(rec.hold)
		startPool(t, e, 1)
		r = waitRun(t, e, id)
		// The attempt handed back never finished: it does not count.
		if r.Status != "succeeded" || r.Steps[0].Attempts != 1 {
			t.Errorf("run %s, first step attempts %d, want 1", r.Status, r.Steps[0].Attempts)
		}
	})
}

// A step that ends while Stop waits, but whose outcome Redis does not take, is left
// leased, not counted as ended: it runs again once its lease expires, and Stop says so.
func TestStopCountsAStepNotRecordedAsLeftLeased(t *testing.T) {
	b := redistest.Mini(t)
	_, p, rec, _ := holding(t, b)
	stopped := make(chan error)
	go func() { stopped <- p.Stop(context.Background()) }()
	testutil.Eventually(t, 5*time.Second, "Stop begun", p.running.counting.Load)
	b.Mini.Close()
	close(rec.hold)
	err := <-stopped
	if err == nil || !strings.Contains(err.Error(), "1 step was neither handed back nor known to be recorded") {
		t.Errorf("Stop: %v, want it to say the step was left leased", err)
	}
	if got := p.Stopped(); got != (StopReport{Leased: 1}) {
		t.Errorf("Stopped: %+v, want the one step left leased", got)
	}
}

// A step whose worker dies every time fails its run after 5 expired leases in a row,
// and goes to the dead letters; a finished attempt in between starts the count over.
func TestStepThatKeepsCrashingIsDeadLettered(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Lease: 20 * time.Millisecond})
		wf := loadSet(t, &recorder{}, chainSrc).Workflow("chain")
		if err := e.q.start(ctx, "run1", wf, []byte(`{}`), ""); err != nil {
			t.Fatal(err)
		}
		sh := e.q.shardFor("chain")
		crash := func(times int) *job {
			t.Helper()
			var last *job
			for range times {
				testutil.Eventually(t, 5*time.Second, "the job leased again", func() bool {
					jobs, _, err := e.q.lease(ctx, sh, 1) // takes back the expired lease first
					if err != nil {
						t.Fatal(err)
					}
					if len(jobs) == 1 {
						last = jobs[0]
					}
					return len(jobs) == 1
				})
				time.Sleep(30 * time.Millisecond) // the worker "dies": its lease expires
			}
			return last
		}
		j := crash(4)
		// An attempt that finishes (and is retried) is not a crash: the count starts over.
		if err := e.q.retry(ctx, j, "run1", "chain", &Record{Status: StatusRetrying}, 0, 0); err != nil {
			t.Fatal(err)
		}
		crash(4)
		if s := b.Client.HGet(ctx, sh.run("run1"), "status").Val(); s == "failed" {
			t.Fatal("the run failed after 4 crashes in a row")
		}
		crash(1)
		// After the 5th expiry the job is leased once more, marked: the worker that
		// takes it records the failure without running the step, and the planner fails
		// the run.
		jobs, _, err := e.q.lease(ctx, sh, 1)
		if err != nil || len(jobs) != 1 || !strings.Contains(jobs[0].crashed, "stopped 5 times in a row") {
			t.Fatalf("leased %v after the 5th crash, %v", jobs, err)
		}
		e.Use(loadSet(t, &recorder{}, chainSrc))
		p := e.NewPool(1)
		p.running.Add(1) // as the pool's fetcher would, before execute
		p.slots <- struct{}{}
		p.execute(jobs[0])
		run := b.Client.HGetAll(ctx, sh.run("run1")).Val()
		if run["status"] != "failed" || !strings.Contains(run["error"], "stopped 5 times in a row") || run["dead"] != "run1:first" {
			t.Errorf("run %v", run)
		}
		if n := b.Client.ZCard(ctx, sh.dead()).Val(); n != 1 {
			t.Errorf("%d dead letters", n)
		}
	})
}

// TestLeasedJobWaitingForAWorkerKeepsItsLease: a lease took two jobs for two idle
// workers, and a start of this process took one of those meanwhile. The second job
// waits for a worker three times longer than the lease, and another process does not
// take it meanwhile: each step runs once.
func TestLeasedJobWaitingForAWorkerKeepsItsLease(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		rec := &recorder{hold: make(chan struct{})}
		set := loadSet(t, rec, chainSrc)
		opts := Options{Shards: b.Shards, Logger: quiet, Lease: 300 * time.Millisecond}
		e := New(b.Client, opts)
		e.Use(set)
		var ids []string
		for _, name := range []string{"Ada", "Grace"} {
			id, err := e.Start(ctx, set.Workflow("chain"), event(`{"name": "`+name+`"}`))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		jobs, _, err := e.q.lease(ctx, e.q.shardFor("chain"), 2)
		if err != nil || len(jobs) != 2 {
			t.Fatalf("lease: %v %v", jobs, err)
		}
		p := e.NewPool(1)
		p.loops = append(p.loops, startLoop(p.heartbeat)) // no fetch loop: the lease above is its
		t.Cleanup(func() {
			if err := p.Stop(context.Background()); err != nil {
				t.Error(err)
			}
		})
		p.slots <- struct{}{} // the worker the fetch loop took for the first job
		go p.startLeased(jobs)

		other := New(b.Client, opts) // another process, leasing what is due or expired
		other.Use(set)
		startPool(t, other, 2)
		time.AfterFunc(time.Second, func() { close(rec.hold) }) // the first job's step
		for _, id := range ids {
			if r := waitRun(t, e, id); r.Status != "succeeded" || r.Steps[0].Attempts != 1 {
				t.Errorf("run %s: %s, first step attempts %d", id, r.Status, r.Steps[0].Attempts)
			}
		}
		if calls := rec.list(); len(calls) != 4 {
			t.Errorf("calls %v, want the two steps of each run once", calls)
		}
	})
}
