package engine

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// A planned failover (CLUSTER FAILOVER) ends the BLPOP a worker waits for steps with
// on the old primary: Redis answers UNBLOCKED. That is logged at INFO as a failover,
// not as an error, and the worker goes on with the new primary.
func TestAFailoverWakingTheWaitIsNoError(t *testing.T) {
	b := redistest.NewCluster(t, 0)
	ctx := context.Background()
	var logs testutil.LogBuffer
	e := New(b.Client, Options{Shards: b.Shards, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	set := loadSet(t, &recorder{}, chainSrc)
	e.Use(set)
	startPool(t, e, 4)

	key := ShardPrefix("chain", b.Shards) + "wake"
	primary, err := b.Cluster.PrimaryOf(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	node := b.Cluster.Node(t, primary)
	testutil.Eventually(t, 10*time.Second, "a worker blocked in BLPOP on "+primary, func() bool {
		return strings.Contains(node.ClientList(ctx).Val(), "cmd=blpop")
	})
	if _, _, err := b.Cluster.Failover(ctx, key); err != nil {
		t.Fatal(err)
	}
	const woke = `"msg":"a Redis failover woke the wait for steps; waiting again"`
	testutil.Eventually(t, 10*time.Second, "the failover logged", func() bool { return len(logs.Lines(woke)) > 0 })
	var line map[string]any
	if err := json.Unmarshal([]byte(logs.Lines(woke)[0]), &line); err != nil {
		t.Fatal(err)
	}
	if line["level"] != "INFO" || !strings.Contains(line["err"].(string), "UNBLOCKED") {
		t.Errorf("the failover's line: %v", line)
	}
	if errs := logs.Lines(`"level":"ERROR"`); len(errs) > 0 {
		t.Errorf("errors logged by a planned failover:\n%s", strings.Join(errs, "\n"))
	}
	id, err := e.Start(ctx, set.Workflow("chain"), event(`{"name": "Ada"}`))
	if err != nil {
		t.Fatal(err)
	}
	if r := waitRun(t, e, id); r.Status != "succeeded" {
		t.Errorf("a run after the failover: %s (%s)", r.Status, r.Error)
	}
}
