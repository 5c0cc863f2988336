package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
	"github.com/redis/go-redis/v9"
)

const keepSrc = `
workflow "approve" {
  step "wait" "approval" {
    timeout = "1h"
  }
}

workflow "quick" {
  step "probe" "only" {
    value = "{{ event.body.n }}"
    fail  = "{{ event.body.fail }}"
  }
}

workflow "later" {
  step "delay" "wait" {
    duration = "1h"
  }
  step "probe" "after" {
    value = "never"
  }
}

workflow "many" {
  step "probe" "each" {
    for_each = "event.body.xs"
    value    = "{{ each.value }}"
  }
}
`

// keepEngine runs keepSrc on b with probe steps and the real kinds, on one shard, with
// no grace: a run may be dropped as soon as it finished.
func keepEngine(t *testing.T, b *redistest.Backend, keep int) (*Engine, *workflows.Set) {
	t.Helper()
	k := probeKinds(&recorder{})
	actions.Register(k, actions.Options{Logger: quiet})
	set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(keepSrc)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	e := New(b.Client, Options{Logger: quiet, Kinds: k, KeepRuns: keep})
	e.q.keepGrace, e.q.childGrace, e.q.tombGrace = 0, 0, 0
	e.Use(set)
	return e, set
}

// keptRuns starts, one after the other, a waiting run, a failed run (with a dead
// letter), a cancelled one (with a tombstone), a for_each run (with its items and
// results) and four that succeed, and waits for each to settle. It returns their ids,
// oldest first.
func keptRuns(t *testing.T, e *Engine, set *workflows.Set) (waiting string, finished []string) {
	t.Helper()
	ctx := context.Background()
	last := int64(0)
	start := func(wf, body string) string {
		// Each in a later millisecond than the one before: runs are ordered by their
		// creation time, then by id.
		testutil.Eventually(t, time.Second, "Redis's clock moved on", func() bool {
			now, err := e.q.rdb.Time(ctx).Result()
			if err != nil {
				t.Fatal(err)
			}
			return now.UnixMilli() > last
		})
		id, err := e.Start(ctx, set.Workflow(wf), event(body))
		if err != nil {
			t.Fatal(err)
		}
		r, err := e.Run(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		last = r.CreatedAt.UnixMilli()
		return id
	}
	waiting = start("approve", `{}`)
	waitStatus(t, e, waiting, RunWaiting)
	failed := start("quick", `{"n": 0, "fail": true}`)
	waitStatus(t, e, failed, RunFailed)
	cancelled := start("later", `{}`)
	waitStatus(t, e, cancelled, RunRunning)
	if _, err := e.Cancel(ctx, cancelled); err != nil {
		t.Fatal(err)
	}
	many := start("many", `{"xs": [1, 2, 3]}`)
	waitStatus(t, e, many, RunSucceeded)
	finished = []string{failed, cancelled, many}
	for n := range 4 {
		id := start("quick", fmt.Sprintf(`{"n": %d, "fail": false}`, n+1))
		waitStatus(t, e, id, RunSucceeded)
		finished = append(finished, id)
	}
	return waiting, finished
}

// listed is every run of the history listing (of one workflow, or all), oldest first.
func listed(t *testing.T, e *Engine, wf string) []string {
	t.Helper()
	page, err := e.Runs(context.Background(), RunFilter{Workflow: wf, Limit: MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	out := ids(page.Runs)
	slices.Reverse(out)
	return out
}

// runKeys is every key that names run id.
func runKeys(b *redistest.Backend, id string) []string {
	return b.Keys(context.Background(), "*"+id+"*")
}

// The cap drops the oldest finished runs, with every key of theirs and their dead
// letters, and never an unfinished one, even one older than all of them; the listing
// shows exactly the runs kept.
func TestKeepRunsDropsTheOldestFinished(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, set := keepEngine(t, b, 0) // runs them; the cap is another engine's
		startPool(t, e, 4)
		waiting, finished := keptRuns(t, e, set)
		dropped, kept := finished[:4], finished[4:]
		for _, id := range dropped {
			if len(runKeys(b, id)) == 0 {
				t.Fatalf("run %s has no keys before the cap", id)
			}
		}
		if len(runKeys(b, finished[0])) < 2 || len(runKeys(b, finished[1])) < 2 || len(runKeys(b, finished[2])) < 3 {
			t.Fatalf("the failed run has no dead letter, the cancelled one no tombstone, or the for_each one no items: %v %v %v",
				runKeys(b, finished[0]), runKeys(b, finished[1]), runKeys(b, finished[2]))
		}
		if dead, _ := e.DeadLetters(ctx, DeadLetterFilter{Limit: 10}); len(dead.DeadLetters) != 1 {
			t.Fatalf("dead letters before the cap: %+v, want the failed run's", dead)
		}

		capped, _ := keepEngine(t, b, 3)
		capped.q.keepBatch = 2 // calls that look at 2 runs each: the waiting one, then on
		sh := capped.q.shards[0]
		if next, err := capped.q.dropRuns(ctx, sh, 0); err != nil || next != 0 {
			t.Fatalf("dropRuns: %d, %v", next, err)
		}

		if got, want := listed(t, e, ""), append([]string{waiting}, kept...); !slices.Equal(got, want) {
			t.Errorf("listing %v, want %v (the waiting run and the 3 newest finished)", got, want)
		}
		if got := listed(t, e, "quick"); !slices.Equal(got, kept) {
			t.Errorf("listing of quick %v, want %v", got, kept)
		}
		for _, id := range dropped {
			if keys := runKeys(b, id); len(keys) > 0 {
				t.Errorf("run %s dropped, and its keys %v are left", id, keys)
			}
			if _, err := e.Run(ctx, id); err == nil {
				t.Errorf("run %s dropped, and it is still read", id)
			}
		}
		for _, id := range append([]string{waiting}, kept...) {
			if _, err := e.Run(ctx, id); err != nil {
				t.Errorf("run %s kept: %v", id, err)
			}
		}
		if r, _ := e.Run(ctx, waiting); r == nil || r.Status != RunWaiting {
			t.Errorf("the waiting run is %+v, want it waiting", r)
		}
		if dead, err := e.DeadLetters(ctx, DeadLetterFilter{Limit: 10}); err != nil || len(dead.DeadLetters) != 0 {
			t.Errorf("dead letters after the cap: %+v, %v; want none", dead, err)
		}
		if n, _ := b.Client.ZCard(ctx, sh.dead()).Result(); n != 0 {
			t.Errorf("%d entries left in the dead letters", n)
		}

		// Under the cap, nothing more goes.
		if _, err := capped.q.dropRuns(ctx, sh, 0); err != nil {
			t.Fatal(err)
		}
		if got := listed(t, e, ""); len(got) != 4 {
			t.Errorf("listing %v after a second round, want 4 runs", got)
		}
	})
}

// A run whose hash expired before the cap came to it (a child run, kept a grace longer,
// under a short --retention) goes from its workflow's index too, not only from the
// index of every run, though its hash no longer names its workflow.
func TestKeepRunsDropsExpiredRunsFromTheirWorkflowsIndex(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, set := keepEngine(t, b, 0)
		startPool(t, e, 4)
		_, finished := keptRuns(t, e, set)
		sh := e.q.shards[0]
		expired := finished[3] // the oldest of quick's successes
		if err := b.Client.Del(ctx, sh.prefix+"run:"+expired).Err(); err != nil {
			t.Fatal(err)
		}
		capped, _ := keepEngine(t, b, 3)
		if _, err := capped.q.dropRuns(ctx, sh, 0); err != nil {
			t.Fatal(err)
		}
		for _, index := range []string{sh.runs(), sh.prefix + "runs:quick"} {
			if err := b.Client.ZScore(ctx, index, expired).Err(); err != redis.Nil {
				t.Errorf("the expired run %s is left in %s (%v)", expired, index, err)
			}
		}
		if got := listed(t, e, "quick"); !slices.Equal(got, finished[4:]) {
			t.Errorf("listing of quick %v, want %v", got, finished[4:])
		}
	})
}

