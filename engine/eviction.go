package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// EvictionWarning reads maxmemory and maxmemory-policy from INFO memory on every
// primary of rdb and says what hookflow may lose when one evicts keys: a policy other
// than noeviction with a maxmemory set. "" when none does, or when Redis does not tell
// (an ACL without +info, a primary that does not answer): that is said elsewhere, or
// not known.
//
// Every policy but noeviction loses something: allkeys-* evicts any key (queued and
// running runs, the shard count hf:shards, the key that signs resume URLs, the sources
// of workflow versions that runs still use); volatile-* the keys with a time to live,
// which are no less needed (the sources of versions, dedupe keys, whose loss starts a
// delivery sent again as a second run, the ticks of schedules, poll cursors, signed-out
// sessions, and finished runs before their retention). With maxmemory 0, Redis evicts
// nothing, whatever the policy.
func EvictionWarning(ctx context.Context, rdb redis.UniversalClient) string {
	var mu sync.Mutex
	var evicting []string
	read := func(ctx context.Context, c *redis.Client, who string) error {
		info, err := c.Info(ctx, "memory").Result()
		if err != nil {
			return nil // INFO denied, or no answer: nothing to say
		}
		if policy, max := evictionOf(info); policy != "" && policy != "noeviction" && max != "" && max != "0" {
			mu.Lock()
			evicting = append(evicting, fmt.Sprintf("%smaxmemory-policy %s with maxmemory %s", who, policy, max))
			mu.Unlock()
		}
		return nil
	}
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		_ = c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			return read(ctx, n, "primary "+n.Options().Addr+": ")
		})
	case *redis.Client:
		_ = read(ctx, c, "")
	default:
		return ""
	}
	if len(evicting) == 0 {
		return ""
	}
	slices.Sort(evicting)
	what := "queued and running runs, the shard count (hf:shards), the key that signs resume URLs (hf:resume-key: a new one makes every resume URL sent out invalid) and the workflow sources runs use"
	if strings.Contains(strings.Join(evicting, " "), "volatile-") && !strings.Contains(strings.Join(evicting, " "), "allkeys-") {
		what = "the keys with a time to live: the workflow sources runs use, dedupe keys (a delivery sent again then starts a second run), the ticks of schedules, and finished runs before their retention"
	}
	return "Redis evicts keys when its memory is full (" + strings.Join(evicting, "; ") + "): it would drop " + what +
		", without a word; set maxmemory-policy noeviction, and a full Redis refuses starts instead (webhooks are answered 503)"
}

// evictionOf reads maxmemory_policy and maxmemory from an INFO memory text.
func evictionOf(info string) (policy, max string) {
	for _, line := range strings.Split(info, "\n") {
		name, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		switch {
		case !ok:
		case name == "maxmemory_policy":
			policy = v
		case name == "maxmemory":
			max = v
		}
	}
	return policy, max
}
