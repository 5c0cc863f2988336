package engine

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// cancelAtStart cancels a run, whole (its script, and the listing of its children),
// just before the first start of one of its step line's child runs is sent: the worker
// has read that the child does not exist, and starts it after the cancel.
type cancelAtStart struct {
	e    *Engine
	once sync.Once
	err  error
	done chan struct{}
	// child is what follows the run's id in its child's id: ":line:" (an item of
	// step line) when empty.
	child string
	// unanswered, when set, loses Redis's answer to that start: its caller gets a
	// connection reset, for a start Redis ran.
	unanswered bool
}

func (c *cancelAtStart) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *cancelAtStart) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		lost := c.before(cmd) && c.unanswered
		err := next(ctx, cmd)
		if lost {
			cmd.SetErr(connReset)
			return connReset
		}
		return err
	}
}

func (c *cancelAtStart) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		var lost []redis.Cmder
		for _, cmd := range cmds {
			if c.before(cmd) && c.unanswered {
				lost = append(lost, cmd)
			}
		}
		err := next(ctx, cmds)
		for _, cmd := range lost {
			cmd.SetErr(connReset) // each command of a start's pipeline carries its own error
		}
		return err
	}
}

// before cancels the run when cmd is the first start of its child, and reports
// whether it was.
func (c *cancelAtStart) before(cmd redis.Cmder) bool {
	args := cmd.Args()
	if len(args) < 4 || args[0] != "evalsha" || args[1] != startHash && args[1] != manyOf[startScript].Hash() {
		return false
	}
	marker := c.child
	if marker == "" {
		marker = ":line:"
	}
	for _, a := range args[3:] {
		key, _ := a.(string)
		_, rest, ok := strings.Cut(key, ":run:")
		parent, _, child := strings.Cut(rest, marker)
		if ok && child {
			first := false
			c.once.Do(func() {
				_, c.err = c.e.Cancel(context.Background(), parent)
				close(c.done)
				first = true
			})
			return first
		}
	}
	return false
}

// TestCancelAStartingChild: a run cancelled after its item read that its child run did
// not exist, and before it started it, has that child cancelled too: the cancel's
// listing of the children came before the child, and the item's park, refused as the
// run is cancelled, finds the run cancelled and cancels the child it started.
func TestCancelAStartingChild(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		hook := &cancelAtStart{done: make(chan struct{})}
		b.Client.AddHook(hook)
		e, id := cancelledAtItsStart(t, b, hook, `{"items": ["a", "b"]}`)
		if _, err := e.Run(context.Background(), id+":line:1"); err == nil {
			t.Error("the second item's child started after its run was cancelled")
		}
	})
}

// cancelledAtItsStart starts a run of childItemsSrc's batches with event body, which
// hook cancels as its first item's child starts, and checks that the run and that
// child end cancelled, no child having run its step.
func cancelledAtItsStart(t *testing.T, b *redistest.Backend, hook *cancelAtStart, body string) (*Engine, string) {
	t.Helper()
	e, _, set, rec := realKindsEngine(t, b, childItemsSrc, Options{})
	hook.e = e
	id, err := e.Start(context.Background(), set.Workflow("batches"), event(body))
	if err != nil {
		t.Fatal(err)
	}
	<-hook.done
	if hook.err != nil {
		t.Fatalf("cancel: %v", hook.err)
	}
	waitStatus(t, e, id, RunCancelled)
	waitChild(t, e, id+":line:0", RunCancelled)
	if got := rec.list(); len(got) != 0 {
		t.Errorf("a child ran its step: %v", got)
	}
	return e, id
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
		cancelledAtItsStart(t, b, hook, `{"items": ["a"]}`)
		if read.count() != 1 {
			t.Errorf("%d reads of the run failed, want 1", read.count())
		}
	})
}

// TestCancelAChildWhoseStartWasNotAnswered: a run cancelled just before its item
// started its child, whose start Redis ran but whose answer was lost (a connection
// reset: ErrOutcomeUnknown), has that child cancelled too: the item's retry, refused
// as the run is cancelled, finds the run cancelled and cancels the child it may have
// started.
func TestCancelAChildWhoseStartWasNotAnswered(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		hook := &cancelAtStart{done: make(chan struct{}), unanswered: true}
		b.Client.AddHook(hook)
		cancelledAtItsStart(t, b, hook, `{"items": ["a"]}`)
	})
}

// TestCancelAChildStartedByOnFailure: a run cancelled while its on_failure steps run
// stays failed; one of them that starts a child run after that cancel listed the
// children finds the run so (its cancel's tombstones) and cancels the child, as the
// cancel cancels a failed run's children: as by hand.
func TestCancelAChildStartedByOnFailure(t *testing.T) {
	const src = `
workflow "fails" {
  step "probe" "boom" {
    value = "boom"
    fail  = true
  }
  on_failure {
    step "workflow" "line" {
      workflow = "line_child"
      input    = "x"
    }
  }
}

workflow "line_child" {
  step "probe" "part" {
    value = "{{ event.body }}"
  }
}
`
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		hook := &cancelAtStart{done: make(chan struct{}), child: ":on_failure/line"}
		b.Client.AddHook(hook)
		e, _, set, rec := realKindsEngine(t, b, src, Options{})
		hook.e = e
		id, err := e.Start(context.Background(), set.Workflow("fails"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		<-hook.done
		if hook.err != nil {
			t.Fatalf("cancel: %v", hook.err)
		}
		waitStatus(t, e, id, RunFailed)
		waitChild(t, e, id+":on_failure/line", RunCancelled)
		for _, call := range rec.list() {
			if strings.HasSuffix(call, ":part") {
				t.Errorf("the child ran its step: %v", rec.list())
			}
		}
	})
}

// waitChild waits for child run id to have status: the cancel that cancelAtStart makes
// comes before the child's start is sent, and the child may not exist yet.
func waitChild(t *testing.T, e *Engine, id string, status RunStatus) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, "run "+id+" "+string(status), func() bool {
		r, err := e.Run(context.Background(), id)
		if err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil && r.Status == status
	})
}
