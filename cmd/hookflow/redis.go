package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	neturl "net/url"
	"runtime"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// redisLog sends go-redis's own messages (every failed dial while Redis is down) to
// the debug level; hookflow reports outages itself, once per few seconds.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...))
}

// openRedis connects to the Redis at url, or, with no url, starts the embedded
// in-memory one. close releases both.
func openRedis(ctx context.Context, url string, workers int, log *slog.Logger) (rdb *redis.Client, close func(), err error) {
	redis.SetLogger(redisLog{log})
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
			var bad *neturl.Error // it quotes the URL, password and all
			if errors.As(err, &bad) {
				err = bad.Err
			}
			return nil, nil, usage("--redis: %v; give redis://[user:password@]host:port/db, or rediss:// for TLS", err)
		}
	}
	// Every worker may commit at once, and each shard's fetcher holds a connection
	// while it waits.
	opts.PoolSize = 10*runtime.GOMAXPROCS(0) + workers
	// Fail fast when Redis is down: a webhook is answered 503 (its sender retries) and a
	// worker retries its commit itself, so go-redis's default of 3 command retries of 5
	// dial attempts each (nearly 2s) only delays the answer. URL options still win.
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 1
	}
	if opts.DialerRetries == 0 {
		opts.DialerRetries = 2
		opts.DialerRetryTimeout = 50 * time.Millisecond
	}
	rdb = redis.NewClient(opts)
	stopExpiry := func() {}
	if mini != nil {
		stopExpiry = expireKeys(mini)
	}
	close = func() {
		_ = rdb.Close()
		if mini != nil {
			stopExpiry()
			mini.Close()
		}
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pingCtx).Err(); err != nil {
		close()
		return nil, nil, &unreachableError{fmt.Errorf("cannot reach Redis at %s: %w", opts.Addr, err)}
	}
	return rdb, close, nil
}

// expireKeys makes the embedded Redis expire keys as time passes: miniredis counts
// time to live down only when told to. Without it, finished runs would stay in memory
// past their retention. Telling it takes its lock while it visits every key, so it is
// told once a minute: expiries are days away. It returns a function that stops it.
func expireKeys(m *miniredis.Miniredis) (stop func()) {
	return expireKeysEvery(m, time.Minute)
}

func expireKeysEvery(m *miniredis.Miniredis, expireEvery time.Duration) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(expireEvery)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				m.FastForward(now.Sub(last))
				last = now
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done) }) }
}
