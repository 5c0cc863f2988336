package engine

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// These tests drive the scripts directly: the promises every state change keeps.

func TestStartIsIdempotent(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet})
		wf := loadSet(t, &recorder{}, chainSrc).Workflow("chain")
		for range 2 {
			if err := e.q.start(ctx, "run1", wf, []byte(`{"id":"e"}`), ""); err != nil {
				t.Fatal(err)
			}
		}
		sh := e.q.shardFor("chain")
		if n := b.Client.ZCard(ctx, sh.ready("chain")).Val(); n != 1 {
			t.Errorf("%d queued jobs, want 1", n)
		}
		jobs, _, err := e.q.lease(ctx, sh, 10)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("leased %d jobs, err %v", len(jobs), err)
		}
		j := jobs[0]
		if j.id != "run1:first" || j.unit != (unit{step: "first"}) || j.attempt != 1 || j.token == "" || j.run["status"] != "running" || j.run["event"] != `{"id":"e"}` {
			t.Errorf("job %+v", j)
		}
		// Nothing is due; the next thing that can happen is the lease's expiry.
		if jobs, wait, _ := e.q.lease(ctx, sh, 10); len(jobs) != 0 || wait <= 25*time.Second || wait > 30*time.Second {
			t.Errorf("a leased job was leased again (%d), or wait %v is not the lease's expiry", len(jobs), wait)
		}
	})
}

func TestCommitWithAStaleTokenIsRefused(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet})
		wf := loadSet(t, &recorder{}, chainSrc).Workflow("chain")
		if err := e.q.start(ctx, "run1", wf, []byte(`{}`), ""); err != nil {
			t.Fatal(err)
		}
		sh := e.q.shardFor("chain")
		jobs, _, _ := e.q.lease(ctx, sh, 1)
		j := jobs[0]
		stale := *j
		stale.token = "999999"
		c := commit{job: &stale, runID: "run1", wf: wf, record: &Record{Status: StatusSucceeded},
			plan: &Plan{Status: RunRunning, Start: []unit{{step: "second"}}}}
		if _, err := e.q.complete(ctx, c); !errors.Is(err, errStaleLease) {
			t.Fatalf("stale commit: %v", err)
		}
		if b.Client.HExists(ctx, sh.run("run1"), "s:first").Val() {
			t.Error("a stale commit wrote a result")
		}

		// The holder commits and chains the next step to itself, with its token (the
		// job it committed is gone, so the token fences the next one alone).
		c.job, c.chain = j, true
		next, err := e.q.complete(ctx, c)
		if err != nil || next == nil || next.token != j.token || next.unit != (unit{step: "second"}) {
			t.Fatalf("commit: chained %+v, %v", next, err)
		}
		if _, err := e.q.complete(ctx, c); !errors.Is(err, errStaleLease) {
			t.Errorf("committing the same job twice: %v", err)
		}
		if n := b.Client.ZScore(ctx, sh.leases(), "run1:second").Val(); n == 0 {
			t.Error("the chained job should be leased")
		}

		// The last step ends the run (finish.lua) and clears its jobs and leases; a
		// stale holder of it is refused there too.
		staleLast := *next
		staleLast.token = "999999"
		c = commit{job: &staleLast, runID: "run1", wf: wf, record: &Record{Status: StatusSucceeded}, plan: &Plan{Status: RunSucceeded}}
		if !last(c) {
			t.Fatal("the run's last commit is not the straight line's end")
		}
		if _, err := e.q.complete(ctx, c); !errors.Is(err, errStaleLease) {
			t.Fatalf("stale last commit: %v", err)
		}
		if st := b.Client.HGet(ctx, sh.run("run1"), "status").Val(); st != "running" {
			t.Errorf("a stale last commit left the run %q", st)
		}
		c.job = next
		if _, err := e.q.complete(ctx, c); err != nil {
			t.Fatal(err)
		}
		run := b.Client.HGetAll(ctx, sh.run("run1")).Val()
		if run["status"] != "succeeded" || run["finished"] == "" {
			t.Errorf("run %v", run)
		}
		if n := b.Client.ZCard(ctx, sh.leases()).Val(); n != 0 {
			t.Errorf("%d leases left", n)
		}
		if n := b.Client.Exists(ctx, sh.job("run1:first"), sh.job("run1:second")).Val(); n != 0 {
			t.Errorf("%d job hashes left", n)
		}
		if ttl := b.Client.PTTL(ctx, sh.run("run1")).Val(); ttl <= 0 || ttl > 7*24*time.Hour {
			t.Errorf("finished run TTL %v, want the retention", ttl)
		}
	})
}

