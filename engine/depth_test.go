package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

// An output that nests past the depth of an event (the event's body one level down, as
// an http step's output holds its answer's) is read back by every reader of the run:
// a later step, another process answering a sync webhook, the run as the admin API
// shows it. One that would nest past workflows.MaxStoredDepth is not written: its step
// fails, saying why.
func TestOutputsNestAsDeepAsARunStores(t *testing.T) {
	wrap := strings.Repeat("{ a = ", workflows.MaxJSONDepth+1) + `"{{ event.body }}"` + strings.Repeat(" }", workflows.MaxJSONDepth+1)
	src := `
workflow "deep" {
  step "probe" "echo" {
    value = "{{ event.body }}"
  }
  step "probe" "again" {
    value = { value = "{{ steps.echo.value }}" }
  }
}

workflow "deeper" {
  step "probe" "wrap" {
    value = ` + wrap + `
  }
  step "probe" "never" {
    value = "x"
  }
}
`
	// As deep as a webhook takes: the outputs nest one and two levels deeper.
	body := strings.Repeat("[", workflows.MaxJSONDepth) + "7" + strings.Repeat("]", workflows.MaxJSONDepth)
	if _, err := workflows.DecodeJSON([]byte(body)); err != nil {
		t.Fatalf("the event's body is refused: %v", err)
	}
	depth := func(v any) int {
		n := 0
		for {
			switch x := v.(type) {
			case []any:
				v = x[0]
			case map[string]any:
				v = x["value"]
			default:
				return n
			}
			n++
		}
	}
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		e, set, rec := running(t, b, src, 2)
		other := New(b.Client, Options{Logger: quiet}) // reads the run from Redis only
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()

		id, err := e.Start(ctx, set.Workflow("deep"), event(body))
		if err != nil {
			t.Fatal(err)
		}
		reply, err := other.Await(ctx, set.Workflow("deep"), id)
		if err != nil || reply.Status != "succeeded" || reply.Step != "again" || depth(reply.Output) != workflows.MaxJSONDepth+2 {
			t.Fatalf("the answer of the run: %+v, %v", reply, err)
		}
		r, err := other.Run(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		// By name: a reader without the test's step kinds lists the steps by when they
		// finished, which may be the same millisecond.
		for _, s := range r.Steps {
			want := map[string]int{"echo": workflows.MaxJSONDepth + 1, "again": workflows.MaxJSONDepth + 2}[s.Name]
			if s.Status != StatusSucceeded || depth(s.Output) != want {
				t.Errorf("step %s: %s, %s, its output %d deep, want %d", s.Name, s.Status, s.Error, depth(s.Output), want)
			}
		}
		if len(r.Steps) != 2 {
			t.Errorf("steps %+v, want echo and again", r.Steps)
		}

		id, err = e.Start(ctx, set.Workflow("deeper"), event(body))
		if err != nil {
			t.Fatal(err)
		}
		r = waitRun(t, e, id)
		want := fmt.Sprintf("output cannot be recorded: it nests %d levels deep, past the %d a run stores",
			2*workflows.MaxJSONDepth+2, workflows.MaxStoredDepth)
		if s := r.Steps[0]; r.Status != RunFailed || s.Status != StatusFailed || s.Error != want || s.Output != nil {
			t.Errorf("run %s, step wrap %s: %q, output %v; want it failed: %q", r.Status, s.Status, s.Error, s.Output != nil, want)
		}
		for _, call := range rec.list() {
			if strings.HasSuffix(call, ":never") {
				t.Errorf("a step after the one that failed ran: %v", rec.list())
			}
		}
	})
}
