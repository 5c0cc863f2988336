package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

// childReplaySrc is a parent whose timeout (TIMEOUT) passes while its child (CALLS:
// child, or middle, whose own child waits) waits for a person.
const childReplaySrc = `
workflow "child" {
  step "probe" "ask" {
    value = "approve at {{ resume_url('cw') }}"
  }
  step "wait" "cw" {
    timeout = "1h"
  }
  step "probe" "r" {
    value = "got {{ steps.cw.body.ok }}"
  }
}

workflow "middle" {
  step "workflow" "deep" {
    workflow = "child"
  }
  step "probe" "m" {
    value = "{{ steps.deep.result.value }}"
  }
}

workflow "parent" {
  timeout = "TIMEOUT"
  step "workflow" "kid" {
    workflow = "CALLS"
  }
  step "probe" "parent_after" {
    value = "{{ steps.kid.result.value }}"
  }
  on_failure {
    step "probe" "page" {
      value = "{{ run.error }}"
    }
  }
}
`

// A parent whose timeout passes while its child waits cancels the child; the child
// cannot be replayed by itself, but the parent's replay runs it again from its wait:
// what the child did is not done again, it waits at the same resume URL, and its
// resume lets the parent succeed. The same goes for a child's child, through a child
// that waits for it.
func TestReplayOfATimedOutParentRunsItsChildAgain(t *testing.T) {
	t.Run("child", func(t *testing.T) { replayTimedOutParent(t, "child") })
	t.Run("child's child", func(t *testing.T) { replayTimedOutParent(t, "middle") })
}

func replayTimedOutParent(t *testing.T, calls string) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		rec := &recorder{}
		k := probeKinds(rec)
		actions.Register(k, actions.Options{Logger: quiet})
		load := func(timeout string) *workflows.Set {
			return loadSetWith(t, k, strings.NewReplacer("TIMEOUT", timeout, "CALLS", calls).Replace(childReplaySrc))
		}
		set := load("1s")
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Kinds: k, ResumeBase: "https://hooks.example.com/resume/"})
		e.Use(set)
		startPool(t, e, 1)

		id, err := e.Start(ctx, set.Workflow("parent"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		child, waiter := id+":kid", id+":kid"
		if calls == "middle" {
			waiter += ":deep"
		}
		r := waitStatus(t, e, id, RunFailed)
		if r.Error != "step kid: run timed out: its timeout of 1s passed" || r.DeadLetter != id+":kid" {
			t.Fatalf("parent %+v: %s", r.RunSummary, stepsOf(r))
		}
		waitStatus(t, e, child, RunCancelled)
		token := tokenOf(t, waitStatus(t, e, waiter, RunCancelled))

		// The child is its parent's to replay.
		if _, err := e.Replay(ctx, child, ReplayOptions{}); !errors.Is(err, ErrCannotReplay) ||
			!strings.Contains(err.Error(), "replay run "+id+", which runs it again") {
			t.Errorf("a replay of the child alone: %v", err)
		}
		if waiter != child { // and the child's child is the child's, whose replay the parent's makes
			if _, err := e.Replay(ctx, waiter, ReplayOptions{}); !errors.Is(err, ErrCannotReplay) ||
				!strings.Contains(err.Error(), "replay run "+child+", which runs it again") {
				t.Errorf("a replay of the child's child alone: %v", err)
			}
		}

		// The parent is replayed (on a version with a longer timeout, so that nothing
		// here races its deadline): its child waits again.
		e.Use(load("1h"))
		if _, err := e.Replay(ctx, id, ReplayOptions{Current: true}); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 10*time.Second, "the child waiting again", func() bool {
			c, err := e.Run(ctx, waiter)
			return err == nil && c.Status == RunWaiting
		})
		if c, _ := e.Run(ctx, waiter); c.Replays != 1 || c.Error != "" {
			t.Errorf("the child waiting again: %+v", c.RunSummary)
		}
		if _, err := e.ResumeToken(ctx, token, resumeRequest(t, `{"ok": "yes"}`)); err != nil {
			t.Fatalf("resuming the child at its URL: %v", err)
		}
		r = waitStatus(t, e, id, RunSucceeded)
		if got := stepsOf(r); got != "kid succeeded, parent_after succeeded" {
			t.Errorf("parent: %s", got)
		}
		if v := r.Steps[1].Output.(map[string]any)["value"]; v != "got yes" {
			t.Errorf("parent_after read %q", v)
		}
		// The child asked once; the parent paged once, for its one failure.
		calls := []string{waiter + ":ask", id + ":on_failure/page", waiter + ":r", id + ":parent_after"}
		if waiter != child {
			calls = []string{waiter + ":ask", id + ":on_failure/page", waiter + ":r", child + ":m", id + ":parent_after"}
		}
		want := fmt.Sprint(calls)
		if got := fmt.Sprint(rec.list()); got != want {
			t.Errorf("calls %s, want %s", got, want)
		}
	})
}

