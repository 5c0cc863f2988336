package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// warnFewWaitedReplicas logs a warning at start when the Sentinel-managed primary of
// rdb has more replicas than --redis-wait-replicas asks to acknowledge a run: a
// Sentinel failover can then lose webhooks answered 2xx (docs/operations.md, Replicas
// and failover).
func warnFewWaitedReplicas(ctx context.Context, rdb redis.UniversalClient, wait int, log *slog.Logger) {
	info, err := rdb.Info(ctx, "replication").Result()
	if err != nil {
		log.Warn("cannot read the Redis primary's replicas (INFO replication) to check --redis-wait-replicas against them", "error", err)
		return
	}
	if msg := fewWaitedReplicas(info, wait); msg != "" {
		log.Warn(msg)
	}
}

// fewWaitedReplicas says what a Sentinel failover can lose when 0 < wait < the
// connected replicas that the INFO replication text info counts; "" when nothing.
func fewWaitedReplicas(info string, wait int) string {
	replicas, ok := infoField(info, "connected_slaves")
	n, err := strconv.Atoi(replicas)
	if !ok || err != nil || wait == 0 || wait >= n {
		return ""
	}
	return fmt.Sprintf("--redis-wait-replicas %d with a primary that has %d replicas: a Sentinel failover can lose webhooks answered 2xx "+
		"(the old primary takes writes until it is told it was replaced, a replica that is not promoted acknowledges them, "+
		"then drops them when it turns to the new primary); set --redis-wait-replicas %d, all of them, to keep them through a failover",
		wait, n, n)
}

// infoField returns the value of name in the text of an INFO reply.
func infoField(info, name string) (string, bool) {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v, true
		}
	}
	return "", false
}
