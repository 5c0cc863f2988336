package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// How hookflow reaches Redis, as Options.RedisMode and RedisStatus name it.
const (
	RedisEmbedded   = "embedded"   // the in-process miniredis of a serve without --redis
	RedisStandalone = "standalone" // one Redis server (with replicas or not)
	RedisCluster    = "cluster"    // a Redis Cluster, through a cluster client
	RedisSentinel   = "sentinel"   // the primary a Sentinel group names
)

// shardsKey holds the number of queue shards of the deployment sharing a Redis. It
// lives outside the shards: scripts never read it.
const shardsKey = "hf:shards"

// DefaultClusterShards is the shards a deployment on a Redis Cluster gets when none is
// stored or asked for: enough for the queue to spread over 16 primaries.
const DefaultClusterShards = 16

// ErrShardsMismatch is returned by AgreeShards when the Redis holds a queue made with
// another number of shards.
var ErrShardsMismatch = errors.New("shard count mismatch")

// ErrDenied is returned by AgreeShards when Redis's ACL denies hookflow's user a key
// or command it needs (NOPERM): a configuration error, which waiting does not mend.
var ErrDenied = errors.New("the Redis user may not use hookflow's keys and commands")

// Denied is err, an error of a command to Redis, as ErrDenied with the ACL hookflow
// needs, when Redis refused it with NOPERM; else err as it is.
func Denied(err error) error {
	var reply redis.Error
	if !errors.As(err, &reply) || !strings.HasPrefix(reply.Error(), "NOPERM") {
		return err
	}
	return fmt.Errorf("%w: %w; its ACL must allow the keys %s (hf:shards, hf:resume-key, hf:src:…, and each shard's {hf:N}:…) "+
		"and the commands hookflow runs, such as ACL SETUSER <user> %s +@all -@dangerous (docs/security.md)", ErrDenied, err, aclKeys, aclKeys)
}

// ErrClusterNode is returned by AgreeShards when a client of a single Redis is
// answered MOVED or ASK: the server is a node of a Redis Cluster, whose keys only a
// cluster client follows to their nodes. Waiting does not mend it.
var ErrClusterNode = errors.New("this Redis is a cluster node")

// clusterNode is err, an error of a command to Redis through rdb, as ErrClusterNode
// when rdb is a client of a single Redis and Redis answered MOVED or ASK.
func clusterNode(rdb redis.UniversalClient, err error) error {
	if _, ok := rdb.(*redis.ClusterClient); ok || !redis.HasErrorPrefix(err, "MOVED ") && !redis.HasErrorPrefix(err, "ASK ") {
		return err
	}
	return fmt.Errorf("%w: %w; hookflow took it for a single Redis, as it did not say it is a cluster's "+
		"(INFO cluster, or CLUSTER INFO where the ACL denies INFO): give hookflow a node that answers them as a cluster's", ErrClusterNode, err)
}

// AgreeShards returns the number of queue shards every process sharing rdb uses. The
// first process to start stores its count in Redis; want 0 takes the stored count, or,
// with none stored, 1 on a single Redis and DefaultClusterShards on a cluster. A want
// other than the stored count is refused with ErrShardsMismatch: a process with
// another count would look for each workflow's runs in another shard. On a client of a
// single Redis, a Redis that answers MOVED or ASK to the count or to a key of a shard
// is ErrClusterNode: every command of the shards it does not hold would fail.
func AgreeShards(ctx context.Context, rdb redis.UniversalClient, want int) (int, error) {
	n := want
	if n <= 0 {
		n = 1
		if _, ok := rdb.(*redis.ClusterClient); ok {
			n = DefaultClusterShards
		}
	}
	// Read first, and write only when none is stored: a Redis out of memory refuses
	// every write, and a process that could not start there could not show an operator
	// the runs that filled it.
	s, err := rdb.Get(ctx, shardsKey).Result()
	if errors.Is(err, redis.Nil) {
		if err := rdb.SetNX(ctx, shardsKey, n, 0).Err(); err != nil {
			return 0, clusterNode(rdb, Denied(fmt.Errorf("storing the shard count in %s: %w", shardsKey, err)))
		}
		s, err = rdb.Get(ctx, shardsKey).Result()
	}
	if err != nil {
		return 0, clusterNode(rdb, Denied(fmt.Errorf("reading the shard count from %s: %w", shardsKey, err)))
	}
	stored, err := strconv.Atoi(s)
	if err != nil || stored <= 0 {
		return 0, fmt.Errorf("%s holds %q, not a shard count", shardsKey, s)
	}
	if want > 0 && stored != want {
		shards := "shards"
		if stored == 1 {
			shards = "shard"
		}
		return 0, fmt.Errorf("%w: --shards %d, but the queue in this Redis has %d %s (stored in %s by the first process that used it): every process sharing a Redis must use the same count; start with --shards %d, or leave --shards out",
			ErrShardsMismatch, want, stored, shards, shardsKey, stored)
	}
	if err := shardsHeld(ctx, rdb, stored); err != nil {
		return 0, err
	}
	return stored, nil
}

