package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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

// The primary of the Redis Cluster holding the queue is killed (SIGKILL) while
// webhooks arrive through hookflow serve. While its replica is elected in its place
// (cluster-node-timeout 1s here), webhooks are answered 503 with Retry-After (fire
// fails on any other answer). With --redis-wait-replicas 1, every webhook answered
// 202 is on the promoted replica and ends in a delivered run. Without it, the runs
// the replica had not received when its primary died are lost: counted and logged
// (docs/operations.md reports the count), not asserted. Each time, the killed node
// comes back as the new primary's replica and webhooks are accepted again.
func TestClusterPrimaryKilled(t *testing.T) {
	b := redistest.NewCluster(t, time.Second)
	dir := testutil.WriteRelay(t)
	t.Run("wait-replicas 1", func(t *testing.T) {
		killPrimaryUnderLoad(t, b, dir, "--redis-wait-replicas", "1").checkNoneMissing(t)
	})
	if t.Failed() {
		return
	}
	ctx := context.Background()
	err := b.Client.(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		return c.FlushAll(ctx).Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("wait-replicas 0", func(t *testing.T) {
		killPrimaryUnderLoad(t, b, dir).logLoss(t, "the killed primary")
	})
}

// The primary of the Redis Cluster holding the relay's shard is killed under load and
// stays down. hookflow's Redis client reloads its slot map at once on a MOVED reply,
// which a node that is gone never gives: it reloads it every second too, so that once
// the replica took the primary's place, the shard's webhooks are accepted again within
// seconds, not at the client's next reload by default, a minute later. /readyz says
// ready then: it checks that the client follows the cluster's map. Every webhook
// answered 202 after the election is delivered (of those before, the ones the replica
// had not received are lost without --redis-wait-replicas, which here would refuse
// every webhook of the shard: its new primary has no replica left).
func TestClusterPrimaryKilledStaysDown(t *testing.T) {
	b := redistest.NewCluster(t, time.Second)
	ctx := context.Background()
	api := testutil.NewSink(t, time.Millisecond)
	p := startProc(t, testutil.WriteRelay(t), b.URL, api.URL)
	prefix := engine.ShardPrefix("relay", engine.DefaultClusterShards)
	url := "http://" + p.public + "/hooks/relay"

	stopFiring := fireUntilStopped(t, url, 5*time.Millisecond)
	testutil.Eventually(t, 30*time.Second, "runs delivered before the kill", func() bool { return api.Total() >= 200 })
	old, err := b.Cluster.PrimaryOf(ctx, prefix+"due")
	if err != nil {
		t.Fatal(err)
	}
	b.Cluster.Kill(old)
	promoted, err := b.Cluster.WaitPromoted(ctx, prefix+"due", old)
	if err != nil {
		t.Fatal(err)
	}
	elected := time.Now()
	t.Logf("killed the primary %s of %s; %s took its place", old, prefix, promoted)
	// The senders go on: each 503 waits for the client's dial to the node that is gone.
	testutil.Eventually(t, 15*time.Second, "a webhook accepted after the election", func() bool {
		return post(t, url) == http.StatusAccepted
	})
	t.Logf("webhooks accepted again %s after the election", time.Since(elected).Round(100*time.Millisecond))
	ids := stopFiring()
	if ready := readyz(t, p); ready != http.StatusOK {
		t.Errorf("/readyz answers %d while webhooks are accepted", ready)
	}
	after := fire(t, url, 200, counter())
	if len(after) != 200 {
		t.Errorf("after the failover, %d of 200 webhooks accepted", len(after))
	}
	checkAfterFailover(t, b.Client, prefix, api, ids, after, 2*64).logLoss(t, "the killed primary")
}

// readyz returns the status /readyz of p answers.
func readyz(t *testing.T, p *proc) int {
	t.Helper()
	resp, err := http.Get("http://" + p.admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// killPrimaryUnderLoad starts hookflow serve on cluster b with the extra flags, kills
// the primary holding the relay workflow's shard under load, waits for its replica's
// promotion, and brings the killed node back as a replica. It checks that webhooks are
// accepted after that, and that every run in Redis is delivered.
func killPrimaryUnderLoad(t *testing.T, b *redistest.Backend, dir string, extra ...string) failedOver {
	t.Helper()
	ctx := context.Background()
	api := testutil.NewSink(t, time.Millisecond)
	p := startProc(t, dir, b.URL, api.URL, extra...)
	if out := statusOf(t, p); !strings.Contains(out, "redis: cluster of 3 primaries, 16 shards") {
		t.Errorf("hookflow status does not name the cluster:\n%s", out)
	}
	prefix := engine.ShardPrefix("relay", engine.DefaultClusterShards)
	url := "http://" + p.public + "/hooks/relay"

	stopFiring := fireUntilStopped(t, url, 5*time.Millisecond)
	testutil.Eventually(t, 30*time.Second, "runs delivered before the kill", func() bool { return api.Total() >= 400 })
	old, err := b.Cluster.PrimaryOf(ctx, prefix+"due")
	if err == nil {
		b.Cluster.Kill(old)
		var promoted string
		promoted, err = b.Cluster.WaitPromoted(ctx, prefix+"due", old)
		t.Logf("killed the primary %s of %s; %s took its place", old, prefix, promoted)
	}
	if err == nil {
		err = b.Cluster.Restart(ctx, old)
	}
	if err == nil {
		err = b.Cluster.WaitHealthy(ctx)
	}
	ids := stopFiring()
	if err != nil {
		t.Fatal(err)
	}
	// The cluster refuses every command while a slot has no primary: a webhook of the
	// election is answered 503, unless the election ended within the Redis client's
	// retries, when it is accepted late.
	refused := p.metric(t, `hookflow_events_rejected_total{reason="unavailable"}`)
	t.Logf("%d webhooks answered 503 during the failover", int(refused))
	after := fire(t, url, 200, counter())
	if len(after) != 200 {
		t.Errorf("after the failover, %d of 200 webhooks accepted", len(after))
	}

	// A step runs again when its commit is lost: at most the 64 in flight at the
	// kill, and the 64 after.
	return checkAfterFailover(t, b.Client, prefix, api, ids, after, 2*64)
}
