package e2e

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// With --redis-wait-replicas, a webhook is answered 202 only after Redis WAIT says
// enough replicas have its run: WAIT is sent to the primary for every accepted
// webhook; with the replica stopped (SIGSTOP), WAIT times out and the webhook is
// answered 503 with Retry-After; asking for 2 replicas of a primary that has 1, fewer
// acknowledge, and every webhook is answered 503. Once the replica runs again,
// webhooks are answered 202 again.
func TestWaitReplicasGatesTheAnswer(t *testing.T) {
	primary, replica := redistest.WithReplica(t)
	api := testutil.NewSink(t, time.Millisecond)
	dir := testutil.WriteRelay(t)
	ctx := context.Background()
	waits := func() int64 { return commandCalls(t, primary.Client, "wait") }

	p := startProc(t, dir, primary.URL+"/0", api.URL, "--redis-wait-replicas", "1")
	url := "http://" + p.public + "/hooks/relay"
	before := waits()
	for range 5 {
		if code := post(t, url); code != http.StatusAccepted {
			t.Fatalf("with its replica up, a webhook was answered %d", code)
		}
	}
	if n := waits() - before; n < 5 {
		t.Errorf("5 webhooks answered 202 with %d WAIT calls on the primary", n)
	}

	// Runs, not keys: the earlier runs' jobs go as they finish, meanwhile.
	runs := func() int { return len(primary.Client.Keys(ctx, "{hf:*}:run:*").Val()) }
	replica.Pause()
	stored := runs()
	if code := post(t, url); code != http.StatusServiceUnavailable {
		t.Errorf("with the replica stopped, a webhook was answered %d, want 503", code)
	}
	if runs() == stored {
		t.Error("the refused webhook's run is not on the primary: the 503 came before the write, not from WAIT")
	}
	p.waitLog(t, "too few replicas acknowledged the write: 0 of 1 within 1s")
	replica.Resume()
	testutil.Eventually(t, 10*time.Second, "a webhook answered 202 with the replica back", func() bool {
		return post(t, url) == http.StatusAccepted
	})

	// Waiting for 2 replicas of a primary with 1, it is never ready, and says why.
	two := startProcUntil(t, "/healthz", dir, primary.URL+"/0", api.URL, "--redis-wait-replicas", "2")
	if code := post(t, "http://"+two.public+"/hooks/relay"); code != http.StatusServiceUnavailable {
		t.Errorf("waiting for 2 replicas of a primary with 1, a webhook was answered %d, want 503", code)
	}
	two.waitLog(t, "too few replicas acknowledged the write: 1 of 2 within 1s")
	resp, err := http.Get("http://" + two.admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "has 1 of them online") {
		t.Errorf("/readyz waiting for 2 replicas of a primary with 1: %d %s", resp.StatusCode, body)
	}
}

// The primary of a Sentinel group fails over (SENTINEL FAILOVER) while webhooks arrive
// through hookflow serve --redis redis+sentinel://…. hookflow follows the Sentinel to
// the new primary, and logs that it did: webhooks are answered 202 or, while the switch
// is under way, 503 (fire fails on any other answer), and after it they are accepted
// again. With
// --redis-wait-replicas 1, every webhook answered 202, before, during or after, ends
// in a delivered run on the new primary. Without it, the old primary takes writes
// until the Sentinel makes it a replica, and they are dropped then: the loss is
// counted and logged (docs/operations.md reports the count), not asserted.
func TestSentinelFailover(t *testing.T) {
	g := redistest.NewReplicated(t, "hookflow")
	dir := testutil.WriteRelay(t)
	t.Run("wait-replicas 1", func(t *testing.T) {
		sentinelFailoverUnderLoad(t, g, dir, "--redis-wait-replicas", "1").checkNoneMissing(t)
	})
	if t.Failed() {
		return
	}
	ctx := context.Background()
	primary, err := g.Primary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Node(primary).Client.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	t.Run("wait-replicas 0", func(t *testing.T) {
		sentinelFailoverUnderLoad(t, g, dir).logLoss(t, "the old primary")
	})
}

