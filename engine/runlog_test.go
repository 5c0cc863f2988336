package engine

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

// BenchmarkRunFinishedLine: the "run finished" line as logFinished writes it, against
// the slog.Logger.Info call it replaced, to a JSON handler on io.Discard.
//
//	go test -run XXX -bench BenchmarkRunFinishedLine -benchmem ./engine
func BenchmarkRunFinishedLine(b *testing.B) {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	const run, wf = "01m8xad5ejmrh4zweea3p74e4w", "bench_relay"
	b.Run("logFinished", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			logFinished(log, run, wf, RunSucceeded, 12, "", "")
		}
	})
	b.Run("Logger.Info", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			log.Info("run finished", "run", run, "workflow", wf, "status", RunSucceeded, "duration_ms", int64(12))
		}
	})
}

const cancelLogSrc = `
workflow "later" {
  step "delay" "wait" {
    duration = "1h"
  }
  step "probe" "after" {
    value = "after"
  }
}

workflow "w" {
  step "probe" "a" {
    value = "a"
    fail  = true
  }
  on_failure {
    step "delay" "pause" {
      duration = "30s"
    }
    step "probe" "notify" {
      value = "notify"
    }
  }
}

workflow "tree" {
  step "workflow" "call" {
    workflow = "later"
  }
}

workflow "impatient" {
  timeout = "1s"
  step "workflow" "call" {
    workflow = "later"
  }
}
`

// Every run ends with one run finished line, a run a cancel ends too: by hand, with
// its parent, or as a run that called it timed out, INFO with its status cancelled and
// who cancelled it. A run that failed and is cancelled during its on_failure steps
// stays failed: WARN, with its error and the step that failed it, as other failed
// runs have.
func TestCancelledRunsLogRunFinished(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		var logs testutil.LogBuffer
		rec := &recorder{}
		k := probeKinds(rec)
		actions.Register(k, actions.Options{Logger: quiet})
		set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(cancelLogSrc)}}, k)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		e := New(b.Client, Options{Shards: b.Shards, Kinds: k, Lease: 300 * time.Millisecond,
			Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
		e.Use(set)
		startPool(t, e, 2)
		start := func(wf string) string {
			id, err := e.Start(ctx, set.Workflow(wf), event(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
		waitFor := func(id, steps string) {
			testutil.Eventually(t, 10*time.Second, "run "+id+": "+steps, func() bool {
				r, err := e.Run(ctx, id)
				return err == nil && strings.Contains(stepsOf(r), steps)
			})
		}
		later, failed, tree, impatient := start("later"), start("w"), start("tree"), start("impatient")
		waitFor(later, "wait waiting")
		waitFor(failed, "on_failure/pause waiting")
		waitFor(tree+":call", "wait waiting")
		for _, id := range []string{later, failed, tree} {
			if _, err := e.Cancel(ctx, id); err != nil {
				t.Fatalf("cancel %s: %v", id, err)
			}
		}
		want := map[string]map[string]any{
			later:               {"level": "INFO", "status": "cancelled", "cancelled_by": "hand", "was": "running"},
			failed:              {"level": "WARN", "status": "failed", "cancelled_by": "hand", "on_failure": "cancelled", "step": "a", "err": "step a: probe failed as asked: a"},
			tree:                {"level": "INFO", "status": "cancelled", "cancelled_by": "hand"},
			tree + ":call":      {"level": "INFO", "status": "cancelled", "cancelled_by": "parent"},
			impatient:           {"level": "WARN", "status": "failed"},
			impatient + ":call": {"level": "INFO", "status": "cancelled", "cancelled_by": "parent_timeout"},
		}
		finished := func() map[string][]map[string]any {
			out := map[string][]map[string]any{}
			for _, l := range logs.Lines(`"msg":"run finished"`) {
				var line map[string]any
				if err := json.Unmarshal([]byte(l), &line); err != nil {
					t.Fatalf("%v: %s", err, l)
				}
				id, _ := line["run"].(string)
				out[id] = append(out[id], line)
			}
			return out
		}
		testutil.Eventually(t, 10*time.Second, "a run finished line for each run", func() bool {
			return len(finished()) >= len(want)
		})
		got := finished()
		for id, attrs := range want {
			lines := got[id]
			if len(lines) != 1 {
				t.Errorf("run %s: %d run finished lines, want 1: %v", id, len(lines), lines)
				continue
			}
			for k, v := range attrs {
				if lines[0][k] != v {
					t.Errorf("run %s: %s = %v, want %v: %v", id, k, lines[0][k], v, lines[0])
				}
			}
			if status := lines[0]["status"]; status == "cancelled" && lines[0]["err"] != nil {
				t.Errorf("run %s: a cancelled run's line has an err: %v", id, lines[0])
			}
		}
		if len(got) != len(want) {
			t.Errorf("run finished lines for %d runs, want %d:\n%s", len(got), len(want), logs.String())
		}
		for _, l := range append(logs.Lines(`"msg":"run cancelled"`), logs.Lines(`"msg":"run's on_failure steps cancelled`)...) {
			t.Errorf("a second line for a run's end: %s", l)
		}
	})
}
