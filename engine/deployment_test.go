package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookflow/hookflow/internal/metricstest"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// The first process stores its shard count; the others take it, or are refused when
// they ask for another.
func TestAgreeShards(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		def := 1
		if b.Cluster != nil {
			def = DefaultClusterShards
		}
		if n, err := AgreeShards(ctx, b.Client, 0); err != nil || n != def {
			t.Fatalf("first start without --shards: %d, %v; want %d", n, err, def)
		}
		if n, err := AgreeShards(ctx, b.Client, 0); err != nil || n != def {
			t.Errorf("second start without --shards: %d, %v", n, err)
		}
		if n, err := AgreeShards(ctx, b.Client, def); err != nil || n != def {
			t.Errorf("--shards %d: %d, %v", def, n, err)
		}
		_, err := AgreeShards(ctx, b.Client, def+3)
		if !errors.Is(err, ErrShardsMismatch) || !strings.Contains(err.Error(), "start with --shards") ||
			!strings.Contains(err.Error(), fmt.Sprintf("has %d shard%s (", def, map[bool]string{true: "", false: "s"}[def == 1])) {
			t.Errorf("--shards %d on a queue of %d: %v", def+3, def, err)
		}
		st, err := New(b.Client, Options{Shards: def, Logger: quiet}).Redis(ctx)
		if b.Cluster != nil && (st.Mode != RedisCluster || st.Primaries != 3) || b.Cluster == nil && st.Mode != RedisStandalone || err != nil {
			t.Errorf("status %+v, %v", st, err)
		}
	})
}

// A client of a single Redis on a node of a Redis Cluster is told so, with
// ErrClusterNode, whether the node holds hf:shards (a shard's key is then elsewhere)
// or not.
func TestAgreeShardsOnAClusterNodeTakenForASingleRedis(t *testing.T) {
	b := redistest.SharedCluster(t)
	ctx := context.Background()
	if _, err := AgreeShards(ctx, b.Client, 0); err != nil {
		t.Fatal(err)
	}
	holder, err := b.Cluster.PrimaryOf(ctx, shardsKey)
	if err != nil {
		t.Fatal(err)
	}
	other, err := b.Cluster.PrimaryOf(ctx, shardPrefix(0))
	for i := 1; err == nil && other == holder; i++ {
		other, err = b.Cluster.PrimaryOf(ctx, shardPrefix(i))
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, addr, moved string }{
		{"holding hf:shards", holder, "reading a key of shard {hf:"},
		{"not holding it", other, "reading the shard count from hf:shards: MOVED "},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := AgreeShards(ctx, b.Cluster.Node(t, c.addr), 0)
			if !errors.Is(err, ErrClusterNode) || !strings.Contains(err.Error(), c.moved) {
				t.Errorf("AgreeShards on the node %s through a client of a single Redis: %v; want %v saying %q", c.addr, err, ErrClusterNode, c.moved)
			}
		})
	}
}

// A process starts on a Redis out of memory once the count is stored: it reads it
// without writing, so that an operator can see, through it, the runs that filled it.
func TestAgreeShardsOnAFullRedis(t *testing.T) {
	b := redistest.Real(t)
	ctx := context.Background()
	if _, err := AgreeShards(ctx, b.Client, 0); err != nil {
		t.Fatal(err)
	}
	b.Fill(t)
	if err := b.Client.Set(ctx, "one-more", "x", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "OOM") {
		t.Fatalf("a write to the filled Redis: %v, want OOM", err)
	}
	if n, err := AgreeShards(ctx, b.Client, 0); err != nil || n != 1 {
		t.Errorf("a start on the full Redis: %d, %v", n, err)
	}
	if n, err := AgreeShards(ctx, b.Client, 1); err != nil || n != 1 {
		t.Errorf("a start on the full Redis with --shards 1: %d, %v", n, err)
	}
}

