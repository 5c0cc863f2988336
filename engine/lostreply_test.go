package engine

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/metricstest"
	"github.com/hookflow/hookflow/internal/redistest"
)

// lostReply is a hook that lets Redis run the first commit of a step (a call of the
// commit scripts, alone or in a batch) and then loses its reply, as a connection cut
// on the way back would.
type lostReply struct {
	hashes map[string]bool
	armed  atomic.Bool
}

func newLostReply() *lostReply {
	h := &lostReply{hashes: map[string]bool{}}
	for _, s := range []*redis.Script{completeScript, advanceScript, finishScript} {
		h.hashes[s.Hash()], h.hashes[manyOf[s].Hash()] = true, true
	}
	h.armed.Store(true)
	return h
}

func (h *lostReply) cuts(cmd redis.Cmder) bool {
	args := cmd.Args()
	return len(args) > 1 && cmd.Name() == "evalsha" && h.hashes[args[1].(string)] && h.armed.CompareAndSwap(true, false)
}

func (h *lostReply) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *lostReply) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err == nil && h.cuts(cmd) {
			cmd.SetErr(io.EOF)
			return io.EOF
		}
		return err
	}
}

func (h *lostReply) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			if cmd.Err() == nil && h.cuts(cmd) {
				cmd.SetErr(io.EOF)
				err = io.EOF
			}
		}
		return err
	}
}

var _ redis.Hook = (*lostReply)(nil)

// A step whose commit Redis stored, but whose reply was lost, is stored: the commit
// sent again finds its job gone, and the step is neither run again nor left
// uncounted. The run goes on and ends, and each step is counted once. (The next step,
// which the lost reply leased to this worker, waits for that lease to expire: short
// here.)
func TestStepStoredWhenItsCommitsReplyIsLost(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		rec := &recorder{}
		e, reg, set := meteredEngine(t, b, rec, `
workflow "two" {
  step "probe" "a" {
    value = "x"
  }
  step "probe" "b" {
    value = "y"
  }
}`, Options{Lease: 2 * time.Second})
		hook := newLostReply()
		b.Client.AddHook(hook)
		id, err := e.Start(ctx, set.Workflow("two"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		p := startPool(t, e, 1)
		if r := waitRun(t, e, id); r.Status != RunSucceeded {
			t.Fatalf("run %s: %s", r.Status, stepsOf(r))
		}
		if err := p.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if hook.armed.Load() {
			t.Fatal("no commit's reply was lost")
		}
		if calls := rec.list(); len(calls) != 2 {
			t.Errorf("calls %v, want each step once", calls)
		}
		got := metricstest.Histograms(t, reg, "hookflow_step_duration_seconds")
		for _, step := range []string{"a", "b"} {
			if series := "kind=probe,outcome=succeeded,step=" + step + ",workflow=two"; got[series].Count != 1 {
				t.Errorf("%s: %d observations, want 1 (all: %v)", series, got[series].Count, got)
			}
		}
	})
}
