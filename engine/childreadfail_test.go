package engine

import (
	"context"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

// connReset is the error of a read that a connection reset cut: a Redis that failed
// over, or a network that dropped the connection.
var connReset = &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}

// failOnce fails, with connReset, the first command its match picks: alone, or in a
// pipeline (which then fails whole, as a connection reset fails it). after, when
// set, sees each command sent alone, with its answer.
type failOnce struct {
	mu     sync.Mutex
	match  func(args []any) bool
	after  func(cmd redis.Cmder)
	failed int
}

func (f *failOnce) DialHook(next redis.DialHook) redis.DialHook { return next }

func (f *failOnce) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if f.fails(cmd) {
			cmd.SetErr(connReset)
			return connReset
		}
		err := next(ctx, cmd)
		if f.after != nil {
			f.after(cmd)
		}
		return err
	}
}

func (f *failOnce) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			if f.fails(cmd) {
				for _, c := range cmds {
					c.SetErr(connReset)
				}
				return connReset
			}
		}
		return next(ctx, cmds)
	}
}

// fails says whether cmd is the one to fail: the first match.
func (f *failOnce) fails(cmd redis.Cmder) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failed > 0 || !f.match(cmd.Args()) {
		return false
	}
	f.failed++
	return true
}

func (f *failOnce) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

// TestChildEndReadFailsOnce: an item whose read of its child's end fails for a reason
// that passes (a connection reset) looks again, as one whose read of the child's
// status fails does, rather than fail for good: the run succeeds.
func TestChildEndReadFailsOnce(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		hook := &failOnce{match: isChildEnd}
		b.Client.AddHook(hook)
		e, _, set, _ := realKindsEngine(t, b, childItemsSrc, Options{})
		ctx := context.Background()
		id, err := e.Start(ctx, set.Workflow("batches"), event(`{"items": ["a", "b", "c"]}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if hook.count() != 1 {
			t.Fatalf("%d reads of a child's end failed, want 1", hook.count())
		}
		if r.Status != RunSucceeded {
			t.Fatalf("run %s: %s, %s", id, r.Status, stepsOf(r))
		}
		var got []string
		for _, item := range r.Steps[0].Items {
			out, _ := item.Output.(map[string]any)
			res, _ := out["result"].(map[string]any)
			v, _ := res["value"].(string)
			got = append(got, v)
		}
		if strings.Join(got, "") != "abc" {
			t.Errorf("the items' results: %q, want a to c in order", got)
		}
	})
}

const childCallSrc = `
workflow "caller" {
  step "workflow" "line" {
    workflow = "line_child"
    input    = "{{ event.body.value }}"
  }
}

workflow "line_child" {
  step "probe" "part" {
    value = "{{ event.body }}"
  }
}
`

// TestChildVersionReadFailsOnce: a step whose child succeeded on a version this
// process no longer holds (dropped, past keepOld; or after a restart) reads it from
// Redis; when that read fails for a reason that passes, the step looks again rather
// than fail for good.
func TestChildVersionReadFailsOnce(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		var e *Engine
		var once sync.Once
		dropped := make(chan struct{})
		hook := &failOnce{}
		// The step's read of its child (childFields) that finds it succeeded drops the
		// child's version from this process, and arms the failure of its read.
		hook.after = func(cmd redis.Cmder) {
			args := cmd.Args()
			key, _ := args[1].(string)
			if args[0] != "hmget" || !strings.HasSuffix(key, ":line") || len(args) < 5 || args[3] != "wf" {
				return
			}
			vals, _ := cmd.(*redis.SliceCmd).Result()
			if len(vals) < 3 || vals[0] != string(RunSucceeded) {
				return
			}
			once.Do(func() {
				ver, _ := vals[2].(string)
				e.versions.mu.Lock()
				delete(e.versions.byKey, versionKey("line_child", ver))
				e.versions.mu.Unlock()
				close(dropped)
			})
		}
		hook.match = func(args []any) bool {
			key, _ := args[len(args)-1].(string)
			select {
			case <-dropped:
				return args[0] == "get" && strings.Contains(key, "ver:line_child@")
			default:
				return false
			}
		}
		b.Client.AddHook(hook)
		var set *workflows.Set
		e, _, set, _ = realKindsEngine(t, b, childCallSrc, Options{})
		id, err := e.Start(context.Background(), set.Workflow("caller"), event(`{"value": "v"}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if hook.count() != 1 {
			t.Fatalf("%d reads of the child's version failed, want 1", hook.count())
		}
		if r.Status != RunSucceeded {
			t.Fatalf("run %s: %s, %s", id, r.Status, stepsOf(r))
		}
		out, _ := r.Steps[0].Output.(map[string]any)
		if res, _ := out["result"].(map[string]any); res["value"] != "v" {
			t.Errorf("the step's output: %v", out)
		}
	})
}
