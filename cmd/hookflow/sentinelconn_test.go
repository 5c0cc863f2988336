package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
)

// Connections held or opened on a primary cut off from the network (SIGSTOP) while
// Sentinel promotes its replica carry no command once the old primary answers again:
// it takes writes until Sentinel makes it a replica, and drops them then. go-redis
// (v9.23) closes, at the failover, every connection to the old primary, in use or not;
// this holds it to that.
func TestSentinelStaleConnectionNotReused(t *testing.T) {
	g := redistest.NewReplicated(t, "mymaster")
	old, promoted := g.Nodes[0], g.Nodes[1]
	ctx := context.Background()
	rdb, _, closeRedis, err := openRedis(ctx, g.URL, redisTLS{}, 2, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer closeRedis()

	held := make(chan error, 1)
	go func() { held <- rdb.BLPop(ctx, time.Second, "held").Err() }()
	waitFor(t, "the BLPOP to block on the primary", func() bool {
		return strings.Contains(old.Client.Info(ctx, "clients").Val(), "blocked_clients:1")
	})
	old.Pause()
	// Commands sent while the old primary answers nothing open connections to it,
	// until Sentinel names the new one; a write that succeeds went to the new one.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				tryCtx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
				_ = rdb.Ping(tryCtx).Err()
				cancel()
			}
		}()
	}
	waitFor(t, "a write through the promoted replica", func() bool {
		tryCtx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return rdb.Set(tryCtx, "probe", "x", 0).Err() == nil
	})
	close(stop)
	wg.Wait()
	if err := promoted.Client.Set(ctx, "new", "yes", 0).Err(); err != nil {
		t.Fatal(err)
	}
	old.Resume()
	_ = old.Client.LPush(ctx, "held", "x").Err() // ends the BLPOP, if it still waits there
	for i := range 200 {
		if got, err := rdb.Get(ctx, "new").Result(); got != "yes" {
			t.Fatalf("GET %d after the failover: %q, %v", i, got, err)
		}
	}
	if stats := old.Client.Info(ctx, "commandstats").Val(); strings.Contains(stats, "cmdstat_get:") {
		t.Errorf("the old primary was sent a GET after the failover:\n%s", stats)
	}
	<-held
}

// waitFor polls cond, another process's state with nothing to select on, until it
// holds, for at most 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 30s for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
