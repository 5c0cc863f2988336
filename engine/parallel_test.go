package engine

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
)

const parallelSrc = `
workflow "order" {
  step "http" "reserve" {
    url = "URL/reserve"
  }
  parallel "notify" {
    step "http" "slack" {
      url  = "URL/slack"
      json = { reserved = "{{ steps.reserve.body.path }}" }
    }
    step "http" "crm" {
      url = "URL/crm"
    }
    step "http" "lines" {
      for_each = "event.body.lines"
      url      = "URL/line/{{ each.key }}"
    }
  }
  step "http" "after" {
    url  = "URL/after"
    json = { slack = "{{ steps.slack.body.path }}", crm = "{{ steps.crm.body.path }}", lines = "{{ len(steps.lines) }}" }
  }
}
`

// The steps of a parallel block start together, and the step after it starts when all
// have finished and reads each of them by name.
func TestParallelStepsStartTogether(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		tg := newTarget(t, 30*time.Millisecond)
		e, set := httpEngine(t, b, strings.ReplaceAll(parallelSrc, "URL", tg.srv.URL))
		id, err := e.Start(context.Background(), set.Workflow("order"), event(`{"lines": [1, 2]}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != RunSucceeded {
			t.Fatalf("run %+v", r.RunSummary)
		}
		calls := tg.list()
		if len(calls) != 6 || calls[0].path != "/reserve" || calls[5].path != "/after" {
			t.Fatalf("calls %+v: want reserve, the block's four, then after", calls)
		}
		tg.mu.Lock()
		peak := tg.peak
		tg.mu.Unlock()
		if peak < 3 {
			t.Errorf("at most %d calls in flight: the block's steps did not run together", peak)
		}
		if body := afterBody(t, tg); body["slack"] != "/slack" || body["crm"] != "/crm" || body["lines"] != float64(2) {
			t.Errorf("after read %v", body)
		}
		var paths []string
		for _, s := range r.Steps {
			paths = append(paths, s.Path+"="+string(s.Status))
		}
		want := "[reserve=succeeded notify=succeeded notify/slack=succeeded notify/crm=succeeded notify/lines=succeeded after=succeeded]"
		if got := "[" + strings.Join(paths, " ") + "]"; got != want {
			t.Errorf("steps %v, want %s", paths, want)
		}
		if keys := tg.list(); keys[1].key == keys[2].key {
			t.Errorf("two steps of the block share an Idempotency-Key: %q", keys[1].key)
		}
	})
}

// A failed step fails the run once its siblings have settled; a replay runs only it.
func TestParallelFailureWaitsForSiblings(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		tg := newTarget(t, 20*time.Millisecond)
		tg.failPath("/crm", http.StatusBadRequest)
		e, set := httpEngine(t, b, strings.ReplaceAll(parallelSrc, "URL", tg.srv.URL))
		id, err := e.Start(context.Background(), set.Workflow("order"), event(`{"lines": [1, 2, 3]}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != RunFailed || !strings.HasPrefix(r.Error, "step crm: ") {
			t.Fatalf("run %+v", r.RunSummary)
		}
		status := map[string]Status{}
		for _, s := range r.Steps {
			status[s.Path] = s.Status
		}
		if status["notify/slack"] != StatusSucceeded || status["notify/lines"] != StatusSucceeded ||
			status["notify/crm"] != StatusFailed || status["notify"] != StatusFailed || status["after"] != StatusPending {
			t.Fatalf("steps %v", status)
		}
		tg.failPath("/crm", 0)
		if err := e.Replay(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		if r := waitRun(t, e, id); r.Status != RunSucceeded {
			t.Fatalf("replayed run %+v", r.RunSummary)
		}
		got := tg.paths()
		if got["/crm"] != 2 || got["/slack"] != 1 || got["/line/0"] != 1 || got["/reserve"] != 1 || got["/after"] != 1 {
			t.Errorf("calls %v: the replay should run crm again and nothing else of the block", got)
		}
	})
}

const delaySrc = `
workflow "hold" {
  parallel "both" {
    step "delay" "pause" {
      duration = "300ms"
    }
    step "http" "fast" {
      url = "URL/fast"
    }
  }
  step "delay" "each_pause" {
    for_each = "event.body.xs"
    duration = "{{ each.value }}ms"
  }
  step "http" "after" {
    url = "URL/after"
  }
}
`

// A delay in a parallel block or a for_each step holds its own unit: the block waits
// for it, and the step after a for_each waits for its longest item.
func TestDelayInsideParallelAndForEach(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		tg := newTarget(t, 0)
		e, set := httpEngine(t, b, strings.ReplaceAll(delaySrc, "URL", tg.srv.URL))
		start := time.Now()
		id, err := e.Start(context.Background(), set.Workflow("hold"), event(`{"xs": [50, 400, 100]}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != RunSucceeded {
			t.Fatalf("run %+v", r.RunSummary)
		}
		// The after step cannot start before 300ms (the block) + 400ms (the longest item).
		var afterAt time.Time
		for _, s := range r.Steps {
			if s.Name == "after" {
				afterAt = *s.FinishedAt
			}
		}
		if took := afterAt.Sub(start); took < 700*time.Millisecond {
			t.Errorf("the step after finished %s after the start: a delay did not hold its unit", took)
		}
		for _, s := range r.Steps {
			if s.Status != StatusSucceeded {
				t.Errorf("%s: %s", s.Path, s.Status)
			}
		}
	})
}
