package main

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// openRedis connects to the Redis at url, or, with no url, starts the embedded
// in-memory one. close releases both.
func openRedis(ctx context.Context, url string, workers int, log *slog.Logger) (rdb *redis.Client, close func(), err error) {
	var opts *redis.Options
	var mini *miniredis.Miniredis
	if url == "" {
		mini = miniredis.NewMiniRedis()
		if err := mini.StartAddr("127.0.0.1:0"); err != nil {
			return nil, nil, fmt.Errorf("starting embedded Redis: %w", err)
		}
		log.Warn("no --redis given: using the embedded in-memory Redis; queued work lives in this process's memory and is lost when it stops. Use --redis redis://… for durable queues")
		opts = &redis.Options{Addr: mini.Addr()}
	} else {
		opts, err = redis.ParseURL(url)
		if err != nil {
			return nil, nil, fmt.Errorf("--redis: %w", err)
		}
	}
	// Every worker may commit at once, and each shard's fetcher holds a connection
	// while it waits.
	opts.PoolSize = 10*runtime.GOMAXPROCS(0) + workers
	rdb = redis.NewClient(opts)
	close = func() {
		_ = rdb.Close()
		if mini != nil {
			mini.Close()
		}
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pingCtx).Err(); err != nil {
		close()
		return nil, nil, fmt.Errorf("cannot reach Redis at %s: %w", opts.Addr, err)
	}
	return rdb, close, nil
}