// With no cap, nothing is dropped, and no loop looks.
func TestKeepRunsZeroDropsNothing(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, set := keepEngine(t, b, 0)
		p := startPool(t, e, 4)
		if len(p.loops) != 2 {
			t.Errorf("%d loops besides the fetchers, want the heartbeat and the trim", len(p.loops))
		}
		waiting, finished := keptRuns(t, e, set)
		before := map[string][]string{}
		for _, id := range finished {
			before[id] = runKeys(b, id)
		}
		if _, err := e.q.dropRuns(ctx, e.q.shards[0], 0); err != nil {
			t.Fatal(err)
		}
		if got, want := listed(t, e, ""), append([]string{waiting}, finished...); !slices.Equal(got, want) {
			t.Errorf("listing %v, want every run %v", got, want)
		}
		for _, id := range finished {
			if got := runKeys(b, id); !slices.Equal(sorted(got), sorted(before[id])) {
				t.Errorf("run %s keys %v, had %v", id, got, before[id])
			}
		}
	})
}

// A pool with a cap drops the runs past it by itself.
func TestKeepRunsLoop(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, set, _ := running(t, b, `
workflow "quick" {
  step "probe" "only" {
    value = "{{ event.body.n }}"
  }
}`, 4)
		capped := New(b.Client, Options{Logger: quiet, KeepRuns: 2})
		capped.q.keepGrace = 0
		capped.Use(set)
		startPool(t, capped, 1)
		var all []string
		for n := range 5 {
			id, err := e.Start(ctx, set.Workflow("quick"), event(fmt.Sprintf(`{"n": %d}`, n)))
			if err != nil {
				t.Fatal(err)
			}
			waitRun(t, e, id)
			all = append(all, id)
			// Runs started in the same millisecond tie in the history index, which then
			// orders them by id, not by start.
			time.Sleep(2 * time.Millisecond)
		}
		testutil.Eventually(t, 10*time.Second, "the 2 newest runs kept", func() bool {
			return slices.Equal(listed(t, e, ""), all[3:])
		})
	})
}

