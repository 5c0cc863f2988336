package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// A primary of the Redis Cluster fails over to its replica (CLUSTER FAILOVER) while
// webhooks arrive through hookflow serve, with --redis naming one node and
// --redis-wait-replicas 1. Every webhook answered 202 ends in a finished run: none is
// lost, and none was answered 202 without being stored.
func TestClusterFailoverLosesNoAcceptedEvent(t *testing.T) {
	b := redistest.NewCluster(t, 0)
	api := testutil.NewSink(t, time.Millisecond)
	dir := testutil.WriteRelay(t)
	p := startProc(t, dir, b.URL, api.URL, "--redis-wait-replicas", "1")

	var status struct {
		Redis engine.RedisStatus `json:"redis"`
	}
	p.getJSON(t, "/api/v1/status", &status)
	if st := status.Redis; st.Mode != "cluster" || st.Primaries != 3 || st.Shards != engine.DefaultClusterShards || st.WaitReplicas != 1 {
		t.Fatalf("status says Redis is %+v; want a cluster of 3 primaries, %d shards, waiting for 1 replica", st, engine.DefaultClusterShards)
	}
	prefix := engine.ShardPrefix("relay", engine.DefaultClusterShards)

	stopFiring := fireUntilStopped(t, "http://"+p.public+"/hooks/relay", 5*time.Millisecond)
	time.Sleep(time.Second)
	from, to, err := b.Cluster.Failover(context.Background(), prefix+"due")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the primary of %s moved from %s to %s", prefix, from, to)
	time.Sleep(time.Second)
	ids := stopFiring()
	if len(ids) < 100 {
		t.Fatalf("only %d webhooks accepted", len(ids))
	}
	testutil.WaitRunsIn(t, b.Client, prefix, ids, 60*time.Second)
	checkDelivered(t, api, ids, 2*64, true)
}