// With WaitReplicas, a start on a Redis without that many replicas fails after the
// timeout, though the primary has the run; on the cluster, each primary has one.
func TestStartWaitsForReplicas(t *testing.T) {
	ctx := context.Background()
	t.Run("redis-server", func(t *testing.T) {
		b := redistest.Real(t)
		e := New(b.Client, Options{Logger: quiet, WaitReplicas: 1, WaitTimeout: 50 * time.Millisecond})
		wf := loadSet(t, &recorder{}, chainSrc).Workflow("chain")
		id, err := e.Start(ctx, wf, event(`{}`))
		if !errors.Is(err, ErrNotReplicated) {
			t.Errorf("start on a Redis with no replica: %v", err)
		}
		if r, err := e.Run(ctx, id); id == "" || err != nil || r.Status != RunQueued {
			t.Errorf("the run the primary stored, %q: %+v, %v", id, r, err)
		}
		// A start of a dedupe key names the run the key started, not one it did not.
		first, _, err := e.StartOnce(ctx, wf, event(`{}`), "delivery-1", time.Hour)
		if !errors.Is(err, ErrNotReplicated) || first == "" {
			t.Fatalf("first start of a key: %q, %v", first, err)
		}
		again, created, err := e.StartOnce(ctx, wf, event(`{}`), "delivery-1", time.Hour)
		if !errors.Is(err, ErrNotReplicated) || again != first || created {
			t.Errorf("second start of the key: %q, %v, %v; want the first run, %q", again, created, err, first)
		}
	})
	t.Run("cluster", func(t *testing.T) {
		b := redistest.SharedCluster(t)
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet, WaitReplicas: 1})
		set := loadSet(t, &recorder{}, chainSrc+failSrc)
		for _, wf := range set.Workflows() {
			id, err := e.Start(ctx, wf, event(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			if r, err := e.Run(ctx, id); err != nil || r.Status != RunQueued {
				t.Errorf("run %+v, %v", r, err)
			}
		}
	})
}

// A start that too few replicas acknowledged is stored, and runs: it counts as a
// start, as its end counts when it ends (a run that ends as it starts, with its
// failure or no step to run, then too, with its run finished line). So does a start
// Redis did not answer, as it may have stored it: here the primary has it, and its
// answer waits for the replicas past the caller's deadline.
func TestStartNotReplicatedCountsItsStart(t *testing.T) {
	ctx := context.Background()
	b := redistest.Real(t)
	reg := prometheus.NewRegistry()
	var logs testutil.LogBuffer
	e := New(b.Client, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Metrics: reg, WaitReplicas: 1,
		WaitTimeout: 50 * time.Millisecond})
	set := loadSet(t, &recorder{}, chainSrc+"workflow \"empty\" {\n}\n")
	e.Use(set)
	var ids []string
	id, err := e.Start(ctx, set.Workflow("chain"), event(`{"name": "Ada"}`))
	if !errors.Is(err, ErrNotReplicated) || id == "" {
		t.Fatalf("start on a Redis with no replica: %q, %v", id, err)
	}
	ids = append(ids, id)
	if id, err = e.StartFailed(ctx, set.Workflow("chain"), event(`{}`), "filter: no"); !errors.Is(err, ErrNotReplicated) || id == "" {
		t.Fatalf("a failed start: %q, %v", id, err)
	}
	if id, err = e.Start(ctx, set.Workflow("empty"), event(`{}`)); !errors.Is(err, ErrNotReplicated) || id == "" {
		t.Fatalf("a start with no step: %q, %v", id, err)
	}
	// Not answered: the caller stops waiting while Redis waits for the replicas.
	slowReg := prometheus.NewRegistry()
	slow := New(b.Client, Options{Logger: quiet, Metrics: slowReg, WaitReplicas: 1, WaitTimeout: 2 * time.Second})
	slow.Use(set)
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if id, err = slow.Start(short, set.Workflow("chain"), event(`{"name": "Bob"}`)); !errors.Is(err, ErrOutcomeUnknown) || id == "" {
		t.Fatalf("a start not answered: %q, %v", id, err)
	}
	ids = append(ids, id)
	startPool(t, e, 2)
	for _, id := range ids {
		if r := waitRun(t, e, id); r.Status != RunSucceeded {
			t.Fatalf("run %s: %s", id, r.Status)
		}
	}
	wantSeries(t, reg, "hookflow_runs_started_total", map[string]float64{"trigger=manual,workflow=chain": 2, "trigger=manual,workflow=empty": 1})
	wantSeries(t, slowReg, "hookflow_runs_started_total", map[string]float64{"trigger=manual,workflow=chain": 1})
	testutil.Eventually(t, 10*time.Second, "every end counted", func() bool {
		got := metricstest.Series(t, reg, "hookflow_runs_finished_total")
		return got["status=succeeded,workflow=chain"] == 2
	})
	wantSeries(t, reg, "hookflow_runs_finished_total", map[string]float64{"status=succeeded,workflow=chain": 2,
		"status=failed,workflow=chain": 1, "status=succeeded,workflow=empty": 1})
	if n := len(logs.Lines(`"msg":"run finished"`)); n != 4 {
		t.Errorf("%d run finished lines, want 4:\n%s", n, logs.String())
	}
}