// A run is kept for a grace after it finished, past the cap, for a caller waiting for
// its end (a sync webhook) to read it; the grace is long enough for that caller's
// reads.
func TestKeepRunsGrace(t *testing.T) {
	for _, grace := range []time.Duration{keepGrace, keepGraceEmbedded} {
		if grace < 5*awaitPoll {
			t.Errorf("a grace of %v is less than five reads of a waiting caller (%v apart)", grace, awaitPoll)
		}
	}
	if g := New(nil, Options{RedisMode: RedisEmbedded}).q.keepGrace; g != keepGraceEmbedded {
		t.Errorf("the embedded Redis's grace is %v, want %v", g, keepGraceEmbedded)
	}
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, set := keepEngine(t, b, 0)
		startPool(t, e, 2)
		var all []string
		for range 3 {
			id, err := e.Start(ctx, set.Workflow("quick"), event(`{"n": 1, "fail": false}`))
			if err != nil {
				t.Fatal(err)
			}
			waitStatus(t, e, id, RunSucceeded)
			all = append(all, id)
			time.Sleep(2 * time.Millisecond) // runs started in one millisecond tie in the index
		}
		capped, _ := keepEngine(t, b, 1)
		capped.q.keepGrace = time.Hour
		dropAndList(t, capped, e, all, "the runs in their grace")
		capped.q.keepGrace = 0
		dropAndList(t, capped, e, all[2:], "the newest past the grace")
	})
}

// dropAndList runs one round of capped's cap on its shard, then checks that e lists
// want, the runs kept.
func dropAndList(t *testing.T, capped, e *Engine, want []string, what string) {
	t.Helper()
	if _, err := capped.q.dropRuns(context.Background(), capped.q.shards[0], 0); err != nil {
		t.Fatal(err)
	}
	if got := listed(t, e, ""); !slices.Equal(got, want) {
		t.Errorf("listing %v, want %s: %v", got, what, want)
	}
}

