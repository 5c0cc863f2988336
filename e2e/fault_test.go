package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// These tests run hookflow as the separate process it is in production, and kill it
// (or its Redis) with SIGKILL while runs are in flight.

// fire posts n webhooks from 32 senders and returns the ids of the runs answered 202.
// Every other answer must be 503 with Retry-After, or a refused connection.
func fire(t *testing.T, url string, n int, next func() int) []string {
	t.Helper()
	var mu sync.Mutex
	var ids []string
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next()
				if i >= n {
					return
				}
				resp, err := client.Post(url, "application/json", strings.NewReader(fmt.Sprintf(`{"n": %d}`, i)))
				if err != nil {
					continue // the process is gone: nothing was promised
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusAccepted:
					var answer struct {
						RunID string `json:"run_id"`
					}
					if err := json.Unmarshal(body, &answer); err != nil || answer.RunID == "" {
						t.Errorf("202 without a run id: %s", body)
					}
					mu.Lock()
					ids = append(ids, answer.RunID)
					mu.Unlock()
				case http.StatusServiceUnavailable:
					if resp.Header.Get("Retry-After") == "" {
						t.Errorf("503 without Retry-After: %s", body)
					}
				default:
					t.Errorf("webhook answered %d: %s", resp.StatusCode, body)
				}
			}
		}()
	}
	wg.Wait()
	return ids
}

// fireUntilStopped posts webhooks from fire's 32 senders, each pausing between posts,
// until the stop it returns is called; stop returns the ids of the runs answered 202.
func fireUntilStopped(t *testing.T, url string, pause time.Duration) (stop func() []string) {
	done := make(chan struct{})
	result := make(chan []string, 1)
	go func() {
		n := counter()
		result <- fire(t, url, 1<<30, func() int {
			select {
			case <-done:
				return 1 << 30
			default:
				time.Sleep(pause)
				return n()
			}
		})
	}()
	return func() []string {
		close(done)
		return <-result
	}
}

func counter() func() int {
	var n atomic.Int64
	return func() int { return int(n.Add(1) - 1) }
}

// checkDelivered checks the downstream saw both steps of every run, and that repeats
// are few: at most maxRepeats, one per step in flight when a process died. Unless
// unanswered is set, the downstream saw no run that was not answered 202.
func checkDelivered(t *testing.T, s *testutil.Sink, ids []string, maxRepeats int, unanswered bool) {
	t.Helper()
	calls := s.Keys()
	repeats := 0
	for _, id := range ids {
		for _, step := range []string{"a", "b"} {
			n := calls[id+":"+step]
			if n == 0 {
				t.Fatalf("step %s of run %s never reached the API", step, id)
			}
			repeats += n - 1
		}
	}
	if extra := len(calls) - 2*len(ids); extra != 0 && !unanswered {
		t.Errorf("the API saw %d keys for %d runs of 2 steps", len(calls), len(ids))
	} else if extra != 0 {
		t.Logf("%d steps of runs whose webhook was not answered 202 (Redis went down between queueing the run and the answer): the sender retries those, so they may run twice, never zero times", extra)
	}
	if repeats > maxRepeats {
		t.Errorf("%d steps repeated, more than the %d that can be in flight", repeats, maxRepeats)
	}
	t.Logf("%d runs delivered; %d steps repeated after the kill, each with its Idempotency-Key", len(ids), repeats)
}

// checkQuiet checks that nothing is left leased or queued.
func checkQuiet(t *testing.T, rdb redis.UniversalClient) {
	t.Helper()
	ctx := context.Background()
	for _, key := range []string{"{hf:0}:leases", "{hf:0}:ready:relay", "{hf:0}:due", "{hf:0}:dead"} {
		if n := rdb.ZCard(ctx, key).Val(); n != 0 {
			t.Errorf("%s holds %d entries after every run finished", key, n)
		}
	}
}

func TestKillDuringRunsLosesNothing(t *testing.T) {
	b := redistest.Real(t)
	// 64 workers on steps of 20ms finish about 3,200 steps a second: slower than
	// webhooks arrive, so most runs are queued or in flight at the kill.
	api := testutil.NewSink(t, 20*time.Millisecond)
	dir := testutil.WriteRelay(t)
	p := startProc(t, dir, b.URL, api.URL)
	const runs = 2000
	ids := fire(t, "http://"+p.public+"/hooks/relay", runs, counter())
	if len(ids) != runs {
		t.Fatalf("%d of %d webhooks accepted", len(ids), runs)
	}
	p.kill()
	if done := api.Total(); done >= 2*runs {
		t.Fatalf("every step ran before the kill (%d); nothing was in flight", done)
	}
	leased := b.Client.ZCard(context.Background(), "{hf:0}:leases").Val()
	t.Logf("killed with %d of %d steps done, %d leased", api.Total(), 2*runs, leased)

	startProc(t, dir, b.URL, api.URL)
	testutil.WaitRuns(t, b.Client, ids, 60*time.Second)
	checkDelivered(t, api, ids, int(leased), false)
	checkQuiet(t, b.Client)
}

func TestSecondEngineFinishesAKilledEnginesRuns(t *testing.T) {
	b := redistest.Real(t)
	api := testutil.NewSink(t, 5*time.Millisecond)
	dir := testutil.WriteRelay(t)
	doomed := startProc(t, dir, b.URL, api.URL)
	survivor := startProc(t, dir, b.URL, api.URL)
	const runs = 600
	next := counter()
	var ids []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range []*proc{doomed, survivor} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := fire(t, "http://"+p.public+"/hooks/relay", runs, next)
			mu.Lock()
			ids = append(ids, got...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(ids) != runs {
		t.Fatalf("%d of %d webhooks accepted", len(ids), runs)
	}
	testutil.Eventually(t, 30*time.Second, "100 calls to the API", func() bool { return api.Total() >= 100 })
	doomed.kill()
	testutil.WaitRuns(t, b.Client, ids, 60*time.Second)
	checkDelivered(t, api, ids, 64, false)
	checkQuiet(t, b.Client)
}

// Redis is killed and restarted under load. While it is down, webhooks are answered
// 503 with Retry-After, never 2xx; every webhook answered 202 ends in a finished run.
func TestRedisRestartLosesNoAcceptedEvent(t *testing.T) {
	b := redistest.Durable(t)
	api := testutil.NewSink(t, time.Millisecond)
	dir := testutil.WriteRelay(t)
	p := startProc(t, dir, b.URL, api.URL)

	stopFiring := fireUntilStopped(t, "http://"+p.public+"/hooks/relay", 2*time.Millisecond)
	time.Sleep(time.Second)
	b.Stop()
	down := time.Now()
	// While Redis is down, a webhook is refused, not accepted.
	for time.Since(down) < time.Second {
		resp, err := http.Post("http://"+p.public+"/hooks/relay", "application/json", strings.NewReader(`{"n": -1}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("with Redis down a webhook got %d (Retry-After %q)", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Restart()
	time.Sleep(time.Second)
	ids := stopFiring()
	if len(ids) < 100 {
		t.Fatalf("only %d webhooks accepted", len(ids))
	}
	testutil.WaitRuns(t, b.Client, ids, 60*time.Second)
	checkDelivered(t, api, ids, 2*64, true)
	checkQuiet(t, b.Client)
}