// A child cancelled by hand stays cancelled: its parent's replay does not run it again.
func TestReplayOfAParentLeavesAChildCancelledByHand(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, _, set, _ := realKindsEngine(t, b, strings.NewReplacer("TIMEOUT", "1h", "CALLS", "child").Replace(childReplaySrc),
			Options{Shards: b.Shards, ResumeBase: "https://hooks.example.com/resume/"})
		id, err := e.Start(ctx, set.Workflow("parent"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		child := id + ":kid"
		testutil.Eventually(t, 10*time.Second, "the child waiting", func() bool {
			c, err := e.Run(ctx, child)
			return err == nil && c.Status == RunWaiting
		})
		if _, err := e.Cancel(ctx, child); err != nil {
			t.Fatal(err)
		}
		if r := waitStatus(t, e, id, RunFailed); r.Error != "step kid: child run "+child+" was cancelled" {
			t.Fatalf("parent %+v", r.RunSummary)
		}
		if _, err := e.Replay(ctx, id, ReplayOptions{}); err != nil {
			t.Fatal(err)
		}
		if r := waitRun(t, e, id); r.Status != RunFailed || r.Replays != 1 || r.Error != "step kid: child run "+child+" was cancelled" {
			t.Errorf("parent replayed: %+v", r.RunSummary)
		}
		if c, _ := e.Run(ctx, child); c.Status != RunCancelled || c.Replays != 0 {
			t.Errorf("child: %+v", c.RunSummary)
		}
	})
}

// A `wait = false` step's child, under a child cancelled when its parent timed out, is
// cancelled with the tree: nothing would run it again, and it does not say so.
func TestATimedOutParentCancelsAFireAndForgetGrandchildForGood(t *testing.T) {
	const src = `
workflow "bgchild" {
  step "wait" "cw" {
    timeout = "1h"
  }
}

workflow "middle" {
  step "workflow" "bg" {
    workflow = "bgchild"
    wait     = false
  }
  step "wait" "mw" {
    timeout = "1h"
  }
}

workflow "parent" {
  timeout = "1s"
  step "workflow" "kid" {
    workflow = "middle"
  }
}
`
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, _, set, _ := realKindsEngine(t, b, src, Options{Shards: b.Shards, ResumeBase: "https://hooks.example.com/resume/"})
		id, err := e.Start(ctx, set.Workflow("parent"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		waitStatus(t, e, id, RunFailed)
		if m := waitStatus(t, e, id+":kid", RunCancelled); !strings.Contains(m.Error, "replaying that run runs this one again") {
			t.Errorf("middle: %q", m.Error)
		}
		bg := waitStatus(t, e, id+":kid:bg", RunCancelled)
		if bg.Error != "cancelled" {
			t.Errorf("the wait = false step's child: %q", bg.Error)
		}
		if _, err := e.Replay(ctx, id+":kid:bg", ReplayOptions{}); !errors.Is(err, ErrCannotReplay) ||
			!strings.Contains(err.Error(), "only a failed run can be") {
			t.Errorf("a replay of the wait = false step's child: %v", err)
		}
	})
}

