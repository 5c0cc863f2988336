package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

// A process that never loaded a workflow version runs it from the source the starting
// process stored in Redis: runs keep their version whichever worker meets them.
func TestAnyWorkerRunsAnyVersion(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		rec := &recorder{}
		starter := New(b.Client, Options{Logger: quiet})
		v1 := loadSet(t, rec, chainSrc)
		id, err := starter.Start(context.Background(), v1.Workflow("chain"), event(`{"name": "Ada"}`))
		if err != nil {
			t.Fatal(err)
		}

		// The worker has the files of another version only; it has never seen v1.
		edited := strings.Replace(chainSrc, `"hello `, `"bonjour `, 1)
		worker := New(b.Client, Options{Logger: quiet, Kinds: probeKinds(rec)})
		worker.Use(loadSet(t, rec, edited))
		startPool(t, worker, 2)
		r := waitRun(t, worker, id)
		if r.Status != "succeeded" || r.Version != v1.Workflow("chain").Version {
			t.Fatalf("run %+v", r.RunSummary)
		}
		if got := r.Steps[1].Output.(map[string]any)["value"]; got != "hello Ada from chain" {
			t.Errorf("second step gave %q: the run did not keep its version", got)
		}
		if len(r.Steps) != 3 || r.Steps[2].Status != "skipped" {
			t.Errorf("steps %+v", r.Steps)
		}
	})
}

// Without the source in Redis, the run fails with the reason and is dead-lettered,
// to be replayed where the version can be loaded.
func TestUnknownVersionIsDeadLettered(t *testing.T) {
	b := redistest.Mini(t)
	rec := &recorder{}
	starter := New(b.Client, Options{Logger: quiet})
	set := loadSet(t, rec, chainSrc)
	id, err := starter.Start(context.Background(), set.Workflow("chain"), event(`{"name": "Ada"}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range b.Client.Keys(context.Background(), "hf:ver:*").Val() {
		b.Client.Del(context.Background(), k)
	}
	worker := New(b.Client, Options{Logger: quiet, Kinds: probeKinds(rec)})
	pool := startPool(t, worker, 1)
	r := waitRun(t, worker, id)
	if r.Status != "failed" || !strings.Contains(r.Error, "is not in Redis") || r.DeadLetter == "" {
		t.Fatalf("run %+v", r.RunSummary)
	}
	if err := pool.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	starter.Use(set)
	startPool(t, starter, 1)
	if err := starter.Replay(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if r := waitRun(t, starter, id); r.Status != "succeeded" {
		t.Errorf("replayed run %s: %s", r.Status, r.Error)
	}
}

func TestSourcesAreStoredOncePerVersion(t *testing.T) {
	b := redistest.Mini(t)
	e := New(b.Client, Options{Logger: quiet})
	set := loadSet(t, &recorder{}, chainSrc)
	for range 3 {
		if _, err := e.Start(context.Background(), set.Workflow("chain"), event(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	keys := b.Client.Keys(context.Background(), "hf:*").Val()
	if len(keys) != 2 {
		t.Fatalf("source keys %v, want one version list and one file", keys)
	}
	for _, k := range keys {
		if ttl := b.Client.TTL(context.Background(), k).Val(); ttl <= sourceTTL {
			t.Errorf("%s expires in %s, want past the longest delay plus the retention", k, ttl)
		}
	}
	var _ workflows.Source // the stored files are workflows.Sources
}
