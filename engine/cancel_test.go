package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

const cancelSrc = `
workflow "slow" {
  step "http" "call" {
    url = "URL/slow"
  }
  step "http" "after" {
    url = "URL/after"
  }
  on_failure {
    step "http" "page" {
      url = "URL/page"
    }
  }
}

workflow "later" {
  step "delay" "wait" {
    duration = "1h"
  }
  step "http" "after" {
    url = "URL/after"
  }
}
`

// cancelEngine is an engine of real http steps with a short lease, so that a worker
// sees a cancel at its next heartbeat.
func cancelEngine(t *testing.T, b *redistest.Backend, src string) (*Engine, *workflows.Set) {
	t.Helper()
	k := workflows.NewKinds()
	client := actions.NewClient(actions.NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}))
	actions.Register(k, actions.Options{Client: client, Logger: quiet})
	set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(src)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	e := New(b.Client, Options{Logger: quiet, Kinds: k, Lease: 300 * time.Millisecond})
	e.Use(set)
	startPool(t, e, 2)
	return e, set
}

// waitStatus waits for a run to have a status.
func waitStatus(t *testing.T, e *Engine, id string, status RunStatus) *Run {
	t.Helper()
	var r *Run
	testutil.Eventually(t, 10*time.Second, "run "+id+" "+string(status), func() bool {
		var err error
		if r, err = e.Run(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		return r.Status == status
	})
	return r
}

// Cancelling a run whose step is running cancels the step's request, queues nothing
// more, and runs no on_failure step; a second cancel finds it finished.
func TestCancelRunningStep(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		entered, gone := make(chan struct{}, 1), make(chan struct{})
		var others atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/slow" {
				others.Add(1)
				return
			}
			entered <- struct{}{}
			<-r.Context().Done() // the caller gave up: the step was cancelled
			close(gone)
		}))
		t.Cleanup(srv.Close)
		e, set := cancelEngine(t, b, strings.ReplaceAll(cancelSrc, "URL", srv.URL))
		ctx := context.Background()
		id, err := e.Start(ctx, set.Workflow("slow"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the step never called")
		}
		c, err := e.Cancel(ctx, id)
		if err != nil || c.Status != RunCancelled || c.Was != RunRunning {
			t.Fatalf("cancel: %+v %v", c, err)
		}
		select {
		case <-gone:
		case <-time.After(10 * time.Second):
			t.Fatal("the running request was not cancelled")
		}
		r := waitStatus(t, e, id, RunCancelled)
		if r.Error != "cancelled" || r.FinishedAt == nil {
			t.Errorf("run %+v", r.RunSummary)
		}
		if got := stepsOf(r); got != "call cancelled, after cancelled" {
			t.Errorf("steps %s", got)
		}
		if _, err := e.Cancel(ctx, id); !errors.Is(err, ErrFinished) {
			t.Errorf("cancelling a cancelled run: %v", err)
		}
		if _, err := e.Cancel(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("cancelling no run: %v", err)
		}
		// Nothing of the run is left to lease, and no later step or on_failure ran.
		sh := e.q.shardFor("slow")
		if n := b.Client.ZCard(ctx, sh.leases()).Val(); n != 0 {
			t.Errorf("%d leases left", n)
		}
		if n := b.Client.ZCard(ctx, sh.ready("slow")).Val(); n != 0 {
			t.Errorf("%d jobs queued", n)
		}
		if n := others.Load(); n != 0 {
			t.Errorf("%d calls after the cancel", n)
		}
		if open := b.Client.Get(ctx, sh.open()).Val(); open != "0" {
			t.Errorf("open runs %s", open)
		}
	})
}

