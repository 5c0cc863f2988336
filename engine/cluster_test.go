package engine

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

// scriptCalls records the scripts a client runs, by SHA1, with the errors Redis gave.
type scriptCalls struct {
	mu     sync.Mutex
	ran    map[string]int
	errors []string
}

func (s *scriptCalls) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (s *scriptCalls) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		s.saw(cmd)
		return err
	}
}

func (s *scriptCalls) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, c := range cmds {
			s.saw(c)
		}
		return err
	}
}

// forget drops the calls seen so far.
func (s *scriptCalls) forget() {
	s.mu.Lock()
	s.ran = map[string]int{}
	s.mu.Unlock()
}

func (s *scriptCalls) saw(cmd redis.Cmder) {
	args := cmd.Args()
	if len(args) < 2 {
		return
	}
	name, _ := args[0].(string)
	body, _ := args[1].(string)
	switch strings.ToLower(name) {
	case "eval":
		sum := sha1.Sum([]byte(body))
		body = hex.EncodeToString(sum[:])
	case "evalsha":
	default:
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ran[body]++
	if err := cmd.Err(); err != nil && !redis.HasErrorPrefix(err, "NOSCRIPT") && !strings.HasPrefix(err.Error(), "HF") {
		s.errors = append(s.errors, name+": "+err.Error())
	}
}

// TestEveryScriptTouchesOneSlot runs every script of the queue on a Redis Cluster, the
// queue split in three shards that three different primaries hold. A call whose KEYS
// are not all in one slot is refused (CROSSSLOT), and so is a key a script names itself
// (a job or run it found in an index) when another primary serves its slot: here, a
// key of any other shard. (Redis 7.0 lets a script reach an undeclared key of another
// slot of its own node, which is why the shards are on different primaries;
// TestKeysShareTheirShardsSlot checks that every key carries its shard's tag.)
func TestEveryScriptTouchesOneSlot(t *testing.T) {
	b := redistest.SharedCluster(t)
	calls := &scriptCalls{ran: map[string]int{}}
	b.Client.AddHook(calls)
	ctx := context.Background()
	api := newTarget(t, 0)
	api.failPath("/crm", 500)
	api.failPath("/charge", 500) // tried three times, then the run fails
	// "outer" calls "chain" as a child run: they are in different shards, so the child's
	// end wakes its parent with a script of the parent's shard (wake).
	src := strings.ReplaceAll(parallelSrc, "URL", api.srv.URL) + retryWorkflow(api.srv.URL) + chainSrc + failSrc + `
workflow "outer" {
  step "workflow" "child" {
    workflow = "chain"
    input    = { name = "Ada" }
  }
}

workflow "waits" {
  step "wait" "approval" {
    timeout = "1h"
  }
}
`
	set, kinds := httpSetWithProbe(t, src)
	e := New(b.Client, Options{Shards: 3, Logger: quiet, Lease: time.Second, Retention: time.Hour, Kinds: kinds})
	e.Use(set)
	// limit.lua: Use puts the limits in force in the background; wait for it.
	testutil.Eventually(t, 10*time.Second, "the limits put in force", func() bool {
		e.limitsMu.Lock()
		defer e.limitsMu.Unlock()
		return !e.limits.running
	})
	primaries := map[string]int{}
	for _, sh := range e.q.shards {
		node, err := b.Client.(*redis.ClusterClient).MasterForKey(ctx, sh.due())
		if err != nil {
			t.Fatal(err)
		}
		primaries[node.Options().Addr]++
	}
	if len(primaries) != 3 {
		t.Fatalf("the 3 shards are on %d primaries: %v", len(primaries), primaries)
	}
	used := map[int]bool{}
	for _, wf := range set.Workflows() {
		used[e.q.shardFor(wf.Name).index] = true
	}
	if len(used) < 2 {
		t.Fatalf("the workflows are all in one shard")
	}

	// Queued, leased, its lease extended, handed back: start, lease, heartbeat, release.
	chain := set.Workflow("chain")
	if err := e.q.start(ctx, "held", chain, []byte(`{"body":{"name":"x"}}`), ""); err != nil {
		t.Fatal(err)
	}
	sh := e.q.shardFor("chain")
	jobs, _, err := e.q.lease(ctx, sh, 1)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("leased %d jobs: %v", len(jobs), err)
	}
	if held, err := e.q.heartbeat(ctx, jobs); err != nil || held[0] != beatHeld {
		t.Fatalf("heartbeat: %v %v", held, err)
	}
	if err := e.q.release(ctx, jobs[0], "chain"); err != nil {
		t.Fatal(err)
	}
	// Leased again, a page kept (page), and held back by an api's limits (defer).
	if jobs, _, err = e.q.lease(ctx, sh, 1); err != nil || len(jobs) != 1 {
		t.Fatalf("leased %d jobs again: %v", len(jobs), err)
	}
	kept := &pageStore{q: e.q, j: jobs[0]}
	if err := kept.Keep(ctx, workflows.KeptPage{Page: 1, URL: "http://x/", Next: "http://x/?p=2", Request: &workflows.Request{Page: 1}},
		map[string]any{"status": 200}); err != nil {
		t.Fatal(err)
	}
	if err := e.q.deferJob(ctx, jobs[0], "chain", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := e.LastTick(ctx, chain, "*/5 * * * *"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ClaimTick(ctx, chain, "poll every 1m0s", time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := e.KeepSeen(ctx, chain, []string{"a", "b"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := e.LockPoll(ctx, chain, "poll abc", "holder", time.Minute, false); err != nil {
		t.Fatal(err)
	}
	// A queued run cancelled (cancel).
	if err := e.q.start(ctx, "doomed", chain, []byte(`{"body":{"name":"x"}}`), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Cancel(ctx, "doomed"); err != nil {
		t.Fatal(err)
	}
	if e.q.shardFor("outer") == e.q.shardFor("chain") {
		t.Fatal("outer and chain share a shard: the wake-up would not cross shards")
	}

	// Runs of every shape: straight (advance, finish), retried (retry), a parallel
	// block with for_each (complete), failed (complete, dead letter), then replayed.
	startPool(t, e, 8)
	var ids []string
	for _, s := range []struct{ wf, body string }{
		{"chain", `{"name":"Ada"}`}, {"outer", `{}`}, {"pay", `{"id":1}`}, {"order", `{"lines":[1,2,3]}`}, {"fails", `{}`}, {"continues", `{}`},
	} {
		id, err := e.Start(ctx, set.Workflow(s.wf), event(s.body))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	// A run parked at its wait step (park), resumed (resume).
	waiting, err := e.Start(ctx, set.Workflow("waits"), event(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, e, waiting, RunWaiting)
	if _, err := e.Resume(ctx, waiting, "approval", &workflows.Resume{}); err != nil {
		t.Fatal(err)
	}
	ids = append(ids, waiting)
	failed := map[string]bool{}
	for _, id := range ids {
		if r := waitRun(t, e, id); r.Status == RunFailed {
			failed[r.Workflow] = true
		}
	}
	if !failed["order"] || !failed["fails"] || !failed["pay"] || failed["outer"] || failed["chain"] {
		t.Fatalf("failed runs %v, want order, fails and pay (and outer, whose child wakes it across shards, not)", failed)
	}
	api.failPath("/crm", 0)
	if _, err := e.Replay(ctx, ids[3], ReplayOptions{}); err != nil {
		t.Fatal(err)
	}
	if r := waitRun(t, e, ids[3]); r.Status != RunSucceeded {
		t.Errorf("replayed run %s: %s", r.Status, r.Error)
	}
	if _, err := e.q.stats(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.q.trim(ctx); err != nil {
		t.Fatal(err)
	}
	// The finished runs past a cap of one per shard dropped (keep).
	e.q.keep, e.q.keepGrace, e.q.childGrace, e.q.tombGrace = 1, 0, 0, 0
	for _, sh := range e.q.shards {
		if _, err := e.q.dropRuns(ctx, sh, 0); err != nil {
			t.Fatal(err)
		}
	}

	calls.mu.Lock()
	defer calls.mu.Unlock()
	for _, err := range calls.errors {
		t.Error(err)
	}
	files, _ := scriptFiles.ReadDir("scripts")
	for _, f := range files {
		if _, ok := allScripts[f.Name()]; !ok && f.Name() != "lib.lua" {
			t.Errorf("scripts/%s is not in allScripts: this test does not check it", f.Name())
		}
	}
	for name, s := range allScripts {
		if calls.ran[s.Hash()] == 0 {
			t.Errorf("%s never ran", name)
		}
	}
}

// allScripts are every script of scripts.go, by file.
var allScripts = map[string]*redis.Script{
	"start.lua": startScript, "lease.lua": leaseScript, "complete.lua": completeScript, "advance.lua": advanceScript,
	"finish.lua": finishScript, "heartbeat.lua": heartbeatScript, "release.lua": releaseScript, "retry.lua": retryScript,
	"replay.lua": replayScript, "stats.lua": statsScript, "trim.lua": trimScript, "lasttick.lua": lastTickScript,
	"claimtick.lua": claimTickScript,
	"cancel.lua":    cancelScript, "wake.lua": wakeScript, "defer.lua": deferScript,
	"park.lua": parkScript, "resume.lua": resumeScript, "page.lua": pageScript, "keep.lua": keepScript,
	"seenkeys.lua": seenKeysScript, "limit.lua": limitScript, "polllock.lua": pollLockScript,
}

// httpSetWithProbe loads src with the probe step kind and the real ones (http,
// workflow...), and returns the kinds too.
func httpSetWithProbe(t *testing.T, src string) (*workflows.Set, *workflows.Kinds) {
	t.Helper()
	k := probeKinds(&recorder{})
	client := actions.NewClient(actions.NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}))
	actions.Register(k, actions.Options{Client: client, Logger: quiet})
	set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(src)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return set, k
}
