package engine

import (
	"context"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
)

// TestAwaitAcrossProcesses: a caller waiting on another engine than the one whose
// workers run the run (no wake-up in its process) reads the run's answer from Redis.
func TestAwaitAcrossProcesses(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		e, set, _ := running(t, b, chainSrc, 4)
		other := New(b.Client, Options{Logger: quiet})
		wf := set.Workflow("chain")
		id, err := e.Start(context.Background(), wf, event(`{"name": "Ada"}`))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r, err := other.Await(ctx, wf, id)
		if err != nil {
			t.Fatal(err)
		}
		// The last step is skipped: the answer is the last one that succeeded.
		out, _ := r.Output.(map[string]any)
		if r.Status != "succeeded" || r.Step != "second" || out["value"] != "hello Ada from chain" {
			t.Errorf("reply %+v", r)
		}
		if _, err := other.Await(ctx, wf, "no-such-run"); err != ErrNotFound {
			t.Errorf("a run that does not exist: %v", err)
		}
		short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		id, err = e.StartFailed(context.Background(), wf, event(`{}`), "filter: broken")
		if err != nil {
			t.Fatal(err)
		}
		if r, err := other.Await(short, wf, id); err != nil || r.Status != "failed" || r.Step != "" {
			t.Errorf("a failed run: %+v, %v", r, err)
		}
	})
}

// A step committed in this process wakes a caller here waiting for its run at once,
// rather than at its next read: the embedded Redis's short grace (keepGraceEmbedded)
// counts on it.
func TestCommitWakesWaiters(t *testing.T) {
	b := redistest.Mini(t)
	e, set, _ := running(t, b, chainSrc, 4)
	id := "woken-run"
	woken := e.waiters.add(id)
	defer e.waiters.remove(id, woken)
	if err := e.StartAs(context.Background(), set.Workflow("chain"), event(`{"name": "Ada"}`), id); err != nil {
		t.Fatal(err)
	}
	waitRun(t, e, id)
	// Only a commit (or a cancel) wakes a waiter: nothing here reads the run for it. The
	// wake comes once the commit's call returns, which may be just after waitRun sees
	// the run's end in Redis.
	select {
	case <-woken:
	case <-time.After(5 * time.Second):
		t.Fatal("the run ended, and its waiter in this process was not woken")
	}
}
