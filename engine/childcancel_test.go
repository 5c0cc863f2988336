package engine

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/redistest"
)

// cancelAtStart cancels a run, whole (its script, and the listing of its children),
// just before the first start of one of its step line's child runs is sent: the worker
// has read that the child does not exist, and starts it after the cancel.
type cancelAtStart struct {
	e    *Engine
	once sync.Once
	err  error
	done chan struct{}
}

func (c *cancelAtStart) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *cancelAtStart) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.before(cmd)
		return next(ctx, cmd)
	}
}

func (c *cancelAtStart) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			c.before(cmd)
		}
		return next(ctx, cmds)
	}
}

func (c *cancelAtStart) before(cmd redis.Cmder) {
	args := cmd.Args()
	if len(args) < 4 || args[0] != "evalsha" || args[1] != startHash && args[1] != manyOf[startScript].Hash() {
		return
	}
	for _, a := range args[3:] {
		key, _ := a.(string)
		_, rest, ok := strings.Cut(key, ":run:")
		parent, _, child := strings.Cut(rest, ":line:")
		if ok && child {
			c.once.Do(func() {
				_, c.err = c.e.Cancel(context.Background(), parent)
				close(c.done)
			})
			return
		}
	}
}

// TestCancelAStartingChild: a run cancelled after its item read that its child run did
// not exist, and before it started it, has that child cancelled too: the cancel's
// listing of the children came before the child, and the item's park, refused as the
// run is cancelled, finds the run cancelled and cancels the child it started.
func TestCancelAStartingChild(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		hook := &cancelAtStart{done: make(chan struct{})}
		b.Client.AddHook(hook)
		e, _, set, rec := realKindsEngine(t, b, childItemsSrc, Options{})
		hook.e = e
		ctx := context.Background()
		id, err := e.Start(ctx, set.Workflow("batches"), event(`{"items": ["a", "b"]}`))
		if err != nil {
			t.Fatal(err)
		}
		<-hook.done
		if hook.err != nil {
			t.Fatalf("cancel: %v", hook.err)
		}
		waitStatus(t, e, id, RunCancelled)
		waitStatus(t, e, id+":line:0", RunCancelled)
		if _, err := e.Run(ctx, id+":line:1"); err == nil {
			t.Error("the second item's child started after its run was cancelled")
		}
		if got := rec.list(); len(got) != 0 {
			t.Errorf("a child ran its step: %v", got)
		}
	})
}

// TestCancelAStartingChildReadFails: as TestCancelAStartingChild, with the item's read
// of its run, after its park was refused, failing once (a connection reset): it reads
// again, and cancels the child it started.
func TestCancelAStartingChildReadFails(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		hook := &cancelAtStart{done: make(chan struct{})}
		b.Client.AddHook(hook)
		read := &failOnce{match: func(args []any) bool {
			return args[0] == "hmget" && len(args) > 3 && args[2] == "status" && args[3] == withParentField && !isChild(args[1])
		}}
		b.Client.AddHook(read)
		e, _, set, rec := realKindsEngine(t, b, childItemsSrc, Options{})
		hook.e = e
		id, err := e.Start(context.Background(), set.Workflow("batches"), event(`{"items": ["a"]}`))
		if err != nil {
			t.Fatal(err)
		}
		<-hook.done
		if hook.err != nil {
			t.Fatalf("cancel: %v", hook.err)
		}
		waitStatus(t, e, id, RunCancelled)
		waitStatus(t, e, id+":line:0", RunCancelled)
		if read.count() != 1 {
			t.Errorf("%d reads of the run failed, want 1", read.count())
		}
		if got := rec.list(); len(got) != 0 {
			t.Errorf("the child ran its step: %v", got)
		}
	})
}