// A child run is kept for longer after it finished: its parent's step reads its end.
func TestKeepRunsChildGrace(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, set := keepEngine(t, b, 0)
		startPool(t, e, 2)
		var all []string
		for n := range 3 {
			id := fmt.Sprintf("parent%d:step", n) // a child's id, as a workflow step makes it
			if err := e.StartAs(ctx, set.Workflow("quick"), event(`{"n": 1, "fail": false}`), id); err != nil {
				t.Fatal(err)
			}
			waitStatus(t, e, id, RunSucceeded)
			all = append(all, id)
		}
		capped, _ := keepEngine(t, b, 1)
		capped.q.childGrace = time.Hour
		dropAndList(t, capped, e, all, "the child runs in their grace")
		capped.q.childGrace = 0
		dropAndList(t, capped, e, all[2:], "the newest past the grace")
	})
}

// A cancelled run keeps its tombstones for a lease after the cancel: a step of it still
// running learns of the cancel from its tombstone at its next heartbeat.
func TestKeepRunsTombGrace(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, set := keepEngine(t, b, 0)
		startPool(t, e, 2)
		_, finished := keptRuns(t, e, set)
		capped, _ := keepEngine(t, b, 1)
		cancelled := finished[1]
		hasJob := func() bool {
			for _, k := range runKeys(b, cancelled) {
				if strings.Contains(k, ":job:") {
					return true
				}
			}
			return false
		}
		if !hasJob() {
			t.Fatal("the cancelled run has no tombstone")
		}
		capped.q.tombGrace = time.Hour
		if _, err := capped.q.dropRuns(ctx, capped.q.shards[0], 0); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(listed(t, e, ""), cancelled) || !hasJob() {
			t.Errorf("the cancelled run or its tombstone went within the grace: %v", listed(t, e, ""))
		}
		capped.q.tombGrace = 0
		newer, err := e.Start(ctx, set.Workflow("quick"), event(`{"n": 9, "fail": false}`))
		if err != nil {
			t.Fatal(err)
		}
		waitStatus(t, e, newer, RunSucceeded) // one more finished run than the cap
		if _, err := capped.q.dropRuns(ctx, capped.q.shards[0], 0); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(listed(t, e, ""), cancelled) || hasJob() {
			t.Errorf("the cancelled run or its tombstone stayed past the grace: %v %v", listed(t, e, ""), runKeys(b, cancelled))
		}
	})
}

const handledSrc = `
workflow "handled" {
  step "probe" "only" {
    value = "x"
    fail  = true
  }
  on_failure {
    step "probe" "notify" {
      value = "{{ run.error }}"
    }
  }
}

workflow "fine" {
  step "probe" "only" {
    value = "ok"
  }
}
`

// runWithTwoDeadLetters starts a run of handledSrc's "handled" whose on_failure step
// cannot be resumed, and waits for it to end failed with two dead letters: the step
// that failed it, and the on_failure step that ended it. No pool of e runs after it.
func runWithTwoDeadLetters(t *testing.T, b *redistest.Backend) (*Engine, *workflows.Set, string) {
	t.Helper()
	ctx := context.Background()
	e, set, p, rec, id := holdingRun(t, b, handledSrc, "handled", `{}`)
	// Stopping, the pool commits the step that failed without running on: its
	// on_failure step is queued, and the step goes to the dead letters.
	stopped := make(chan error, 1)
	go func() { stopped <- p.Stop(ctx) }()
	testutil.Eventually(t, time.Second, "the pool stopping", func() bool { return p.fetchCtx.Err() != nil })
	close(rec.hold)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	// A process that never loaded the version takes the on_failure step: it cannot
	// resume the run, which ends failed, the step a second dead letter.
	other := New(b.Client, Options{Logger: quiet})
	op := other.NewPool(1)
	op.Start()
	waitStatus(t, e, id, RunFailed)
	if err := op.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if dead, _ := e.DeadLetters(ctx, DeadLetterFilter{Limit: 10}); len(dead.DeadLetters) != 2 {
		t.Fatalf("dead letters %+v, want the failed step's and the on_failure step's", dead)
	}
	return e, set, id
}

