package engine

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

// A delay step's time is the time it held its run: from its start to when the run
// went on, though no process ran the run at its end, and a delay that ends its run
// holds it from its start to its end; the API shows it started, finished and lasting
// so.
func TestDelayShowsTheTimeItHeldTheRun(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		tg := newTarget(t, 0)
		k := workflows.NewKinds()
		client := actions.NewClient(actions.NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}))
		actions.Register(k, actions.Options{Client: client, Logger: quiet})
		set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(`
workflow "held" {
  step "delay" "pause" {
    duration = "200ms"
  }
  step "http" "after" {
    url = "` + tg.srv.URL + `/after"
  }
  step "delay" "tail" {
    duration = "300ms"
  }
}`)}}, k)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Kinds: k})
		e.Use(set)
		id, err := e.Start(context.Background(), set.Workflow("held"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		// A process runs the delay step, and stops; the next starts a second later.
		down := e.NewPool(1)
		down.Start()
		testutil.Eventually(t, 10*time.Second, "the delay step", func() bool {
			r, err := e.Run(context.Background(), id)
			return err == nil && r.Steps[0].Status != StatusPending
		})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := down.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		startPool(t, e, 1)
		r := waitRun(t, e, id)
		if r.Status != RunSucceeded {
			t.Fatalf("run %+v", r.RunSummary)
		}
		pause, after, tail := r.Steps[0], r.Steps[1], r.Steps[2]
		if pause.DurationMS == nil || *pause.DurationMS < 1000 || pause.FinishedAt == nil || pause.StartedAt == nil ||
			pause.FinishedAt.Sub(*pause.StartedAt).Milliseconds() != *pause.DurationMS || !pause.FinishedAt.Equal(*after.StartedAt) {
			t.Errorf("the delay held the run from %v to %v (%v ms), want over a second, until the step after it started at %v",
				pause.StartedAt, pause.FinishedAt, msOf(pause.DurationMS), after.StartedAt)
		}
		if tail.DurationMS == nil || *tail.DurationMS < 300 || tail.StartedAt == nil || tail.StartedAt.Before(*after.FinishedAt) ||
			!tail.FinishedAt.Equal(*r.FinishedAt) {
			t.Errorf("the last delay held the run from %v to %v (%v ms), want 300ms from the end of the step before (%v) to the run's end (%v)",
				tail.StartedAt, tail.FinishedAt, msOf(tail.DurationMS), after.FinishedAt, r.FinishedAt)
		}
	})
}

// msOf is a duration in ms as a message shows it: nil when there is none.
func msOf(d *int64) any {
	if d == nil {
		return nil
	}
	return *d
}

// A delay that holds its run when the run is cancelled never lets it go on: it shows
// cancelled, as the steps after it, taking the time from its start to the cancel, not
// succeeded and held to the run's end. So does one of the on_failure steps, when the
// run is cancelled while they run (it stays failed).
func TestDelayCutByACancelShowsCancelled(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		tg := newTarget(t, 0)
		tg.fail["/fail"] = http.StatusBadRequest
		e, set := cancelEngine(t, b, strings.ReplaceAll(`
workflow "later" {
  step "delay" "pause" {
    duration = "1h"
  }
  step "http" "after" {
    url = "URL/after"
  }
}

workflow "failing" {
  step "http" "call" {
    url = "URL/fail"
  }
  on_failure {
    step "delay" "pause" {
      duration = "1h"
    }
    step "http" "page" {
      url = "URL/page"
    }
  }
}`, "URL", tg.srv.URL))
		ctx := context.Background()
		for _, c := range []struct {
			workflow, delay, want string
			ends                  RunStatus
		}{
			{"later", "pause", "pause cancelled, after cancelled", RunCancelled},
			{"failing", "on_failure/pause", "call failed, on_failure/pause cancelled", RunFailed},
		} {
			id, err := e.Start(ctx, set.Workflow(c.workflow), event(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			testutil.Eventually(t, 10*time.Second, c.delay+" holding the run", func() bool {
				r, err := e.Run(ctx, id)
				return err == nil && strings.Contains(stepsOf(r), c.delay+" waiting")
			})
			if _, err := e.Cancel(ctx, id); err != nil {
				t.Fatal(err)
			}
			r := waitStatus(t, e, id, c.ends)
			if got := stepsOf(r); got != c.want {
				t.Errorf("%s: steps %s, want %s", c.workflow, got, c.want)
			}
			for _, s := range r.Steps {
				if s.Path != c.delay {
					continue
				}
				if s.StartedAt == nil || s.FinishedAt == nil || s.DurationMS == nil || !s.FinishedAt.Equal(*r.FinishedAt) ||
					s.FinishedAt.Sub(*s.StartedAt).Milliseconds() != *s.DurationMS || *s.DurationMS >= time.Hour.Milliseconds() {
					t.Errorf("%s: the delay ran from %v to %v (%v ms), want from its start to the cancel at %v",
						c.workflow, s.StartedAt, s.FinishedAt, msOf(s.DurationMS), r.FinishedAt)
				}
			}
		}
		if calls := tg.list(); len(calls) != 1 || calls[0].path != "/fail" {
			t.Errorf("calls %v, want /fail only", calls)
		}
	})
}

