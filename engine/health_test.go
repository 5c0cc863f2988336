package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// A check of a cluster is kept for its ttl: the checks within it share one probe, and
// the first after it probes again.
func TestClusterHealthKeepsACheckForItsTTL(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	probes := 0
	down := errors.New("the Redis Cluster is down: primary 10.0.0.2:7001 says cluster_state:fail")
	answers := []error{nil, down, nil}
	h := &clusterHealth{now: func() time.Time { return now }, ttl: time.Second,
		probe: func(ctx context.Context) (int, error) {
			if _, ok := ctx.Deadline(); !ok {
				t.Error("a probe without a deadline")
			}
			probes++
			return 3, answers[probes-1]
		}}
	for _, c := range []struct {
		name    string
		advance time.Duration
		probes  int
		err     error
	}{
		{"first", 0, 1, nil},
		{"within the ttl", 999 * time.Millisecond, 1, nil},
		{"after it", time.Millisecond, 2, down},
		{"a failure kept too", 500 * time.Millisecond, 2, down},
		{"back", 500 * time.Millisecond, 3, nil},
	} {
		now = now.Add(c.advance)
		n, err := h.check(context.Background())
		if probes != c.probes || n != 3 || !errors.Is(err, c.err) {
			t.Errorf("%s: %d probes, %d primaries, %v; want %d probes, %v", c.name, probes, n, err, c.probes, c.err)
		}
	}
}

// A cluster whose primary and its replica are killed is not ready: Ping and Redis say
// which primary does not answer, while a PING to any live node still would. Once both
// are back, it is ready again.
func TestPingSeesAClusterDown(t *testing.T) {
	b := redistest.NewCluster(t, time.Second)
	ctx := context.Background()
	e := New(b.Client, Options{Shards: b.Shards, Logger: quiet})
	if err := e.Ping(ctx); err != nil {
		t.Fatalf("a healthy cluster: %v", err)
	}
	if st, err := e.Redis(ctx); err != nil || st.State != "ok" || st.Primaries != 3 {
		t.Fatalf("a healthy cluster: %+v, %v", st, err)
	}

	primary, err := b.Cluster.PrimaryOf(ctx, ShardPrefix("any", b.Shards))
	if err != nil {
		t.Fatal(err)
	}
	replica, err := b.Cluster.ReplicaOf(ctx, primary)
	if err != nil {
		t.Fatal(err)
	}
	b.Cluster.Kill(primary)
	b.Cluster.Kill(replica)
	var why error
	testutil.Eventually(t, 15*time.Second, "Ping naming the dead primary and cluster_state:fail", func() bool {
		why = e.Ping(ctx)
		return why != nil && strings.Contains(why.Error(), "primary "+primary+" is unreachable") &&
			strings.Contains(why.Error(), "cluster_state:fail")
	})
	t.Logf("Ping: %v", why)
	if err := b.Client.Ping(ctx).Err(); err != nil {
		t.Logf("a plain PING: %v", err) // answered by a live node, most often
	}
	st, err := e.Redis(ctx)
	if err == nil || st.State != "unreachable" || st.Mode != RedisCluster || !strings.Contains(err.Error(), primary) {
		t.Errorf("status of the cluster down: %+v, %v", st, err)
	}

	for _, addr := range []string{primary, replica} {
		if err := b.Cluster.Restart(ctx, addr); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Cluster.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 15*time.Second, "Ping ok once the nodes are back", func() bool { return e.Ping(ctx) == nil })
	if st, err := e.Redis(ctx); err != nil || st.State != "ok" || st.Primaries != 3 {
		t.Errorf("the cluster back: %+v, %v", st, err)
	}
}

// A caller whose ctx ends while a check is under way is answered at once that the
// cluster did not answer in time; the check goes on, and its outcome is kept for the
// callers after it.
func TestClusterHealthCallerGivesUp(t *testing.T) {
	release := make(chan struct{})
	probes := 0
	h := &clusterHealth{now: time.Now, ttl: time.Minute,
		probe: func(ctx context.Context) (int, error) {
			probes++
			<-release
			return 3, nil
		}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.check(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("a caller that gave up: %v", err)
	}
	close(release)
	if n, err := h.check(context.Background()); n != 3 || err != nil || probes != 1 {
		t.Errorf("the caller after it: %d primaries, %v, %d probes; want 3, nil, 1", n, err, probes)
	}
}