// A run with two dead letters, dropped past the cap, takes both with it.
func TestKeepRunsDropsEveryDeadLetter(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, set, id := runWithTwoDeadLetters(t, b)
		startPool(t, e, 1)
		newer, err := e.Start(ctx, set.Workflow("fine"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		waitStatus(t, e, newer, RunSucceeded)
		capped, _ := keepEngine(t, b, 1)
		sh := capped.q.shards[0]
		if _, err := capped.q.dropRuns(ctx, sh, 0); err != nil {
			t.Fatal(err)
		}
		if got := listed(t, e, ""); !slices.Equal(got, []string{newer}) {
			t.Errorf("listing %v, want the newer run %s alone", got, newer)
		}
		if keys := runKeys(b, id); len(keys) > 0 {
			t.Errorf("run %s dropped, and its keys %v are left", id, keys)
		}
		if dead, err := e.DeadLetters(ctx, DeadLetterFilter{Limit: 10}); err != nil || len(dead.DeadLetters) != 0 {
			t.Errorf("dead letters after the cap: %+v, %v; want none", dead, err)
		}
		if n, _ := b.Client.ZCard(ctx, sh.dead()).Result(); n != 0 {
			t.Errorf("%d entries left in the dead letters", n)
		}
	})
}

const stuckSrc = `
workflow "pair" {
  parallel "both" {
    step "probe" "a" {
      value = "a"
    }
    step "probe" "b" {
      value = "b"
    }
  }
}
`

// A run that ended failed because a unit of its parallel block could not be resumed
// keeps the block's count above 0 for good (what settles in an ended run counts
// nothing down): the cap holds it for a lease after its end, then drops it. A unit of
// it still running when it went writes nothing as it settles, and makes none of its
// keys anew.
func TestKeepRunsStuckCounts(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		set := loadSet(t, &recorder{}, stuckSrc)
		e := New(b.Client, Options{Logger: quiet})
		e.Use(set)
		sh := e.q.shards[0]
		var runs []string
		for range 2 {
			id, err := e.Start(ctx, set.Workflow("pair"), event(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			runs = append(runs, id)
			time.Sleep(2 * time.Millisecond) // later in the history index
		}
		// A process that never loaded the version takes their units: it cannot resume
		// them, and fails each run at the first, the other settling in the ended run.
		other := New(b.Client, Options{Logger: quiet})
		op := other.NewPool(1)
		op.Start()
		for _, id := range runs {
			waitStatus(t, e, id, RunFailed)
		}
		testutil.Eventually(t, 10*time.Second, "every unit settled", func() bool {
			n, _ := b.Client.ZCard(ctx, sh.ready("pair")).Result()
			l, _ := b.Client.ZCard(ctx, sh.leases()).Result()
			return n == 0 && l == 0
		})
		if err := op.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		old := runs[0]
		if n, _ := b.Client.HGet(ctx, sh.run(old), countPrefix+"both").Int(); n <= 0 {
			t.Fatalf("the block's count is %d, want it stuck above 0", n)
		}

		capped, _ := keepEngine(t, b, 1)
		capped.q.tombGrace = time.Hour
		if _, err := capped.q.dropRuns(ctx, sh, 0); err != nil {
			t.Fatal(err)
		}
		if got := listed(t, e, ""); !slices.Equal(got, runs) {
			t.Errorf("listing %v, want both runs %v within a lease of their end", got, runs)
		}
		capped.q.tombGrace = 0
		if _, err := capped.q.dropRuns(ctx, sh, 0); err != nil {
			t.Fatal(err)
		}
		if got := listed(t, e, ""); !slices.Equal(got, runs[1:]) {
			t.Errorf("listing %v, want the newer run %v alone past a lease", got, runs[1:])
		}
		if keys := runKeys(b, old); len(keys) > 0 {
			t.Errorf("run %s dropped, and its keys %v are left", old, keys)
		}
		if dead, _ := e.DeadLetters(ctx, DeadLetterFilter{Limit: 10}); len(dead.DeadLetters) != 1 || dead.DeadLetters[0].Run != runs[1] {
			t.Errorf("dead letters %+v, want the newer run's alone", dead)
		}

		// Units of the dropped run that were still running settle: a retry, a delay
		// held, a wait parking, a commit.
		leased := func(id string, u unit) *job {
			if err := b.Client.HSet(ctx, sh.job(id), "run", old, "wf", "pair", "step", u.step, "token", "7").Err(); err != nil {
				t.Fatal(err)
			}
			b.Client.ZAdd(ctx, sh.leases(), redis.Z{Score: float64(time.Now().Add(time.Hour).UnixMilli()), Member: id})
			return &job{shard: sh, id: id, unit: u, token: "7", attempt: 1}
		}
		failed := newRecord(StatusFailed, 1, nil, errors.New("again"))
		if err := e.q.retry(ctx, leased(old+":a", unit{step: "a"}), old, "pair", failed, 0, time.Minute); err != nil {
			t.Errorf("retry: %v", err)
		}
		item := leased(old+":a:0", unit{step: "a", part: partItem, item: 0})
		if err := e.q.hold(ctx, item, old, "pair", failed, failed, 0, time.Minute); err != nil {
			t.Errorf("hold: %v", err)
		}
		w := leased(old+":b", unit{step: "b"})
		err := parkScript.Run(ctx, b.Client, []string{sh.job(w.id), sh.run(old), sh.leases(), sh.ready("pair"), sh.due(), sh.wake()},
			w.id, w.token, recordPrefix+"b", encodeRecord(newRecord(StatusWaiting, 1, nil, nil)), 0, 0, time.Minute.Milliseconds(),
			-1, "pair", resumePrefix+"b", timedOutMark, "0", countPrefix+"both").Err()
		if err != nil {
			t.Errorf("park: %v", err)
		}
		c := commit{job: leased(old+":b", unit{step: "b"}), runID: old, wf: set.Workflow("pair"),
			record: newRecord(StatusSucceeded, 1, "b", nil), plan: &Plan{Status: RunRunning, Join: "both"}}
		if _, err := e.q.complete(ctx, c); err != nil {
			t.Errorf("complete: %v", err)
		}
		if keys := runKeys(b, old); len(keys) > 0 {
			t.Errorf("units of the dropped run %s settled, and left %v", old, keys)
		}
		if n, _ := b.Client.ZCard(ctx, sh.ready("pair")).Result(); n != 0 {
			t.Errorf("%d jobs of the dropped run queued again", n)
		}
	})
}

