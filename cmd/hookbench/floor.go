package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// floor is the bare relay hookflow is measured against: a Go HTTP server that decodes
// each webhook's JSON, checks its kind as the bench workflow's filter does, LPUSHes it
// to a Redis list and answers 202; workers BRPOP the list and POST seq and sent_ns to
// the sink's /relay, as bench_relay does. No history, retries, leases or
// verification: about the least a relay through Redis can do, so hookflow's figure
// over the floor's, measured in the same run against the same Redis and sink, says
// what hookflow's guarantees cost on this machine at this moment.
type floor struct {
	rdb     *redis.Client
	list    string
	sink    string // http://host:port/relay
	srv     *http.Server
	ln      net.Listener
	client  *http.Client
	stop    context.CancelFunc
	workers sync.WaitGroup
}

// floorWorkers is how many goroutines deliver, as hookflow's default --workers.
const floorWorkers = 64

// startFloor starts the floor relay on a free loopback port, queueing in the Redis at
// redisURL (a list of its own, deleted first and at Stop), delivering to sinkAddr.
func startFloor(redisURL, sinkAddr string) (*floor, error) {
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("--floor: %w", err)
	}
	opts.PoolSize = floorWorkers + 64
	rdb := redis.NewClient(opts)
	ctx, cancel := context.WithCancel(context.Background())
	f := &floor{rdb: rdb, list: "hookbench:floor:" + strconv.FormatInt(time.Now().UnixNano(), 36),
		sink: "http://" + sinkAddr + "/relay", stop: cancel,
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: floorWorkers}}}
	if err := rdb.Ping(ctx).Err(); err != nil {
		cancel()
		rdb.Close()
		return nil, fmt.Errorf("--floor: %w", err)
	}
	if f.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		cancel()
		rdb.Close()
		return nil, fmt.Errorf("--floor: %w", err)
	}
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go f.srv.Serve(f.ln)
	for range floorWorkers {
		f.workers.Go(func() { f.deliver(ctx) })
	}
	return f, nil
}

// URL is where the floor takes webhooks.
func (f *floor) URL() string { return "http://" + f.ln.Addr().String() + "/relay" }

func (f *floor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var ev struct {
		Kind string `json:"kind"`
	}
	if err != nil || json.Unmarshal(body, &ev) != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	if ev.Kind != "bench" {
		w.WriteHeader(http.StatusOK) // filtered
		return
	}
	if err := f.rdb.LPush(r.Context(), f.list, body).Err(); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	w.Write([]byte(`{"status":"queued"}`))
}

// deliver takes webhooks off the list and POSTs each one's seq and sent_ns to the sink
// with an Idempotency-Key, until ctx ends.
func (f *floor) deliver(ctx context.Context) {
	for ctx.Err() == nil {
		res, err := f.rdb.BRPop(ctx, time.Second, f.list).Result()
		if err != nil {
			continue // redis.Nil on a quiet second, or ctx ended
		}
		var ev struct {
			Seq    int64 `json:"seq"`
			SentNS int64 `json:"sent_ns"`
		}
		if json.Unmarshal([]byte(res[1]), &ev) != nil {
			continue
		}
		out, _ := json.Marshal(map[string]int64{"seq": ev.Seq, "sent_ns": ev.SentNS})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.sink, bytes.NewReader(out))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", strconv.FormatInt(ev.Seq, 10)+":relay")
		if resp, err := f.client.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
}

// Stop stops taking webhooks and delivering, and deletes the list.
func (f *floor) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := f.srv.Shutdown(ctx)
	f.stop()
	f.workers.Wait()
	err = errors.Join(err, f.rdb.Del(ctx, f.list).Err(), f.rdb.Close())
	return err
}
