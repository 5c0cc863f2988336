package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/redistest"
)

// Only the replicas online count: one still loading the primary's dataset
// acknowledges no WAIT.
func TestOnlineReplicas(t *testing.T) {
	for _, c := range []struct {
		name, info string
		want       int
	}{
		{"none", "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_repl_offset:0\r\n", 0},
		{"one online, one syncing", "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n" +
			"slave0:ip=10.0.0.2,port=6379,state=online,offset=42,lag=0\r\n" +
			"slave1:ip=10.0.0.3,port=6379,state=wait_bgsave,offset=0,lag=0\r\nmaster_repl_offset:42\r\n", 1},
		{"a replica's own fields", "role:slave\r\nslave_repl_offset:42\r\nslave_read_repl_offset:42\r\nslave_priority:100\r\n", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := onlineReplicas(c.info); got != c.want {
				t.Errorf("got %d, want %d", got, c.want)
			}
		})
	}
}

// On a Redis Cluster, each primary that holds a shard is counted: the shared cluster's
// primaries have one replica each, so waiting for one is ready and for two is not,
// naming every primary.
func TestReadyCountsEachPrimarysReplicas(t *testing.T) {
	b := redistest.SharedCluster(t)
	ctx := context.Background()
	one := New(b.Client, Options{Shards: b.Shards, Logger: quiet, RedisMode: RedisCluster, WaitReplicas: 1})
	if err := one.Ready(ctx); err != nil {
		t.Errorf("waiting for 1 replica: %v", err)
	}
	if st, err := one.Redis(ctx); err != nil || st.State != "ok" || st.Replicas == nil || *st.Replicas != 1 {
		t.Errorf("status waiting for 1 replica: %+v, %v", st, err)
	}
	two := New(b.Client, Options{Shards: b.Shards, Logger: quiet, RedisMode: RedisCluster, WaitReplicas: 2})
	err := two.Ready(ctx)
	if !errors.Is(err, ErrFewReplicas) || strings.Count(err.Error(), "has 1 of them") != 3 {
		t.Errorf("waiting for 2 replicas: %v", err)
	}
	if st, err := two.Redis(ctx); !errors.Is(err, ErrFewReplicas) || st.State != "few_replicas" || *st.Replicas != 1 {
		t.Errorf("status waiting for 2 replicas: %+v, %v", st, err)
	}
	if err := two.Ping(ctx); err != nil {
		t.Errorf("Ping says Redis is unreachable: %v", err)
	}
}

// A Redis user whose ACL refuses INFO fails readiness when starts wait for replicas:
// the count is not known. Redis answers, so the status says INFO was denied, not that
// Redis is unreachable.
func TestReadyWithINFODenied(t *testing.T) {
	b := redistest.Real(t)
	ctx := context.Background()
	if err := b.Client.Do(ctx, "ACL", "SETUSER", "hookflow", "on", ">secret", "~*", "&*", "+@all", "-info").Err(); err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: strings.TrimPrefix(b.URL, "redis://"), Username: "hookflow", Password: "secret"})
	defer rdb.Close()
	e := New(rdb, Options{Logger: quiet, RedisMode: RedisStandalone, WaitReplicas: 1})
	if err := e.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	err := e.Ready(ctx)
	if !errors.Is(err, ErrInfoDenied) || !strings.Contains(err.Error(), "INFO denied: the primary refused INFO replication") ||
		!strings.Contains(err.Error(), "+info") {
		t.Errorf("Ready: %v", err)
	}
	if st, err := e.Redis(ctx); !errors.Is(err, ErrInfoDenied) || st.State != "info_denied" {
		t.Errorf("status: %+v, %v", st, err)
	}
}
