package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/redistest"
)

func TestFewWaitedReplicas(t *testing.T) {
	info := func(n string) string {
		return "# Replication\r\nrole:master\r\nconnected_slaves:" + n + "\r\nslave0:ip=127.0.0.1,port=1,state=online\r\n"
	}
	for _, c := range []struct {
		name, info string
		wait       int
		want       string
	}{
		{"no wait", info("2"), 0, ""},
		{"one of two", info("2"), 1, "--redis-wait-replicas 1 with a primary that has 2 replicas"},
		{"two of three", info("3"), 2, "set --redis-wait-replicas 3"},
		{"all", info("2"), 2, ""},
		{"more than there are", info("1"), 2, ""},
		{"no replicas", info("0"), 1, ""},
		{"no count", "# Replication\r\nrole:master\r\n", 1, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := fewWaitedReplicas(c.info, c.wait)
			if c.want == "" && got != "" || !strings.Contains(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// serve warns at start when a Sentinel failover could lose accepted webhooks: the
// primary has two replicas and --redis-wait-replicas waits for one.
func TestWarnFewWaitedReplicasOnSentinel(t *testing.T) {
	primary, replica := redistest.WithReplica(t)
	other := redistest.Replica(t, primary)
	addr := func(b *redistest.Backend) string { return strings.TrimPrefix(b.URL, "redis://") }
	sentinel := redistest.Sentinel(t, "mymaster", addr(primary), addr(replica), addr(other))
	ctx := context.Background()
	rdb, _, closeRedis, err := openRedis(ctx, "redis+sentinel://"+sentinel+"/mymaster/0", 4, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer closeRedis()
	for _, c := range []struct {
		wait int
		warn bool
	}{{0, false}, {1, true}, {2, false}} {
		var logs strings.Builder
		warnFewWaitedReplicas(ctx, rdb, c.wait, slog.New(slog.NewTextHandler(&logs, nil)))
		warned := strings.Contains(logs.String(), "level=WARN") &&
			strings.Contains(logs.String(), "has 2 replicas") && strings.Contains(logs.String(), "set --redis-wait-replicas 2")
		if warned != c.warn {
			t.Errorf("--redis-wait-replicas %d: warned %v, want %v:\n%s", c.wait, warned, c.warn, logs.String())
		}
	}
}