func TestWorkflowWithoutStepsSucceedsAtOnce(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet})
		set := loadSet(t, &recorder{}, `workflow "empty" {}`)
		id, err := e.Start(context.Background(), set.Workflow("empty"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		r, err := e.Run(context.Background(), id)
		if err != nil || r.Status != "succeeded" || len(r.Steps) != 0 {
			t.Errorf("run %+v, %v", r, err)
		}
	})
}

func TestStartFailedKeepsTheEvent(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		e, set, rec := running(t, b, chainSrc, 1)
		id, err := e.StartFailed(context.Background(), set.Workflow("chain"), event(`{"name": 5}`), "filter: boom")
		if err != nil {
			t.Fatal(err)
		}
		r, err := e.Run(context.Background(), id)
		if err != nil || r.Status != "failed" || r.Error != "filter: boom" || r.FinishedAt == nil {
			t.Fatalf("run %+v %v", r, err)
		}
		if r.Event == nil || r.Event.Body.(map[string]any)["name"] != 5 {
			t.Errorf("event not kept: %+v", r.Event)
		}
		for _, s := range r.Steps { // none started: the filter failed the run first
			if s.Status != "cancelled" {
				t.Errorf("step %s %s", s.Name, s.Status)
			}
		}
		if len(rec.list()) != 0 {
			t.Error("a step ran")
		}
	})
}

