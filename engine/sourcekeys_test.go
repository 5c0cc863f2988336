package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

// sourceKeys returns the keys of a version's list and files under prefix.
func sourceKeys(prefix string, wf *workflows.Workflow) []string {
	keys := []string{versionSourcesKey(prefix, wf.Name, wf.Version)}
	for _, src := range wf.Sources {
		sum := sha256.Sum256(src.Data)
		keys = append(keys, sourceKey(prefix, hex.EncodeToString(sum[:])))
	}
	return keys
}

// A version's list and files are kept in the slot of its workflow's shard, so that its
// starts need that slot only; a file with workflows of two shards is kept in each. They
// are kept outside the shards too, where builds before the move read them.
func TestVersionSourcesLiveInTheirWorkflowsShard(t *testing.T) {
	b := redistest.SharedCluster(t)
	ctx := context.Background()
	set := loadSet(t, &recorder{}, `
workflow "order" {
  step "probe" "a" {
    value = "order"
  }
}
workflow "invoice" {
  step "probe" "a" {
    value = "invoice"
  }
}
`)
	if shardOf("order", b.Shards) == shardOf("invoice", b.Shards) {
		t.Fatal("the workflows share a shard: nothing to test")
	}
	e := New(b.Client, Options{Shards: b.Shards, Logger: quiet})
	for _, wf := range set.Workflows() {
		if _, err := e.Start(ctx, wf, event(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	for _, wf := range set.Workflows() {
		prefix := ShardPrefix(wf.Name, b.Shards)
		for _, k := range sourceKeys(prefix, wf) {
			slot, err := b.Client.ClusterKeySlot(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			if want := slotOf(prefix); int(slot) != want {
				t.Errorf("%s is in slot %d, not its shard's %d", k, slot, want)
			}
			if b.Client.Exists(ctx, k).Val() != 1 {
				t.Errorf("%s is missing", k)
			}
		}
		for _, k := range sourceKeys(unshardedPrefix, wf) {
			if b.Client.Exists(ctx, k).Val() != 1 {
				t.Errorf("%s, which older builds read, is missing", k)
			}
		}
	}
}

// A run of a version stored by a build before the sources moved into the shards (its
// keys only outside them) runs on a worker that never loaded it.
func TestVersionStoredByAnOlderBuildRuns(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		rec := &recorder{}
		wf := loadSet(t, rec, chainSrc).Workflow("chain")
		id, err := New(b.Client, Options{Shards: b.Shards, Logger: quiet}).Start(ctx, wf, event(`{"name": "Ada"}`))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range append(versionLists(b), sourceFiles(b)...) {
			if err := b.Client.Del(ctx, k).Err(); err != nil {
				t.Fatal(err)
			}
		}
		// As the older build stored it.
		sum := sha256.Sum256([]byte(chainSrc))
		b.Client.Set(ctx, "hf:src:"+hex.EncodeToString(sum[:]), chainSrc, 0)
		b.Client.Set(ctx, "hf:ver:chain@"+wf.Version, `[{"name":"t.hcl","sha256":"`+hex.EncodeToString(sum[:])+`"}]`, 0)

		worker := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Kinds: probeKinds(rec)})
		worker.Use(loadSet(t, rec, strings.Replace(chainSrc, `"hello `, `"bonjour `, 1)))
		startPool(t, worker, 1)
		r := waitRun(t, worker, id)
		if r.Status != "succeeded" || r.Version != wf.Version {
			t.Fatalf("run %+v", r.RunSummary)
		}
		if got := r.Steps[1].Output.(map[string]any)["value"]; got != "hello Ada from chain" {
			t.Errorf("second step gave %q: the run did not keep its version", got)
		}
	})
}

// While the slots of the sources' keys outside the shards have no primary (CLUSTER
// DELSLOTS, with cluster-require-full-coverage no), a process that never stored a
// version starts its first run, its shard being served, and a worker that never loaded
// the version runs it.
func TestVersionStartsWhileSlotsOutsideTheShardsAreUnserved(t *testing.T) {
	b := redistest.NewCluster(t, 0)
	ctx := context.Background()
	rec := &recorder{}
	wf := loadSet(t, rec, chainSrc).Workflow("chain")
	shardSlots := map[int]bool{}
	for i := range b.Shards {
		shardSlots[slotOf(shardPrefix(i))] = true
	}
	var unserved []any
	for _, k := range sourceKeys(unshardedPrefix, wf) {
		slot := slotOf(k)
		if shardSlots[slot] {
			t.Fatalf("%s is in the slot %d of a shard: nothing to test", k, slot)
		}
		unserved = append(unserved, slot)
	}
	for _, addr := range b.Cluster.Addrs {
		n := b.Cluster.Node(t, addr)
		if err := n.ConfigSet(ctx, "cluster-require-full-coverage", "no").Err(); err != nil {
			t.Fatal(err)
		}
		if err := n.Do(ctx, append([]any{"CLUSTER", "DELSLOTS"}, unserved...)...).Err(); err != nil {
			t.Fatalf("CLUSTER DELSLOTS %v on %s: %v", unserved, addr, err)
		}
	}
	if err := b.Client.Set(ctx, sourceKeys(unshardedPrefix, wf)[0], "x", 0).Err(); err == nil {
		t.Fatal("the slot of the version's list outside the shards is served")
	}

	id, err := New(b.Client, Options{Shards: b.Shards, Logger: quiet}).Start(ctx, wf, event(`{"name": "Ada"}`))
	if err != nil {
		t.Fatalf("starting a run of a version new to the process: %v", err)
	}
	worker := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Kinds: probeKinds(rec)})
	startPool(t, worker, 1)
	r := waitRun(t, worker, id)
	if r.Status != "succeeded" || r.Version != wf.Version {
		t.Fatalf("run %+v", r.RunSummary)
	}
	if got := r.Steps[1].Output.(map[string]any)["value"]; got != "hello Ada from chain" {
		t.Errorf("second step gave %q", got)
	}
}

// The keys outside the shards are in the slots docs/operations.md names.
func TestKeysOutsideTheShardsAreInTheSlotsTheDocsName(t *testing.T) {
	for key, slot := range map[string]int{shardsKey: 14067, resumeKeyName: 10232} {
		if got := slotOf(key); got != slot {
			t.Errorf("%s is in slot %d; docs/operations.md says %d", key, got, slot)
		}
	}
}
