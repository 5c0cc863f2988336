package engine

import (
	"context"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
)

// TestWorkersWaitForTheNextJob: runs one after another are executed by the goroutine
// that executed the one before, not each by a new goroutine; Stop ends it.
func TestWorkersWaitForTheNextJob(t *testing.T) {
	b := redistest.Mini(t)
	rec := &recorder{}
	e := New(b.Client, Options{Shards: b.Shards, Logger: quiet})
	set := loadSet(t, rec, chainSrc)
	e.Use(set)
	p := e.NewPool(4)
	p.Start()
	idle := func() int {
		p.workers.mu.Lock()
		defer p.workers.mu.Unlock()
		return len(p.workers.idle)
	}
	for i := range 5 {
		id, err := e.Start(context.Background(), set.Workflow("chain"), event(`{"name": "Ada"}`))
		if err != nil {
			t.Fatal(err)
		}
		if r := waitRun(t, e, id); r.Status != "succeeded" {
			t.Fatalf("run %d: %s %s", i, r.Status, r.Error)
		}
		// The worker is idle once it has committed the run's end.
		deadline := time.Now().Add(5 * time.Second)
		for idle() == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if n := idle(); n != 1 {
			t.Fatalf("after run %d, %d goroutines wait for a job; want the one that executed the runs", i, n)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if n := idle(); n != 0 || !p.workers.stopped {
		t.Errorf("after Stop, %d goroutines wait for a job", n)
	}
}