// A run waiting out a delay, and one waiting in line for a concurrency slot, are
// cancelled without running anything more; the next run in line takes the slot.
func TestCancelWaitingRuns(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
		t.Cleanup(srv.Close)
		src := strings.ReplaceAll(cancelSrc, "URL", srv.URL)
		src = strings.Replace(src, `workflow "later" {`, "workflow \"later\" {\n  concurrency = 1", 1)
		e, set := cancelEngine(t, b, src)
		ctx := context.Background()
		var ids []string
		for range 3 {
			id, err := e.Start(ctx, set.Workflow("later"), event(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		waiting := waitStatus(t, e, ids[0], RunRunning)
		// The delay's step settled; while it holds the run it shows waiting, until its
		// time, and the step after it pending.
		testutil.Eventually(t, 10*time.Second, "the first run waiting out its delay", func() bool {
			waiting, _ = e.Run(ctx, ids[0])
			return waiting.Steps[0].Status == StatusWaiting
		})
		if at := waiting.Steps[0].NextAttemptAt; at == nil || time.Until(*at) < 59*time.Minute || time.Until(*at) > time.Hour {
			t.Errorf("the delay goes on at %v, want in an hour", at)
		}
		if got := stepsOf(waiting); got != "wait waiting, after pending" {
			t.Errorf("steps %s", got)
		}
		if r, _ := e.Run(ctx, ids[1]); r.Status != RunQueued {
			t.Fatalf("second run %s, want queued for the slot", r.Status)
		}
		for _, id := range ids[:2] {
			if _, err := e.Cancel(ctx, id); err != nil {
				t.Fatal(err)
			}
			waitStatus(t, e, id, RunCancelled)
		}
		// The third run takes the freed slot, and waits out its own delay.
		testutil.Eventually(t, 10*time.Second, "the third run started", func() bool {
			r, _ := e.Run(ctx, ids[2])
			return r.Steps[0].Status == StatusWaiting
		})
		// A cancelled run's delay never let it go on: it is cancelled too.
		if r, _ := e.Run(ctx, ids[0]); stepsOf(r) != "wait cancelled, after cancelled" {
			t.Errorf("cancelled run's steps %s", stepsOf(r))
		}
		sh := e.q.shardFor("later")
		queued := b.Client.ZRange(ctx, sh.ready("later"), 0, -1).Val()
		if fmt.Sprint(queued) != fmt.Sprintf("[%s:after]", ids[2]) {
			t.Errorf("queued %v, want the third run's next step only", queued)
		}
		if n := calls.Load(); n != 0 {
			t.Errorf("%d calls", n)
		}
	})
}

// A run cancelled while its on_failure steps run has them cancelled, and stays failed
// with its error and its dead letter: the step that failed it is still to be replayed.
func TestCancelDuringOnFailure(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		rec := &recorder{}
		e := New(b.Client, Options{Logger: quiet, Lease: 300 * time.Millisecond})
		set := loadSet(t, rec, `
workflow "w" {
  step "probe" "a" {
    value = "a"
    fail  = true
  }
  on_failure {
    step "probe" "notify" {
      value = "{{ run.error }}"
    }
  }
}
`)
		e.Use(set)
		rec.hold, rec.entered = make(chan struct{}), make(chan struct{}, 2)
		startPool(t, e, 1)
		id, err := e.Start(ctx, set.Workflow("w"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		<-rec.entered // a
		rec.hold <- struct{}{}
		<-rec.entered // notify, held until cancelled
		c, err := e.Cancel(ctx, id)
		if err != nil || c.Status != RunFailed || c.Was != RunRunning {
			t.Fatalf("cancel: %+v %v", c, err)
		}
		r := waitStatus(t, e, id, RunFailed)
		if r.DeadLetter != id+":a" || !strings.Contains(r.Error, "a") || r.Error == "cancelled" {
			t.Errorf("run %+v: %s", r.RunSummary, stepsOf(r))
		}
		testutil.Eventually(t, 10*time.Second, "notify cancelled", func() bool { return rec.running.Load() == 0 })
		if n := b.Client.ZCard(ctx, e.q.shardFor("w").dead()).Val(); n != 1 {
			t.Errorf("%d dead letters, want a's", n)
		}
		if calls := rec.list(); len(calls) != 1 {
			t.Errorf("calls %v: notify should not have finished", calls)
		}
		if _, err := e.Cancel(ctx, id); !errors.Is(err, ErrFinished) {
			t.Errorf("a second cancel: %v", err)
		}
		// Replayed, a goes again (and fails again, and notify with it).
		if _, err := e.Replay(ctx, id, ReplayOptions{}); err != nil {
			t.Fatalf("replay: %v", err)
		}
		<-rec.entered // a
		rec.hold <- struct{}{}
		<-rec.entered // notify
		rec.hold <- struct{}{}
		waitStatus(t, e, id, RunFailed)
	})
}

const cancelTreeSrc = `
workflow "order" {
  step "workflow" "invoices" {
    for_each = "event.body.orders"
    workflow = "invoice"
    input    = { order = "{{ each.value }}" }
  }
}

workflow "invoice" {
  step "workflow" "deeper" {
    workflow = "grandchild"
  }
}

workflow "grandchild" {
  step "delay" "wait" {
    duration = "1h"
  }
  step "set" "after" {
    done = true
  }
}
`

// startCancelTree starts a run of cancelTreeSrc's order with two orders, on an engine
// with 4 shards and a pool, and returns once both its grandchildren run, waiting out
// their delays.
func startCancelTree(t *testing.T, b *redistest.Backend) (e *Engine, set *workflows.Set, id string, grandchildren []string) {
	t.Helper()
	ctx := context.Background()
	k := workflows.NewKinds()
	actions.Register(k, actions.Options{Logger: quiet})
	set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(cancelTreeSrc)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	e = New(b.Client, Options{Logger: quiet, Kinds: k, Shards: 4, Lease: 300 * time.Millisecond})
	e.Use(set)
	startPool(t, e, 2)
	id, err := e.Start(ctx, set.Workflow("order"), event(`{"orders": ["a", "b"]}`))
	if err != nil {
		t.Fatal(err)
	}
	grandchildren = []string{id + ":invoices:0:deeper", id + ":invoices:1:deeper"}
	for _, g := range grandchildren {
		testutil.Eventually(t, 10*time.Second, "run "+g+" running", func() bool {
			r, err := e.Run(ctx, g)
			return err == nil && r.Status == RunRunning
		})
	}
	return e, set, id, grandchildren
}

// Cancelling a run that waits for its children cancels them, and theirs: the parent,
// each child of a for_each step and the grandchildren end cancelled, each in its own
// workflow's shard.
func TestCancelCancelsChildren(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, _, id, grandchildren := startCancelTree(t, b)
		if e.q.shardFor("order") == e.q.shardFor("invoice") {
			t.Fatal("the test wants the parent and its children in different shards")
		}
		out, err := e.Cancel(ctx, id)
		if err != nil || out.Status != RunCancelled {
			t.Fatalf("cancel: %v %+v", err, out)
		}
		for _, run := range append([]string{id, id + ":invoices:0", id + ":invoices:1"}, grandchildren...) {
			waitStatus(t, e, run, RunCancelled)
		}
		if _, err := e.Cancel(ctx, id+":invoices:0"); !errors.Is(err, ErrFinished) {
			t.Errorf("a child cancelled with its parent: %v", err)
		}
	})
}

