package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

// BenchmarkWaitingRunMemory measures what a run waiting at a wait step costs Redis:
// each op starts 10,000 runs on a real redis-server, each of which renders its resume
// URL in a first step and parks at its wait, and reads used_memory before and after:
//
//	go test ./engine -run XXX -bench BenchmarkWaitingRunMemory -benchtime 1x -v
func BenchmarkWaitingRunMemory(bb *testing.B) {
	const n = 10_000
	var t testing.TB = bb
	b := redistest.Real(t)
	ctx := context.Background()
	rec := &recorder{}
	k := probeKinds(rec)
	actions.Register(k, actions.Options{Logger: quiet})
	set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(`
workflow "refund" {
  step "probe" "ask" {
    value = "Refund {{ event.body.order_id }}? {{ resume_url('approval') }}"
  }
  step "wait" "approval" {
    timeout    = "72h"
    on_timeout = "continue"
  }
  step "probe" "after" {
    value = "{{ steps.approval.body }}"
  }
}
`)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	e := New(b.Client, Options{Logger: quiet, Kinds: k, ResumeBase: "https://hooks.example.com/resume/"})
	e.Use(set)
	wf := set.Workflow("refund")
	// The key, the version's source and the scripts are in Redis before the first
	// reading: what follows is the runs' own.
	if _, err := e.ResumeURL(ctx, "refund", "x", "approval"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Start(ctx, wf, event(`{}`)); err != nil {
		t.Fatal(err)
	}
	startPool(t, e, 32)
	testutil.Eventually(t, time.Minute, "the first run waits", func() bool { return waitingRuns(t, e) == 1 })
	body := `{"order_id": "ord_%06d", "amount": 49.99, "currency": "usd", "reason": "Arrived damaged", "customer": {"name": "Jenny Rosen", "email": "jenny.rosen@example.com"}}`
	var before, after, keysBefore, keysAfter int64
	var per float64
	bb.ResetTimer()
	for round := range bb.N {
		before, keysBefore = usedMemory(t, b.Client), b.Client.DBSize(ctx).Val()
		for i := range n {
			if _, err := e.Start(ctx, wf, event(fmt.Sprintf(body, round*n+i))); err != nil {
				t.Fatal(err)
			}
		}
		testutil.Eventually(t, 10*time.Minute, "every run waits", func() bool { return waitingRuns(t, e) == (round+1)*n+1 })
		after, keysAfter = usedMemory(t, b.Client), b.Client.DBSize(ctx).Val()
		per += float64(after-before) / float64(n)
	}
	per /= float64(bb.N)
	bb.ReportMetric(per, "bytes/waiting-run")
	bb.ReportMetric(float64(1<<30)/per, "waiting-runs/GB")
	// One run's own keys, as MEMORY USAGE counts them; the rest of its cost is its
	// members in the shard's sorted sets (history, slots, the queue).
	page, err := e.Runs(ctx, RunFilter{Workflow: "refund", Limit: 1})
	if err != nil || len(page.Runs) == 0 {
		t.Fatalf("runs: %v", err)
	}
	sh, id := e.q.shardFor("refund"), page.Runs[0].ID
	runBytes := b.Client.MemoryUsage(ctx, sh.run(id)).Val()
	jobBytes := b.Client.MemoryUsage(ctx, sh.job(id+":approval")).Val()
	t.Logf("one run's hash: %d bytes (MEMORY USAGE), its parked job's hash: %d bytes", runBytes, jobBytes)
	t.Logf("%d waiting runs: used_memory %d -> %d bytes: %.0f bytes per waiting run, %.0f waiting runs per GB "+
		"(%d bytes of event body each; %.1f keys per run)",
		n, before, after, per, float64(1<<30)/per, len(fmt.Sprintf(body, 0)), float64(keysAfter-keysBefore)/float64(n))
}

// waitingRuns counts the runs with status waiting.
func waitingRuns(t testing.TB, e *Engine) int {
	t.Helper()
	n := 0
	for cursor := ""; ; {
		page, err := e.Runs(context.Background(), RunFilter{Status: string(RunWaiting), Limit: MaxLimit, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Runs)
		if page.Next == "" || len(page.Runs) == 0 {
			return n
		}
		cursor = page.Next
	}
}