// A delay that held its own unit (the last of the on_failure steps, one in a parallel
// block) wrote its record at its end: once ended, it holds nothing, and shows
// succeeded, not waiting while the block's other delay goes on, nor cancelled when the
// run failed after it.
func TestDelaysThatHeldTheirUnitHoldNothingAfter(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		tg := newTarget(t, 0)
		tg.fail["/fail"] = http.StatusBadRequest
		e, set := cancelEngine(t, b, strings.ReplaceAll(`
workflow "failing" {
  step "http" "call" {
    url = "URL/fail"
  }
  on_failure {
    step "delay" "pause" {
      duration = "300ms"
    }
  }
}

workflow "block" {
  parallel "both" {
    step "delay" "slow" {
      duration = "3s"
    }
    step "delay" "quick" {
      duration = "200ms"
    }
  }
  step "http" "after" {
    url = "URL/after"
  }
}`, "URL", tg.srv.URL))
		ctx := context.Background()
		id, err := e.Start(ctx, set.Workflow("failing"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		if r := waitStatus(t, e, id, RunFailed); stepsOf(r) != "call failed, on_failure/pause succeeded" {
			t.Errorf("failing: steps %s, want the on_failure delay succeeded", stepsOf(r))
		}

		id, err = e.Start(ctx, set.Workflow("block"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 10*time.Second, "quick ended", func() bool {
			r, err := e.Run(ctx, id)
			return err == nil && strings.Contains(stepsOf(r), "both/quick succeeded")
		})
		r, err := e.Run(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status.Done() {
			t.Fatalf("the run ended before its 3s delay: %s", stepsOf(r))
		}
		for _, s := range r.Steps {
			if s.Path == "both/quick" && (s.Status != StatusSucceeded || s.NextAttemptAt != nil || s.FinishedAt == nil) {
				t.Errorf("the quick delay, ended, shows %s until %v", s.Status, s.NextAttemptAt)
			}
		}
	})
}

// A delay step's record says what it held, and its history reads that, not its time:
// one that holds the run shows waiting though its attempt took most of the delay, and
// one that held its own unit (the last on_failure step) shows succeeded, taking the
// time it held it, though the record it was held with kept its attempt's time. A
// record written before records said so is read from its time, as it was then.
func TestDelayRecordSaysWhatItHeld(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, _, set := meteredEngine(t, b, &recorder{}, `
workflow "later" {
  step "delay" "pause" {
    duration = "1h"
  }
  step "probe" "after" {
    value = "x"
  }
}

workflow "failing" {
  step "probe" "call" {
    value = "x"
    fail  = true
  }
  on_failure {
    step "delay" "pause" {
      duration = "1s"
    }
  }
}`, Options{})
		// rewrite edits the record in field of hash key as JSON.
		rewrite := func(key, field string, edit func(map[string]any)) {
			var rec map[string]any
			if err := json.Unmarshal([]byte(b.Client.HGet(ctx, key, field).Val()), &rec); err != nil {
				t.Fatalf("%s %s: %v", key, field, err)
			}
			edit(rec)
			data, _ := json.Marshal(rec)
			b.Client.HSet(ctx, key, field, data)
		}
		show := func(id string) string {
			r, err := e.Run(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return stepsOf(r)
		}
		p := startPool(t, e, 1)

		later, err := e.Start(ctx, set.Workflow("later"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 10*time.Second, "the delay holding its run", func() bool {
			return show(later) == "pause waiting, after pending"
		})
		run := e.q.shardFor("later").run(later)
		// Its attempt took most of the delay (a process paused, say): it holds the run.
		rewrite(run, recordPrefix+"pause", func(rec map[string]any) { rec["duration_ms"] = 45 * 60 * 1000 })
		if got := show(later); got != "pause waiting, after pending" {
			t.Errorf("a delay holding its run, its attempt slow: %s, want it waiting", got)
		}
		// As an earlier version wrote it, saying nothing of what it held: read from its time.
		rewrite(run, recordPrefix+"pause", func(rec map[string]any) { delete(rec, "held"); rec["duration_ms"] = 0 })
		if got := show(later); got != "pause waiting, after pending" {
			t.Errorf("a delay holding its run, its record an earlier version's: %s, want it waiting", got)
		}

		failing, err := e.Start(ctx, set.Workflow("failing"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 10*time.Second, "the on_failure delay holding its unit", func() bool {
			return show(failing) == "call failed, on_failure/pause waiting"
		})
		// No process takes its job while it is changed: its attempt took a millisecond,
		// which the record it settles with keeps.
		if err := p.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		job := e.q.shardFor("failing").job(unit{step: "on_failure/pause"}.jobID(failing))
		rewrite(job, "held", func(rec map[string]any) { rec["duration_ms"] = 1 })
		startPool(t, e, 1)
		r := waitStatus(t, e, failing, RunFailed)
		if got := stepsOf(r); got != "call failed, on_failure/pause succeeded" {
			t.Errorf("the last on_failure delay, ended: %s, want it succeeded", got)
		}
		// It took the time it held its unit, not its attempt's.
		if d := r.Steps[1]; d.DurationMS == nil || *d.DurationMS < 1000 {
			t.Errorf("the last on_failure delay took %v ms, want the second it held its unit", msOf(d.DurationMS))
		}
	})
}