// A wait step of a run cancelled while it waited shows the time it waited, to the
// cancel.
func TestCancelledWaitShowsItsWait(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		e, _, set, _ := realKindsEngine(t, b, `
workflow "approve" {
  step "wait" "approval" {
    timeout = "1h"
  }
}`, Options{})
		ctx := context.Background()
		id, err := e.Start(ctx, set.Workflow("approve"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		waitStatus(t, e, id, RunWaiting)
		time.Sleep(1200 * time.Millisecond)
		if _, err := e.Cancel(ctx, id); err != nil {
			t.Fatal(err)
		}
		r := waitStatus(t, e, id, RunCancelled)
		s := r.Steps[0]
		if s.Status != StatusCancelled || s.DurationMS == nil || *s.DurationMS < 1100 || s.FinishedAt == nil || !s.FinishedAt.Equal(*r.FinishedAt) {
			t.Errorf("the wait cancelled after 1.2 s: %s, %v ms, finished %v (the run %v)", s.Status, s.DurationMS, s.FinishedAt, r.FinishedAt)
		}
	})
}

// A child run cancelled with its parent is cancelled even while its on_failure steps
// run, and its dead letter goes: nothing of a cancelled tree is to be replayed.
func TestCancelledParentsChildInOnFailureIsCancelled(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, set, _ := subRunEngine(t, b, `
workflow "parent" {
  step "workflow" "call" {
    workflow = "child"
  }
}

workflow "child" {
  step "probe" "a" {
    value = "a"
    fail  = true
  }
  on_failure {
    step "wait" "ack" {
      timeout = "1h"
    }
  }
}
`)
		id, err := e.Start(ctx, set.Workflow("parent"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		child := id + ":call"
		testutil.Eventually(t, 10*time.Second, "the child at its on_failure wait", func() bool {
			r, err := e.Run(ctx, child)
			return err == nil && r.Status == RunWaiting
		})
		if _, err := e.Cancel(ctx, id); err != nil {
			t.Fatal(err)
		}
		r := waitStatus(t, e, child, RunCancelled)
		if r.DeadLetter != "" {
			t.Errorf("the child keeps its dead letter %s", r.DeadLetter)
		}
		if n := b.Client.ZCard(ctx, e.q.shardFor("child").dead()).Val(); n != 0 {
			t.Errorf("%d dead letters", n)
		}
	})
}

// A process that dies after a run's cancel is written, before it cancelled the run's
// children, leaves them going: the run's cancel again (by hand, or a parent's timeout
// when its step runs again) is refused as finished, and cancels them, and theirs.
func TestCancelAgainReachesTheTreeACrashLeft(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, set, id, grandchildren := startCancelTree(t, b)
		children := []string{id + ":invoices:0", id + ":invoices:1"}
		// The parent's cancel, as a process writes it before it goes on to the children,
		// and no further.
		if _, ends, err := e.q.cancel(ctx, id, set.Workflow("order"), cancelByHand); err != nil || ends != RunCancelled {
			t.Fatalf("the parent's own cancel: %v %s", err, ends)
		}
		for _, run := range append(children, grandchildren...) {
			if r, err := e.Run(ctx, run); err != nil || r.Status != RunRunning {
				t.Fatalf("before the second cancel, %s: %v %+v", run, err, r)
			}
		}
		if _, err := e.Cancel(ctx, id); !errors.Is(err, ErrFinished) {
			t.Errorf("cancelling the cancelled run again: %v, want ErrFinished", err)
		}
		for _, run := range append(children, grandchildren...) {
			waitStatus(t, e, run, RunCancelled)
		}

		// A child replayed by hand since is not the crash's: a cancel of the parent again
		// leaves it. (Its replay is written here as replay.lua writes it.)
		key := e.q.shardFor("invoice").run(children[0])
		if err := b.Client.HSet(ctx, key, "status", string(RunRunning), "replayed", time.Now().Add(time.Hour).UnixMilli()).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Cancel(ctx, id); !errors.Is(err, ErrFinished) {
			t.Errorf("cancelling the cancelled run a third time: %v", err)
		}
		if st := b.Client.HGet(ctx, key, "status").Val(); st != string(RunRunning) {
			t.Errorf("a child replayed since the parent's cancel is %s, want left running", st)
		}
	})
}
