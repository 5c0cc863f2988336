package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// healthTTL is how long the outcome of a check of a Redis Cluster is kept: /readyz
// probes, status requests and the admin API's errors share one check per healthTTL.
const healthTTL = time.Second

// healthTimeout bounds a check of a Redis Cluster: a primary that has not answered by
// then counts as unreachable.
const healthTimeout = 2 * time.Second

// clusterHealth tells whether a Redis Cluster can serve hookflow (clusterProbe): every
// primary in its slot map answers, and says cluster_state:ok, and every shard's slot
// has a primary and stays on it. A cluster whose primary and replica are both gone, or
// whose primary is gone until its replica is elected, refuses the commands of those
// slots (and, with cluster-require-full-coverage, of every slot), though a PING sent to
// any live node is answered.
type clusterHealth struct {
	probe func(ctx context.Context) (primaries int, err error)
	now   func() time.Time
	ttl   time.Duration
	name  string // what is asked, for a caller whose ctx ends first: "the Redis Cluster"

	mu        sync.Mutex
	at        time.Time // of the check kept; zero: none yet
	primaries int
	err       error
	running   chan struct{} // closed when the check under way ends; nil: none is
}

func newClusterHealth(cc *redis.ClusterClient, shards int) *clusterHealth {
	return &clusterHealth{probe: newClusterProbe(cc, shards).probe, now: time.Now, ttl: healthTTL, name: "the Redis Cluster"}
}

// check returns how many primaries the cluster's slot map has, and why the cluster
// cannot serve (nil when it can), from a check at most ttl old. One check runs at a
// time, on its own deadline: callers that come meanwhile wait for it, each until its
// own ctx ends (a probe with a short timeout is answered that the cluster did not
// answer in time, rather than kept waiting), and a caller that gives up leaves the
// result for the next one.
func (h *clusterHealth) check(ctx context.Context) (int, error) {
	h.mu.Lock()
	if !h.at.IsZero() && h.now().Sub(h.at) < h.ttl {
		defer h.mu.Unlock()
		return h.primaries, h.err
	}
	done := h.running
	if done == nil {
		done = make(chan struct{})
		h.running = done
		go h.run(done)
	}
	h.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		select {
		case <-done: // it ended too: its outcome is there
		default:
			return 0, fmt.Errorf("%s did not answer in time: %w", h.name, ctx.Err())
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.primaries, h.err
}

// run checks the cluster and keeps the outcome, then closes done.
func (h *clusterHealth) run(done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), healthTimeout)
	defer cancel()
	var primaries int
	var err error
	func() {
		defer func() { // a check that panics says so, rather than end the process
			if p := recover(); p != nil {
				err = fmt.Errorf("checking the Redis Cluster failed: %v", p)
			}
		}()
		primaries, err = h.probe(ctx)
	}()
	h.mu.Lock()
	h.primaries, h.err, h.at, h.running = primaries, err, h.now(), nil
	h.mu.Unlock()
	close(done)
}

// CheckCluster checks once, within 2s, whether the Redis Cluster of cc serves the
// queue's shards shards, as Ping does on a cluster, and says why not: which primary is
// refused, does not answer, or says cluster_state:fail, and which shard has no
// primary or is being moved. hookflow asks it when a cluster refuses its first
// commands at start (CLUSTERDOWN names no node).
func CheckCluster(ctx context.Context, cc *redis.ClusterClient, shards int) error {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	p := newClusterProbe(cc, shards)
	defer p.keep(nil, nil) // closes its clients
	_, err := p.probe(ctx)
	return err
}

// clusterState is the cluster_state field of a CLUSTER INFO reply ("ok" or "fail").
func clusterState(info string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "cluster_state:"); ok {
			return v
		}
	}
	return "unknown"
}
