package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

const timeoutSrc = `
workflow "slow" {
  timeout = "1s"
  step "http" "call" {
    url = "URL/slow"
    retry {
      attempts = 3
    }
  }
  on_failure {
    step "http" "page" {
      url  = "URL/page"
      json = { error = "{{ run.error }}", step = "{{ run.failed_step }}" }
    }
  }
}

workflow "later" {
  timeout = "1s"
  step "delay" "wait" {
    duration = "1h"
  }
  step "http" "after" {
    url      = "URL/after"
    on_error = "continue"
  }
  on_failure {
    step "http" "page" {
      url  = "URL/page"
      json = { error = "{{ run.error }}", step = "{{ run.failed_step }}" }
    }
  }
}

workflow "ends_later" {
  timeout = "1s"
  step "delay" "wait" {
    duration = "1h"
  }
  on_failure {
    step "http" "page" {
      url  = "URL/page"
      json = { error = "{{ run.error }}", step = "{{ run.failed_step }}" }
    }
  }
}
`

// timeoutTarget answers /slow once the caller gives up, and records the pages.
type timeoutTarget struct {
	srv       *httptest.Server
	mu        sync.Mutex
	paths     []string
	cancelled chan struct{}
}

func newTimeoutTarget(t *testing.T) *timeoutTarget {
	tg := &timeoutTarget{cancelled: make(chan struct{}, 4)}
	tg.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tg.mu.Lock()
		tg.paths = append(tg.paths, r.URL.Path)
		tg.mu.Unlock()
		if r.URL.Path == "/slow" {
			<-r.Context().Done()
			tg.cancelled <- struct{}{}
		}
	}))
	t.Cleanup(tg.srv.Close)
	return tg
}

func (tg *timeoutTarget) list() string {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return strings.Join(tg.paths, " ")
}

// A step still running when the run's timeout passes is cancelled, not retried; the run
// fails with the timeout, and its on_failure steps run past it.
func TestRunTimeoutCancelsTheRunningStep(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		tg := newTimeoutTarget(t)
		e, set := cancelEngine(t, b, strings.ReplaceAll(timeoutSrc, "URL", tg.srv.URL))
		id, err := e.Start(context.Background(), set.Workflow("slow"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitStatus(t, e, id, RunFailed)
		if r.Error != "step call: run timed out: its timeout of 1s passed" || r.FailedStep != "call" {
			t.Errorf("run %+v", r.RunSummary)
		}
		if got := stepsOf(r); got != "call failed, on_failure/page succeeded" || r.Steps[0].Attempts != 1 {
			t.Errorf("steps %s, call attempts %d", got, r.Steps[0].Attempts)
		}
		// What it sent is in its history, with the timeout that cut it.
		if reqs := r.Steps[0].Requests; len(reqs) != 1 || reqs[0].URL != tg.srv.URL+"/slow" ||
			reqs[0].Error != "run timed out: its timeout of 1s passed" {
			t.Errorf("call's requests %+v, want the one cut by the timeout", reqs)
		}
		select {
		case <-tg.cancelled:
		default:
			t.Error("the request running at the deadline was not cancelled")
		}
		if got := tg.list(); got != "/slow /page" {
			t.Errorf("calls %s", got)
		}
	})
}

// A delay counts towards the run's timeout: one that would end past the deadline fails
// there, as the step that failed the run and its dead letter, and the step after it
// never runs; on_failure runs.
func TestRunTimeoutCountsDelays(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		tg := newTimeoutTarget(t)
		e, set := cancelEngine(t, b, strings.ReplaceAll(timeoutSrc, "URL", tg.srv.URL))
		id, err := e.Start(context.Background(), set.Workflow("later"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitStatus(t, e, id, RunFailed)
		if r.Error != "step wait: run timed out: its timeout of 1s passed" || r.FailedStep != "wait" ||
			r.DeadLetter != id+":wait" {
			t.Errorf("run %+v", r.RunSummary)
		}
		if got := stepsOf(r); got != "wait failed, after cancelled, on_failure/page succeeded" {
			t.Errorf("steps %s", got)
		}
		if w := r.Steps[0]; w.Error != "run timed out: its timeout of 1s passed" {
			t.Errorf("wait's error %q", w.Error)
		}
		// It took from its start (at once) to the deadline.
		if w := r.Steps[0]; ms(w.DurationMS) < 500 || w.StartedAt == nil || r.StartedAt == nil || w.StartedAt.Sub(*r.StartedAt) > 500*time.Millisecond {
			t.Errorf("the delay the deadline cut: started %v (the run %v), in %dms; want from its start to the deadline",
				w.StartedAt, r.StartedAt, ms(w.DurationMS))
		}
		if got := tg.list(); got != "/page" {
			t.Errorf("calls %s", got)
		}
	})
}