// A replay takes every dead letter of the run out, not only the last.
func TestReplayTakesEveryDeadLetter(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, _, id := runWithTwoDeadLetters(t, b)
		if _, err := e.Replay(ctx, id, ReplayOptions{}); err != nil {
			t.Fatal(err)
		}
		if dead, err := e.DeadLetters(ctx, DeadLetterFilter{Limit: 10}); err != nil || len(dead.DeadLetters) != 0 {
			t.Errorf("dead letters after the replay: %+v, %v; want none", dead, err)
		}
		sh := e.q.shards[0]
		if n, _ := b.Client.ZCard(ctx, sh.dead()).Result(); n != 0 {
			t.Errorf("%d entries left in the dead letters", n)
		}
		if f, _ := b.Client.HMGet(ctx, sh.run(id), "dead", "dead_before").Result(); f[0] != nil || f[1] != nil {
			t.Errorf("the replayed run still names dead letters: %v", f)
		}
	})
}

// A queued job whose run is gone (dropped past the cap while the job waited, or expired
// past the retention) is deleted when it comes due, not leased: its worker would find
// nothing to resume, and report the run failed.
func TestLeaseDeletesTheJobsOfAGoneRun(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, set := keepEngine(t, b, 0)
		wf := set.Workflow("quick")
		for _, id := range []string{"gone", "kept"} {
			if err := e.q.start(ctx, id, wf, []byte(`{"body":{"n":1,"fail":false}}`), ""); err != nil {
				t.Fatal(err)
			}
		}
		sh := e.q.shardFor("quick")
		if err := b.Client.Del(ctx, sh.run("gone")).Err(); err != nil {
			t.Fatal(err)
		}
		jobs, _, err := e.q.lease(ctx, sh, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) != 1 || jobs[0].run["id"] != "kept" {
			t.Fatalf("leased %d jobs (%v), want the kept run's alone", len(jobs), jobs)
		}
		if keys := runKeys(b, "gone"); len(keys) > 0 {
			t.Errorf("the gone run's keys %v are left", keys)
		}
		if n, _ := b.Client.ZCard(ctx, sh.leases()).Result(); n != 1 {
			t.Errorf("%d leases, want the kept run's job's", n)
		}
	})
}