// shardsHeld asks a single Redis, in one round trip, whether each of n shards' keys is
// its own: a node of a cluster that holds hf:shards answers MOVED for the shards it does
// not hold (ErrClusterNode). A cluster client follows its slots: it is not asked.
func shardsHeld(ctx context.Context, rdb redis.UniversalClient, n int) error {
	if _, ok := rdb.(*redis.ClusterClient); ok {
		return nil
	}
	cmds, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range n {
			p.Exists(ctx, shardPrefix(i))
		}
		return nil
	})
	for i, c := range cmds {
		if c.Err() != nil {
			return clusterNode(rdb, Denied(fmt.Errorf("reading a key of shard {hf:%d}: %w", i, c.Err())))
		}
	}
	return err
}

// RedisStatus tells how the engine reaches Redis.
type RedisStatus struct {
	Mode string `json:"mode"` // embedded, standalone, cluster or sentinel
	// Primaries is how many primaries of a cluster serve slots; 0 for any other mode.
	Primaries int `json:"primaries,omitempty"`
	Shards    int `json:"shards"`
	// WaitReplicas is how many replicas acknowledge a run before its start returns.
	WaitReplicas int `json:"wait_replicas"`
	// Replicas is how many replicas the primary has online (on a cluster, the fewest
	// of any primary that holds a shard), when WaitReplicas is above 0 and Redis
	// answers; nil otherwise.
	Replicas *int `json:"replicas,omitempty"`
	// State is "ok" while Redis serves (on a cluster: every primary answers and says
	// cluster_state:ok, and every shard's slot has a primary that is not migrating it),
	// "unreachable" while it does not, "few_replicas" while a primary has fewer
	// replicas online than WaitReplicas (every start is refused), "info_denied" while
	// Redis refuses the INFO that counts them, "refused" while Redis refuses starts
	// (Ready's ErrStartsRefused: out of memory, an ACL), Error saying why.
	State string `json:"state"`
	// Error is why Redis is unreachable: on a cluster, which primary does not answer or
	// says cluster_state:fail, and which shard's slot has no primary or is migrating.
	Error string `json:"error,omitempty"`
	// Warning is what Redis's configuration may lose, while it serves: a maxmemory-policy
	// that evicts keys (EvictionWarning).
	Warning string `json:"warning,omitempty"`
}

// Redis tells how the engine reaches Redis and whether it serves; it counts a
// cluster's primaries. The error is why Redis is unreachable, as Ping returns it.
func (e *Engine) Redis(ctx context.Context) (RedisStatus, error) {
	st := RedisStatus{Mode: e.redisMode, Shards: len(e.q.shards), WaitReplicas: e.q.waitReplicas, State: "ok"}
	var err error
	if e.health != nil {
		st.Mode = RedisCluster
		st.Primaries, err = e.health.check(ctx)
	} else {
		err = e.Ping(ctx)
	}
	if err != nil {
		st.State = "unreachable"
		return st, err
	}
	if e.redisMode != RedisEmbedded {
		st.Warning = EvictionWarning(ctx, e.q.rdb)
	}
	if e.replicas != nil {
		n, err := e.replicas.check(ctx)
		switch {
		case errors.Is(err, ErrFewReplicas):
			st.Replicas, st.State = &n, "few_replicas"
		case errors.Is(err, ErrInfoDenied):
			st.State = "info_denied"
		case err != nil:
			st.State = "unreachable"
		default:
			st.Replicas = &n
		}
		if err != nil {
			return st, err
		}
	}
	if err := e.refused.ready(ctx); err != nil {
		st.State = "refused"
		if !errors.Is(err, ErrStartsRefused) {
			st.State = "unreachable"
		}
		return st, err
	}
	return st, nil
}