// A child cancelled when its parent timed out is replayed by hand once its parent's
// replay can no longer reach it: the parent went on with a version whose step does not
// wait for it.
func TestAChildItsParentNoLongerWaitsForIsReplayedByHand(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		rec := &recorder{}
		k := probeKinds(rec)
		actions.Register(k, actions.Options{Logger: quiet})
		src := strings.NewReplacer("TIMEOUT", "1s", "CALLS", "child").Replace(childReplaySrc)
		set := loadSetWith(t, k, src)
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Kinds: k, ResumeBase: "https://hooks.example.com/resume/"})
		e.Use(set)
		startPool(t, e, 1)
		id, err := e.Start(ctx, set.Workflow("parent"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		child := id + ":kid"
		waitStatus(t, e, id, RunFailed)
		waitStatus(t, e, child, RunCancelled)
		if _, err := e.Replay(ctx, child, ReplayOptions{}); !errors.Is(err, ErrCannotReplay) ||
			!strings.Contains(err.Error(), "replay run "+id+", which runs it again") {
			t.Errorf("a replay of the child alone, its parent waiting for it: %v", err)
		}

		// The parent goes on with a version whose step starts the child and goes on.
		e.Use(loadSetWith(t, k, strings.NewReplacer(
			`workflow = "child"`, "workflow = \"child\"\n    wait = false",
			"{{ steps.kid.result.value }}", "{{ steps.kid.run_id }}",
			`timeout = "1s"`, `timeout = "1h"`).Replace(src)))
		if _, err := e.Replay(ctx, id, ReplayOptions{Current: true}); err != nil {
			t.Fatal(err)
		}
		if r := waitStatus(t, e, id, RunSucceeded); stepsOf(r) != "kid succeeded, parent_after succeeded" {
			t.Errorf("parent: %s", stepsOf(r))
		}
		if c, _ := e.Run(ctx, child); c.Status != RunCancelled || c.Replays != 0 {
			t.Errorf("child after its parent's replay: %+v", c.RunSummary)
		}
		if _, err := e.Replay(ctx, child, ReplayOptions{}); err != nil {
			t.Fatalf("a replay of the child its parent no longer waits for: %v", err)
		}
		testutil.Eventually(t, 10*time.Second, "the child waiting again", func() bool {
			c, err := e.Run(ctx, child)
			return err == nil && c.Status == RunWaiting && c.Replays == 1
		})
	})
}

// beforeScript runs do, once, before the first script whose first key is key, once
// armed.
type beforeScript struct {
	key   string
	armed atomic.Bool
	once  sync.Once
	do    func()
}

func (h *beforeScript) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *beforeScript) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		args := cmd.Args()
		if name := strings.ToLower(fmt.Sprint(args[0])); h.armed.Load() && (name == "evalsha" || name == "eval") &&
			len(args) > 3 && fmt.Sprint(args[3]) == h.key {
			h.once.Do(h.do)
		}
		return next(ctx, cmd)
	}
}
func (h *beforeScript) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// A parent cancelled by hand while its replay replays the child its timeout cancelled
// (the cancel lists its children just before the child's replay) has the child
// cancelled too: nothing of it runs on.
func TestACancelDuringAParentsReplayOfItsChildCancelsTheChild(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		rec := &recorder{}
		k := probeKinds(rec)
		actions.Register(k, actions.Options{Logger: quiet})
		load := func(timeout string) *workflows.Set {
			return loadSetWith(t, k, strings.NewReplacer("TIMEOUT", timeout, "CALLS", "child").Replace(childReplaySrc))
		}
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Kinds: k, ResumeBase: "https://hooks.example.com/resume/"})
		set := load("1s")
		e.Use(set)
		startPool(t, e, 1)
		id, err := e.Start(ctx, set.Workflow("parent"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		child := id + ":kid"
		waitStatus(t, e, id, RunFailed)
		waitStatus(t, e, child, RunCancelled)

		cancelled := make(chan error, 1)
		hook := &beforeScript{key: e.q.shardFor("child").run(child), do: func() {
			_, err := e.Cancel(ctx, id)
			cancelled <- err
		}}
		b.Client.AddHook(hook)
		e.Use(load("1h"))
		hook.armed.Store(true)
		if _, err := e.Replay(ctx, id, ReplayOptions{Current: true}); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-cancelled:
			if err != nil {
				t.Fatalf("cancelling the parent: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the parent's replay did not replay its child")
		}
		waitStatus(t, e, id, RunCancelled)
		testutil.Eventually(t, 10*time.Second, "the child cancelled again", func() bool {
			c, err := e.Run(ctx, child)
			return err == nil && c.Status == RunCancelled && c.Replays == 1
		})
	})
}