// TestKeysShareTheirShardsSlot checks that every key a run touches carries its
// workflow's shard hash tag, so each script touches one Redis Cluster slot.
func TestKeysShareTheirShardsSlot(t *testing.T) {
	b := redistest.Real(t)
	rec := &recorder{}
	e := New(b.Client, Options{Shards: 4, Logger: quiet})
	set := loadSet(t, rec, chainSrc+failSrc)
	e.Use(set)
	startPool(t, e, 4)
	var ids []string
	for _, wf := range set.Workflows() {
		id, err := e.Start(context.Background(), wf, event(`{"name":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		waitRun(t, e, id)
	}
	tag := regexp.MustCompile(`^\{hf:(\d)\}:`)
	var keys []string
	for _, k := range b.Client.Keys(context.Background(), "*").Val() {
		if strings.HasPrefix(k, "hf:ver:") || strings.HasPrefix(k, "hf:src:") {
			continue // workflow sources: plain GET and SET, never in a script
		}
		if !tag.MatchString(k) {
			t.Errorf("key %q has no shard hash tag", k)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		t.Fatal("no keys")
	}
	for _, id := range ids {
		r, _ := e.Run(context.Background(), id)
		sh := e.q.shardFor(r.Workflow)
		if b.Client.Exists(context.Background(), sh.run(id)).Val() != 1 {
			t.Errorf("run %s of %s is not in shard %d", id, r.Workflow, sh.index)
		}
	}
	for i := range 4 {
		slot := b.Client.ClusterKeySlot(context.Background(), newShard(i).due()).Val()
		for _, k := range keys {
			if tag.FindStringSubmatch(k)[1] == strconv.Itoa(i) {
				if s := b.Client.ClusterKeySlot(context.Background(), k).Val(); s != slot {
					t.Errorf("key %q is in slot %d, its shard in %d", k, s, slot)
				}
			}
		}
	}
}

// A dedupe key starts one run within its window, whatever the number of starts racing
// for it, and another once the window has passed.
func TestStartOnceStartsOneRunPerKey(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet})
		wf := loadSet(t, &recorder{}, chainSrc).Workflow("chain")
		ids := make(chan string, 50)
		firsts := make(chan bool, 50)
		var wg sync.WaitGroup
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id, first, err := e.StartOnce(ctx, wf, event(`{}`), "delivery-1", 300*time.Millisecond)
				if err != nil {
					t.Error(err)
				}
				ids <- id
				firsts <- first
			}()
		}
		wg.Wait()
		close(ids)
		close(firsts)
		seen, created := map[string]bool{}, 0
		for id := range ids {
			seen[id] = true
		}
		for f := range firsts {
			if f {
				created++
			}
		}
		if len(seen) != 1 || created != 1 {
			t.Fatalf("50 starts of one key: %d run ids, %d created; want 1 and 1", len(seen), created)
		}
		if n := b.Client.ZCard(ctx, e.q.shardFor("chain").runs()).Val(); n != 1 {
			t.Errorf("%d runs in the history", n)
		}
		if _, first, _ := e.StartOnce(ctx, wf, event(`{}`), "delivery-2", time.Minute); !first {
			t.Error("another key was taken as a duplicate")
		}
		// Past the window, on Redis's clock. The embedded Redis is not told to expire
		// keys here (serve tells it once a minute): the window is read from the key.
		time.Sleep(400 * time.Millisecond)
		if _, first, _ := e.StartOnce(ctx, wf, event(`{}`), "delivery-1", time.Minute); !first {
			t.Error("the key still dedupes after its window")
		}
		if _, first, _ := e.StartOnce(ctx, wf, event(`{}`), "delivery-1", time.Minute); first {
			t.Error("the key's new window starts a second run")
		}
	})
}

// Past the high-water mark of unfinished runs, starts are refused until runs finish.
func TestStartRefusedPastTheHighWaterMark(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e := New(b.Client, Options{Logger: quiet, MaxQueued: 3}) // one shard: each takes its share of the limit
		wf := loadSet(t, &recorder{}, chainSrc).Workflow("chain")
		for i := range 3 {
			if _, err := e.Start(ctx, wf, event(`{}`)); err != nil {
				t.Fatalf("start %d: %v", i+1, err)
			}
		}
		if _, err := e.Start(ctx, wf, event(`{}`)); !errors.Is(err, ErrBusy) {
			t.Fatalf("the 4th start: %v, want ErrBusy", err)
		}
		// A run that fails before its first step keeps its event even so.
		if _, err := e.StartFailed(ctx, wf, event(`{}`), "filter: boom"); err != nil {
			t.Errorf("a failed start: %v", err)
		}
		jobs, _, _ := e.q.lease(ctx, e.q.shardFor("chain"), 1)
		if _, err := e.q.complete(ctx, commit{job: jobs[0], runID: jobs[0].run["id"], wf: wf,
			record: &Record{Status: StatusFailed}, plan: &Plan{Status: RunFailed, Error: "x"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Start(ctx, wf, event(`{}`)); err != nil {
			t.Errorf("a start once a run finished: %v", err)
		}
	})
}

// A job that cannot be read holds up no other job of its lease batch.
func TestLeaseSkipsAJobItCannotRead(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet})
		wf := loadSet(t, &recorder{}, chainSrc).Workflow("chain")
		for _, id := range []string{"run1", "run2"} {
			if err := e.q.start(ctx, id, wf, []byte(`{}`), ""); err != nil {
				t.Fatal(err)
			}
		}
		sh := e.q.shardFor("chain")
		b.Client.HSet(ctx, sh.job("run1:first"), "part", "not-a-part")
		jobs, _, err := e.q.lease(ctx, sh, 10)
		if err == nil || len(jobs) != 1 || jobs[0].id != "run2:first" {
			t.Errorf("leased %d jobs (%v), error %v: want run2's, and an error for run1's", len(jobs), jobs, err)
		}
	})
}

// blpops records the timeouts of the BLPOPs a client sends.
type blpops struct {
	mu       sync.Mutex
	timeouts []string
}

func (b *blpops) DialHook(next redis.DialHook) redis.DialHook { return next }

func (b *blpops) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (b *blpops) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if args := cmd.Args(); len(args) == 3 && strings.EqualFold(fmt.Sprint(args[0]), "blpop") {
			b.mu.Lock()
			b.timeouts = append(b.timeouts, fmt.Sprint(args[2]))
			b.mu.Unlock()
		}
		return next(ctx, cmd)
	}
}

// A worker waits for a job due within a tick of Redis's timer in the process, as Redis
// would end a BLPOP's timeout up to a tick late; a longer wait blocks in Redis until a
// tick before it ends.
func TestWaitForAJobDueSoonIsNotRedisTimed(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		hook := &blpops{}
		b.Client.AddHook(hook)
		e := New(b.Client, Options{Logger: quiet})
		sh := e.q.shards[0]
		ctx := context.Background()
		for _, c := range []struct {
			d    time.Duration
			want string // the BLPOP's timeout, "" for none
		}{
			{50 * time.Millisecond, ""},
			{0, ""}, // minWait
			{blockTick, ""},
			{300 * time.Millisecond, "0.200"},
			{-1, "1.900"}, // nothing due: maxWait
		} {
			hook.mu.Lock()
			hook.timeouts = nil
			hook.mu.Unlock()
			began := time.Now()
			if err := e.q.wait(ctx, sh, c.d); err != nil {
				t.Fatal(err)
			}
			took := time.Since(began)
			hook.mu.Lock()
			got := strings.Join(hook.timeouts, " ")
			hook.mu.Unlock()
			if got != c.want {
				t.Errorf("wait %v: BLPOP timeouts %q, want %q", c.d, got, c.want)
			}
			if c.want == "" && took < max(c.d, minWait) {
				t.Errorf("wait %v returned after %v", c.d, took)
			}
		}
		// A wake-up, from a run another process queued, ends a short wait: it takes it.
		if err := e.q.wake(ctx, sh); err != nil {
			t.Fatal(err)
		}
		if err := e.q.wait(ctx, sh, 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if n := b.Client.LLen(ctx, sh.wake()).Val(); n != 0 {
			t.Errorf("%d wake-ups left after a short wait: it did not look for them", n)
		}
	})
}
