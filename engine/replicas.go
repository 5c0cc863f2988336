package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrFewReplicas is why Ready fails while a primary has fewer replicas online than
// Options.WaitReplicas asks to acknowledge each start: every start is then refused
// (ErrNotReplicated), though Redis answers.
var ErrFewReplicas = errors.New("too few replicas")

// ErrInfoDenied is why Ready fails while Redis refuses the INFO command that counts
// the replicas (an ACL without +info): Redis answers, but the count is not known.
var ErrInfoDenied = errors.New("INFO denied")

// infoError is err, the error of INFO replication read from a primary (who), as
// Ready reports it: Redis refusing it, an ErrInfoDenied, or Redis unreachable.
func infoError(err error, who string) error {
	var refused redis.Error
	if errors.As(err, &refused) && strings.HasPrefix(refused.Error(), "NOPERM") { // an ACL's refusal, not BUSY or LOADING
		return fmt.Errorf("%w: %s refused INFO replication (%v), which counts its replicas for --redis-wait-replicas: "+
			"allow it to hookflow's Redis user (ACL SETUSER … +info)", ErrInfoDenied, who, err)
	}
	return fmt.Errorf("reading the replicas of %s (INFO replication): %w", who, err)
}

// replicasProbe counts the replicas online of the primary that holds each shard, as
// their INFO replication says (slaveN:…,state=online,…): a replica still loading the
// primary's dataset (state=wait_bgsave, send_bulk) acknowledges no WAIT.
type replicasProbe struct {
	rdb    redis.UniversalClient
	shards []string // the key prefix of each shard: the primaries of a cluster are theirs
	want   int
}

func newReplicasCheck(rdb redis.UniversalClient, shards []*shard, want int) *clusterHealth {
	p := &replicasProbe{rdb: rdb, want: want}
	for _, sh := range shards {
		p.shards = append(p.shards, sh.prefix)
	}
	return &clusterHealth{probe: p.probe, now: time.Now, ttl: healthTTL, name: "the Redis primary"}
}

// probe returns the fewest replicas online of any primary that holds a shard, and
// ErrFewReplicas naming each primary with fewer than want.
func (p *replicasProbe) probe(ctx context.Context) (int, error) {
	infos, err := p.replication(ctx)
	if err != nil {
		return 0, err
	}
	fewest := -1
	var few []string
	for _, addr := range slices.Sorted(maps.Keys(infos)) {
		n := onlineReplicas(infos[addr])
		if fewest < 0 || n < fewest {
			fewest = n
		}
		if n < p.want {
			who := "the primary"
			if addr != "" {
				who = "primary " + addr
			}
			few = append(few, fmt.Sprintf("%s has %d of them", who, n))
		}
	}
	if len(few) > 0 {
		return fewest, fmt.Errorf("%w: starts wait for %d replica%s to acknowledge them (--redis-wait-replicas), and %s online: webhooks are answered 503 until it has",
			ErrFewReplicas, p.want, plural(p.want), strings.Join(few, ", "))
	}
	return fewest, nil
}

// replication returns the INFO replication text of each primary that holds a shard,
// by address; on a single Redis, of the one primary, as "".
func (p *replicasProbe) replication(ctx context.Context) (map[string]string, error) {
	cc, ok := p.rdb.(*redis.ClusterClient)
	if !ok {
		info, err := p.rdb.Info(ctx, "replication").Result()
		if err != nil {
			return nil, infoError(err, "the primary")
		}
		return map[string]string{"": info}, nil
	}
	infos := map[string]string{}
	for _, prefix := range p.shards {
		c, err := cc.MasterForKey(ctx, prefix)
		if err != nil {
			return nil, fmt.Errorf("finding the primary of shard %s: %w", prefix, err)
		}
		addr := c.Options().Addr
		if _, done := infos[addr]; done {
			continue
		}
		info, err := c.Info(ctx, "replication").Result()
		if err != nil {
			return nil, infoError(err, "primary "+addr)
		}
		infos[addr] = info
	}
	return infos, nil
}

// onlineReplicas counts the replicas of an INFO replication text in state online.
func onlineReplicas(info string) int {
	n := 0
	for _, line := range strings.Split(info, "\n") {
		name, fields, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "slave") || strings.TrimLeft(name[len("slave"):], "0123456789") != "" || name == "slave" {
			continue
		}
		if slices.Contains(strings.Split(fields, ","), "state=online") {
			n++
		}
	}
	return n
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