// sentinelFailoverUnderLoad starts hookflow serve on g with the extra flags and fails
// the primary over under load. It checks that webhooks are accepted after that, and
// that every run on the new primary is delivered.
func sentinelFailoverUnderLoad(t *testing.T, g *redistest.Replicated, dir string, extra ...string) failedOver {
	t.Helper()
	api := testutil.NewSink(t, time.Millisecond)
	p := startProc(t, dir, g.URL, api.URL, extra...)
	if out := statusOf(t, p); !strings.Contains(out, "redis: sentinel, 1 shard") {
		t.Errorf("hookflow status does not name the Sentinel mode:\n%s", out)
	}
	url := "http://" + p.public + "/hooks/relay"

	stopFiring := fireUntilStopped(t, url, 5*time.Millisecond)
	testutil.Eventually(t, 30*time.Second, "runs delivered before the failover", func() bool { return api.Total() >= 400 })
	from, to, err := g.Failover(context.Background())
	ids := stopFiring()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the Sentinel moved the primary from %s to %s; %d webhooks answered 503 meanwhile", from, to,
		int(p.metric(t, `hookflow_events_rejected_total{reason="unavailable"}`)))
	after := fire(t, url, 200, counter())
	p.waitLog(t, "Redis primary is now "+to+" (Sentinel failover)")
	if len(after) != 200 {
		t.Errorf("after the failover, %d of 200 webhooks accepted", len(after))
	}
	// Step results are not waited for: the ones the old primary took after the
	// promotion are dropped with it, and their steps run again (same Idempotency-Key),
	// as many as finished in that second, not only the ones in flight.
	return checkAfterFailover(t, g.Node(to).Client, "{hf:0}:", api, ids, after, len(ids)+len(after))
}

// failedOver is what a test of a failover under load saw.
type failedOver struct {
	accepted []string // runs whose webhooks were answered 202 up to the failover
	missing  []string // the ones of them not in Redis after it
	api      *testutil.Sink
}

// checkAfterFailover splits the runs accepted up to a failover into the ones in the
// Redis of rdb after it and the missing ones, and checks that every run there, and
// every one accepted after, is delivered, with at most maxRepeats steps run twice.
func checkAfterFailover(t *testing.T, rdb redis.UniversalClient, prefix string, api *testutil.Sink, ids, after []string, maxRepeats int) failedOver {
	t.Helper()
	f := failedOver{accepted: ids, api: api}
	var stored []string
	for _, id := range ids {
		if rdb.Exists(context.Background(), prefix+"run:"+id).Val() == 1 {
			stored = append(stored, id)
		} else {
			f.missing = append(f.missing, id)
		}
	}
	all := append(stored, after...)
	testutil.WaitRunsIn(t, rdb, prefix, all, 60*time.Second)
	// A run delivered before the failover is delivered, in Redis or not.
	calls, delivered := api.Keys(), all
	for _, id := range f.missing {
		if calls[id+":a"] > 0 && calls[id+":b"] > 0 {
			delivered = append(delivered, id)
		}
	}
	checkDelivered(t, api, delivered, maxRepeats, true)
	t.Logf("%d webhooks accepted up to the failover, %d after", len(ids), len(after))
	return f
}

// checkNoneMissing fails the test if a webhook answered 202 has no run after the
// failover.
func (f failedOver) checkNoneMissing(t *testing.T) {
	t.Helper()
	if len(f.missing) > 0 {
		t.Fatalf("%d of %d webhooks answered 202 are not in Redis after the failover, e.g. run %s", len(f.missing), len(f.accepted), f.missing[0])
	}
}

// logLoss logs how many webhooks answered 202 were lost with the node named by what:
// their runs are not in Redis and were not delivered before the failover.
func (f failedOver) logLoss(t *testing.T, what string) {
	t.Helper()
	calls, lost := f.api.Keys(), 0
	for _, id := range f.missing {
		if calls[id+":b"] == 0 {
			lost++
		}
	}
	t.Logf("without --redis-wait-replicas: %d of %d webhooks answered 202 lost with %s (%d runs not in Redis after the failover, %d of those delivered before it)",
		lost, len(f.accepted), what, len(f.missing), len(f.missing)-lost)
}

// post posts one webhook and returns its status; a 503 must carry Retry-After.
func post(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(`{"n": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	return resp.StatusCode
}

// commandCalls returns how many times the Redis of rdb ran command (INFO
// commandstats).
func commandCalls(t *testing.T, rdb redis.UniversalClient, command string) int64 {
	t.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	var calls int64
	for _, line := range strings.Split(info, "\r\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_"+command+":calls="); ok {
			n, _, _ := strings.Cut(rest, ",")
			calls = mustInt(t, n)
		}
	}
	return calls
}

// statusOf runs hookflow status against p's admin API and returns what it prints.
func statusOf(t *testing.T, p *proc) string {
	t.Helper()
	out, err := exec.Command(hookflowBinary(t), "status", "--admin", p.admin).CombinedOutput()
	if err != nil {
		t.Fatalf("hookflow status: %v\n%s", err, out)
	}
	return string(out)
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return n
}
