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
//
// The reliable floor (--floor-reliable) is the same relay made crash-safe the way a
// Redis list is made so, and no more: a worker takes a webhook with BLMOVE into a list
// of its own, where it stays until the sink answered 2xx (then LREM), and goes back to
// the queue when the sink did not. A worker that dies leaves the webhook it held in its
// list, in Redis rather than lost, but nothing takes a dead worker's list back (where
// hookflow's lease expiry runs such a step again): that is left to an operator. It
// keeps no record of what it relayed.
type floor struct {
	rdb     *redis.Client
	list    string
	sink    string // http://host:port/relay
	srv     *http.Server
	ln      net.Listener
	client  *http.Client
	stop    context.CancelFunc
	workers sync.WaitGroup
	// reliable: each worker takes webhooks into a list of its own (taken) until they
	// are delivered.
	reliable bool
}

// floorHook, when set, is added to each floor's Redis client: a test's, to fail the
// commands it chooses.
var floorHook redis.Hook

// floorWorkers is how many goroutines deliver, as hookflow's default --workers.
const floorWorkers = 64

// startFloor starts the floor relay on a free loopback port, queueing in the Redis at
// redisURL (a list of its own, deleted at Stop, with the workers' lists of the reliable
// floor), delivering to sinkAddr.
func startFloor(redisURL, sinkAddr string, reliable bool) (*floor, error) {
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("--floor: %w", err)
	}
	opts.PoolSize = floorWorkers + 64
	rdb := redis.NewClient(opts)
	if floorHook != nil {
		rdb.AddHook(floorHook)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &floor{rdb: rdb, list: "hookbench:floor:" + strconv.FormatInt(time.Now().UnixNano(), 36),
		sink: "http://" + sinkAddr + "/relay", stop: cancel, reliable: reliable,
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
	for i := range floorWorkers {
		if reliable {
			f.workers.Go(func() { f.deliverReliably(ctx, f.taken(i)) })
		} else {
			f.workers.Go(func() { f.deliver(ctx) })
		}
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
		f.post(ctx, res[1])
	}
}

// deliverReliably is deliver for the reliable floor: each webhook moves from the
// queue's tail to the head of the worker's list taken, and leaves it once the sink
// answered 2xx. One the sink refused (or that Redis did not delete) goes back to the
// queue's tail, the next to be taken, after a pause; a sink that refuses a webhook
// for good has it again every pause, for as long as the floor runs (a benchmark's
// sink takes all). After a failed BLMOVE, which Redis may have made, the list is
// given back too.
func (f *floor) deliverReliably(ctx context.Context, taken string) {
	for ctx.Err() == nil {
		body, err := f.rdb.BLMove(ctx, f.list, taken, "RIGHT", "LEFT", time.Second).Result()
		if errors.Is(err, redis.Nil) {
			continue // a quiet second
		}
		if err != nil {
			f.giveBack(ctx, taken) // returns at once when ctx ended
			continue
		}
		if f.post(ctx, body) && f.rdb.LRem(ctx, taken, 1, body).Err() == nil {
			continue
		}
		f.giveBack(ctx, taken)
	}
}

// floorRetryPause is how long the reliable floor's worker waits before it gives back
// a webhook the sink refused, or tries again to.
const floorRetryPause = 100 * time.Millisecond

// giveBack moves what the worker's list taken holds back to the queue's tail, until
// the list is empty or ctx ends (Stop then deletes both).
func (f *floor) giveBack(ctx context.Context, taken string) {
	for {
		waitUntil(ctx, time.Now().Add(floorRetryPause))
		if ctx.Err() != nil {
			return
		}
		for {
			err := f.rdb.LMove(ctx, taken, f.list, "LEFT", "RIGHT").Err()
			if errors.Is(err, redis.Nil) {
				return // all given back
			}
			if err != nil {
				break // pause, then again
			}
		}
	}
}

// taken is the list of the reliable floor's worker i.
func (f *floor) taken(i int) string { return f.list + ":taken:" + strconv.Itoa(i) }

// post POSTs a webhook's seq and sent_ns to the sink with an Idempotency-Key, and
// reports whether the sink answered 2xx. A body that is not the bench's JSON is
// dropped, as delivered.
func (f *floor) post(ctx context.Context, body string) bool {
	var ev struct {
		Seq    int64 `json:"seq"`
		SentNS int64 `json:"sent_ns"`
	}
	if json.Unmarshal([]byte(body), &ev) != nil {
		return true
	}
	out, _ := json.Marshal(map[string]int64{"seq": ev.Seq, "sent_ns": ev.SentNS})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.sink, bytes.NewReader(out))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", strconv.FormatInt(ev.Seq, 10)+":relay")
	resp, err := f.client.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode/100 == 2
}

// Stop stops taking webhooks and delivering, and deletes the list (and the workers'
// lists of the reliable floor, with a webhook whose delivery Stop cut short).
func (f *floor) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := f.srv.Shutdown(ctx)
	f.stop()
	f.workers.Wait()
	keys := []string{f.list}
	if f.reliable {
		for i := range floorWorkers {
			keys = append(keys, f.taken(i))
		}
	}
	err = errors.Join(err, f.rdb.Del(ctx, keys...).Err(), f.rdb.Close())
	return err
}
