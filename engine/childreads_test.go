package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/redistest"
)

const childItemsSrc = `
workflow "batches" {
  step "workflow" "line" {
    for_each = "event.body.items"
    workflow = "line_child"
    input    = "{{ each.value }}"
  }
}

workflow "line_child" {
  step "probe" "part" {
    value = "{{ event.body }}"
  }
}
`

// childReads sorts what a client sends by what it reads of runs: a command alone, or
// a pipeline of them.
type childReads struct {
	mu sync.Mutex
	// cancelChecks are the reads of a run's status and with_parent alone (a check,
	// after a child started, that its parent was not cancelled meanwhile).
	cancelChecks int
	// childAlone are the reads of a child run's end one by one: its status alone, its
	// whole hash alone, or Redis's clock alone.
	childAlone []string
	// childEnds are the pipelines that read a child run's end: its status and its
	// steps' records.
	childEnds int
	// wholeOrEvent are the reads of a child run's whole hash, or of its event among
	// other fields.
	wholeOrEvent []string
}

func (c *childReads) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *childReads) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.alone(cmd.Args())
		return next(ctx, cmd)
	}
}

func (c *childReads) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			if isChildEnd(cmd.Args()) {
				c.mu.Lock()
				c.childEnds++
				c.mu.Unlock()
			}
			c.whole(cmd.Args())
		}
		return next(ctx, cmds)
	}
}

// isChild says whether key is a child run's hash (of a step named line).
func isChild(key any) bool {
	s, _ := key.(string)
	return strings.Contains(s, ":run:") && strings.Contains(s, ":line:")
}

// isChildEnd says whether args read a child run's end: its whole hash, or its status
// and its steps' records.
func isChildEnd(args []any) bool {
	switch {
	case len(args) < 2 || !isChild(args[1]):
		return false
	case args[0] == "hgetall":
		return true
	}
	return args[0] == "hmget" && len(args) > 3 && args[2] == "status" && slices.Contains(args[3:], any("s:part"))
}

// whole notes a read of a child run's whole hash, or of its event with other fields
// (the child's own worker reads its large event alone, with HGET, once).
func (c *childReads) whole(args []any) {
	if len(args) < 2 || !isChild(args[1]) {
		return
	}
	name, _ := args[0].(string)
	if name == "hgetall" || name == "hmget" && (slices.Contains(args[2:], any("event")) || slices.Contains(args[2:], any("event_shown"))) {
		c.mu.Lock()
		c.wholeOrEvent = append(c.wholeOrEvent, name)
		c.mu.Unlock()
	}
}

func (c *childReads) alone(args []any) {
	c.whole(args)
	name, _ := args[0].(string)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case name == "hmget" && len(args) >= 4 && args[2] == "status" && args[3] == withParentField:
		c.cancelChecks++
	case name == "time",
		isChildEnd(args),
		name == "hmget" && len(args) == 3 && args[2] == "status" && isChild(args[1]):
		c.childAlone = append(c.childAlone, name)
	}
}

// TestChildItemReads: the items of a for_each that each wait for a child run read
// what they need in as few round trips as they can. After an item starts its child,
// it parks with no read of its own run to see whether it was cancelled meanwhile (the
// park is refused then, and looks; TestCancelCancelsChildren and
// TestCancelAStartingChild hold the cancel). Once its child ended, it reads the
// child's answer and Redis's clock together: one round trip per item, where Await's
// reads and the clock took three. It reads the child's status and its steps' records,
// never its whole hash nor its event (here each child's is its item, 100 KB).
func TestChildItemReads(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		reads := &childReads{}
		b.Client.AddHook(reads)
		e, _, set, _ := realKindsEngine(t, b, childItemsSrc, Options{})
		ctx := context.Background()
		wf := set.Workflow("batches")
		pad := strings.Repeat(".", 100<<10)
		id, err := e.Start(ctx, wf, event(fmt.Sprintf(`{"items": ["a%[1]s", "b%[1]s", "c%[1]s", "d%[1]s", "e%[1]s"]}`, pad)))
		if err != nil {
			t.Fatal(err)
		}
		if status, err := e.WaitEnded(ctx, wf, id); err != nil || status != RunSucceeded {
			t.Fatalf("run %s: %s %v", id, status, err)
		}
		run, err := e.Run(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, item := range run.Steps[0].Items {
			out, _ := item.Output.(map[string]any)
			res, _ := out["result"].(map[string]any)
			v, _ := res["value"].(string)
			got = append(got, strings.TrimSuffix(v, pad))
		}
		if strings.Join(got, "") != "abcde" {
			t.Errorf("the items' results: %q, want a to e in order", got)
		}
		reads.mu.Lock()
		defer reads.mu.Unlock()
		if reads.cancelChecks != 0 {
			t.Errorf("%d reads of a run's status for a cancel, want none", reads.cancelChecks)
		}
		if len(reads.childAlone) != 0 {
			t.Errorf("a child's end read one command at a time: %v", reads.childAlone)
		}
		if reads.childEnds != 5 {
			t.Errorf("%d reads of a child's end, want 5: one per item", reads.childEnds)
		}
		if len(reads.wholeOrEvent) != 0 {
			t.Errorf("a child's whole hash or event read: %v", reads.wholeOrEvent)
		}
	})
}