// A delay that ends its run holds it, and the run's timeout stops it: the delay fails
// with the timeout at the deadline, and on_failure runs.
func TestRunTimeoutStopsALastDelay(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		tg := newTimeoutTarget(t)
		e, set := cancelEngine(t, b, strings.ReplaceAll(timeoutSrc, "URL", tg.srv.URL))
		id, err := e.Start(context.Background(), set.Workflow("ends_later"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitStatus(t, e, id, RunFailed)
		if r.Error != "step wait: run timed out: its timeout of 1s passed" || r.FailedStep != "wait" {
			t.Errorf("run %+v", r.RunSummary)
		}
		if got := stepsOf(r); got != "wait failed, on_failure/page succeeded" {
			t.Errorf("steps %s", got)
		}
		if w := r.Steps[0]; ms(w.DurationMS) < 500 {
			t.Errorf("the last delay the deadline cut took %dms, want from its start to the deadline", ms(w.DurationMS))
		}
		if got := tg.list(); got != "/page" {
			t.Errorf("calls %s", got)
		}
	})
}

// A run's timeout that passes while a step waits to retry fails the step with the
// attempts it made: its record keeps their requests and counts them, and its duration
// runs from its first attempt to the deadline, past the waits between its attempts.
func TestRunTimeoutDuringARetryWaitKeepsTheAttempts(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		api := newDownstream(t, http.StatusInternalServerError)
		e, set := httpEngine(t, b, strings.ReplaceAll(`
workflow "rt" {
  timeout = "2500ms"
  step "http" "call" {
    url = "URL/rt"
    retry {
      attempts = 5
      backoff  = "constant"
      initial  = "1s"
    }
  }
}`, "URL", api.srv.URL))
		id, err := e.Start(context.Background(), set.Workflow("rt"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitStatus(t, e, id, RunFailed)
		if r.Error != "step call: run timed out: its timeout of 2.5s passed" || r.DeadLetter != id+":call" {
			t.Errorf("run %+v", r.RunSummary)
		}
		call := r.Steps[0]
		made := len(api.list()) // 3, unless a slow machine fitted fewer in
		if call.Status != StatusFailed || call.Error != "run timed out: its timeout of 2.5s passed" ||
			made < 2 || call.Attempts != made {
			t.Errorf("call %s %q after %d attempts; the API got %d", call.Status, call.Error, call.Attempts, made)
		}
		if len(call.Requests) != made {
			t.Fatalf("call keeps %d requests, want one per attempt made (%d): %+v", len(call.Requests), made, call.Requests)
		}
		for i, q := range call.Requests {
			if q.Attempt != i+1 || q.Status != http.StatusInternalServerError || !strings.Contains(q.Error, "status 500") {
				t.Errorf("request %d: %+v", i+1, q)
			}
		}
		// Its attempts were a second apart at least: it took that long before the last.
		least := int64(made-1) * 1000
		if call.DurationMS == nil || *call.DurationMS < least || call.StartedAt == nil || !call.StartedAt.Before(*call.FinishedAt) {
			t.Errorf("call's duration %v (from %v to %v), want %dms at least", ms(call.DurationMS), call.StartedAt, call.FinishedAt, least)
		}
	})
}

// ms is a duration of the history, or -1 without one.
func ms(d *int64) int64 {
	if d == nil {
		return -1
	}
	return *d
}

// A wait the run's deadline cuts ends at the deadline or just past it, never before:
// the queue counts whole milliseconds, and a unit due a moment early would start an
// attempt the deadline stops at once, counted as one more attempt made.
func TestCapWaitEndsAtOrPastTheDeadline(t *testing.T) {
	r := &runState{deadline: time.Now().Add(100 * time.Millisecond)}
	got := r.capWait(&workflows.Step{Name: "call"}, time.Second)
	if left := time.Until(r.deadline); got < left || got > left+deadlineSlack+time.Millisecond {
		t.Errorf("cut to %s with %s left to the deadline", got, left)
	}
	if got := r.capWait(&workflows.Step{Name: "call"}, 10*time.Millisecond); got != 10*time.Millisecond {
		t.Errorf("a wait ending before the deadline became %s", got)
	}
	if got := r.capWait(&workflows.Step{Name: "on_failure/page"}, time.Second); got != time.Second {
		t.Errorf("an on_failure step's wait became %s", got)
	}
}
