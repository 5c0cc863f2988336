package engine

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

const waitSrc = `
workflow "refund" {
  step "probe" "ask" {
    value = "approve at {{ resume_url('approval') }}"
  }
  step "wait" "approval" {
    timeout = "1h"
  }
  step "probe" "after" {
    value = "{{ steps.approval.body.approved }} by {{ steps.approval.headers['x-user'] }} {{ steps.approval.query.via }} {{ steps.approval.timed_out }}"
  }
}

workflow "paced" {
  step "probe" "ask" {
    value = "approve at {{ resume_url('approval') }}"
  }
  step "delay" "pause" {
    duration = "1h"
  }
  step "wait" "approval" {
    timeout = "2h"
  }
}

workflow "quick" {
  step "probe" "only" {
    value = "done"
  }
}

workflow "expires" {
  step "wait" "approval" {
    timeout    = "1s"
    on_timeout = "continue"
  }
  step "probe" "after" {
    value = "timed out: {{ steps.approval.timed_out }}"
  }
}

workflow "keyed" {
  step "wait" "approval" {
    timeout = "1h"
  }
  step "probe" "after" {
    value = "{{ steps.approval.body.password }} {{ steps.approval.query.token }} {{ steps.approval.body.note }}"
  }
  step "delay" "pause" {
    duration = "1s"
  }
  step "probe" "later" {
    value = "body: {{ steps.approval.body }} query: {{ steps.approval.query }}"
  }
}

workflow "strict" {
  step "wait" "approval" {
    timeout = "1s"
  }
  step "probe" "after" {
    value = "never"
  }
}
`

// waitEngine runs waitSrc with probe steps and the real kinds on b, with one worker:
// a waiting run must not hold it.
func waitEngine(t *testing.T, b *redistest.Backend) (*Engine, *Pool, *workflows.Set, *recorder) {
	t.Helper()
	return realKindsEngine(t, b, waitSrc, Options{Shards: b.Shards, ResumeBase: "https://hooks.example.com/resume/"})
}

// resumeRequest is a resume as the resume URL's POST makes it.
func resumeRequest(t *testing.T, body string) *workflows.Resume {
	t.Helper()
	h := http.Header{"X-User": {"ada"}, "Authorization": {"Bearer s3cret"}}
	res, err := workflows.NewResume("application/json", []byte(body), h, map[string][]string{"via": {"slack"}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// tokenOf reads the token of the resume URL the ask step rendered.
func tokenOf(t *testing.T, r *Run) string {
	t.Helper()
	v, _ := r.Steps[0].Output.(map[string]any)["value"].(string)
	url := strings.TrimPrefix(v, "approve at ")
	token, ok := strings.CutPrefix(url, "https://hooks.example.com/resume/")
	if !ok || token == "" {
		t.Fatalf("resume_url gave %q", url)
	}
	return token
}

// A run parks at its wait step, shown waiting and holding no worker; a POST to its
// resume URL resumes it with the body, headers (credentials redacted) and query; a
// second is refused.
func TestWaitResumed(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, _, set, rec := waitEngine(t, b)
		id, err := e.Start(ctx, set.Workflow("refund"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitStatus(t, e, id, RunWaiting)
		seenWaiting := time.Now()
		if r.Steps[1].Status != StatusWaiting || r.Steps[1].NextAttemptAt == nil ||
			time.Until(*r.Steps[1].NextAttemptAt) < 59*time.Minute {
			t.Errorf("the wait step: %+v", r.Steps[1])
		}
		// Its duration is the wait: it has none until the wait ends, only its start.
		if w := r.Steps[1]; w.StartedAt == nil || w.StartedAt.Before(*r.Steps[0].FinishedAt) || w.FinishedAt != nil || w.DurationMS != nil {
			t.Errorf("the waiting wait step started %v (the step before it finished %v), finished %v, took %v ms; want started and not finished",
				w.StartedAt, r.Steps[0].FinishedAt, w.FinishedAt, msOf(w.DurationMS))
		}
		page, err := e.Runs(ctx, RunFilter{Status: string(RunWaiting)})
		if err != nil || len(page.Runs) != 1 || page.Runs[0].ID != id {
			t.Errorf("runs waiting: %+v %v", page, err)
		}
		// The one worker is free: another run goes through meanwhile.
		other, _ := e.Start(ctx, set.Workflow("quick"), event(`{}`))
		if o := waitRun(t, e, other); o.Status != RunSucceeded {
			t.Fatalf("a run beside the waiting one: %s", o.Status)
		}
		token := tokenOf(t, r)
		if _, err := e.Wait(ctx, token); err != nil {
			t.Fatalf("the wait of a good token: %v", err)
		}
		// A token not made with the key is told apart from one whose wait is over, and
		// is not found all the same.
		payload, _, _ := strings.Cut(token, ".")
		for _, bad := range []string{payload + ".AAAAAAAAAAAAAAAAAAAAAA", payload + ".[redacted]", "guess"} {
			if _, err := e.Wait(ctx, bad); !errors.Is(err, ErrBadToken) || !errors.Is(err, ErrNotFound) {
				t.Errorf("the wait of %q: %v, want ErrBadToken, an ErrNotFound", bad, err)
			}
			if _, err := e.ResumeToken(ctx, bad, resumeRequest(t, `{}`)); !errors.Is(err, ErrBadToken) {
				t.Errorf("resuming %q: %v, want ErrBadToken", bad, err)
			}
		}
		got, err := e.ResumeToken(ctx, token, resumeRequest(t, `{"approved": true}`))
		if err != nil || !got.Waiting || got.RunID != id || got.Step != "approval" {
			t.Fatalf("resume: %+v %v", got, err)
		}
		if _, err := e.ResumeToken(ctx, token, resumeRequest(t, `{"approved": false}`)); !errors.Is(err, ErrResumed) {
			t.Errorf("a second resume: %v, want ErrResumed", err)
		}
		r = waitRun(t, e, id)
		if r.Status != RunSucceeded {
			t.Fatalf("run %s: %s", r.Status, stepsOf(r))
		}
		if v := r.Steps[2].Output.(map[string]any)["value"]; v != "true by ada slack false" {
			t.Errorf("after saw %q", v)
		}
		// Its duration is the wait: from when it parked, before it was seen waiting. A
		// record's times are whole milliseconds, the park's is Redis's, and its start
		// is its end less the wait as measured a moment before the end was written:
		// within 100ms is the wait.
		seen := seenWaiting.Truncate(time.Millisecond)
		if w := r.Steps[1]; w.StartedAt == nil || w.StartedAt.After(seen.Add(100*time.Millisecond)) || w.FinishedAt.Before(seen) {
			t.Errorf("the wait step started %v and finished %v, want before and after %v, when it was seen waiting",
				w.StartedAt, w.FinishedAt, seenWaiting)
		}
		if n := r.Steps[1].Attempts; n != 1 {
			t.Errorf("the wait step counts %d attempts: parking and its wake-up are one", n)
		}
		out := r.Steps[1].Output.(map[string]any)
		if h := out["headers"].(map[string]any); h["authorization"] != workflows.Redacted {
			t.Errorf("headers kept %v", h)
		}
		if _, err := e.ResumeToken(ctx, token, resumeRequest(t, `{}`)); !errors.Is(err, ErrResumed) {
			t.Errorf("a resume after the run ended: %v, want ErrResumed", err)
		}
		if _, err := e.Wait(ctx, token); !errors.Is(err, ErrResumed) {
			t.Errorf("the wait of a used token: %v", err)
		}
		if calls := rec.list(); len(calls) != 3 {
			t.Errorf("calls %v", calls)
		}
	})
}

// What resumed a wait step is shown with its body fields and query parameters named as
// credentials [redacted], as an event is, and their values are hidden where later
// steps write them, by the worker that goes on from the wait and by one that takes the
// run up after a delay; the steps read them as they came.
func TestWaitResumeCredentialsHidden(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, _, set, _ := waitEngine(t, b)
		id, err := e.Start(ctx, set.Workflow("keyed"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		waitStatus(t, e, id, RunWaiting)
		res, err := workflows.NewResume("application/json", []byte(`{"password": "hunter2hunter2", "note": "looks fine"}`),
			http.Header{}, map[string][]string{"token": {"q-token-123456"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Resume(ctx, id, "approval", res); err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != RunSucceeded {
			t.Fatalf("run %s: %s", r.Status, stepsOf(r))
		}
		out := r.Steps[0].Output.(map[string]any)
		if body := out["body"].(map[string]any); body["password"] != workflows.Redacted || body["note"] != "looks fine" {
			t.Errorf("the wait's body shown as %v", body)
		}
		if q := out["query"].(map[string]any); q["token"] != workflows.Redacted {
			t.Errorf("the wait's query shown as %v", q)
		}
		if v := r.Steps[1].Output.(map[string]any)["value"]; v != "[redacted] [redacted] looks fine" {
			t.Errorf("the step after the wait wrote %q", v)
		}
		v, _ := r.Steps[3].Output.(map[string]any)["value"].(string)
		if strings.Contains(v, "hunter2") || strings.Contains(v, "q-token") || !strings.Contains(v, "looks fine") ||
			!strings.Contains(v, `query: {"token":"[redacted]"}`) {
			t.Errorf("the step after the delay wrote %q", v)
		}
	})
}

// A resume that comes before the run reaches its wait is kept: the run goes past the
// wait without parking.
func TestWaitResumedBeforeReached(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, _, set, rec := waitEngine(t, b)
		rec.entered, rec.hold = make(chan struct{}, 1), make(chan struct{})
		id, err := e.Start(ctx, set.Workflow("refund"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		<-rec.entered // the ask step runs: the run has not reached the wait
		got, err := e.Resume(ctx, id, "approval", resumeRequest(t, `{"approved": "early"}`))
		if err != nil || got.Waiting {
			t.Fatalf("resume: %+v %v", got, err)
		}
		if _, err := e.Resume(ctx, id, "approval", resumeRequest(t, `{}`)); !errors.Is(err, ErrResumed) {
			t.Errorf("a second resume: %v, want ErrResumed", err)
		}
		if _, err := e.Resume(ctx, id, "ask", resumeRequest(t, `{}`)); !errors.Is(err, ErrNotWaiting) {
			t.Errorf("a resume of a probe step: %v, want ErrNotWaiting", err)
		}
		rec.entered = nil
		close(rec.hold)
		r := waitRun(t, e, id)
		if r.Status != RunSucceeded {
			t.Fatalf("run %s: %s", r.Status, stepsOf(r))
		}
		if v := r.Steps[2].Output.(map[string]any)["value"]; v != "early by ada slack false" {
			t.Errorf("after saw %q", v)
		}
	})
}

// A resume that comes while the run waits out a delay before its wait step is kept for
// the wait, and leaves the delay as it was: the wait's job stays due when the delay
// ends.
func TestWaitResumedDuringADelay(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, _, set, _ := waitEngine(t, b)
		id, err := e.Start(ctx, set.Workflow("paced"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		var r *Run
		testutil.Eventually(t, 10*time.Second, "the delay step of "+id, func() bool {
			if r, err = e.Run(ctx, id); err != nil {
				t.Fatal(err)
			}
			return len(r.Steps) > 1 && r.Steps[1].Status == StatusWaiting
		})
		sh, job := e.q.shardFor("paced"), id+":approval"
		due, err := b.Client.ZScore(ctx, sh.ready("paced"), job).Result()
		if err != nil || time.Until(time.UnixMilli(int64(due))) < 59*time.Minute {
			t.Fatalf("the wait's job is due at %v (%v), want the delay's end", time.UnixMilli(int64(due)), err)
		}
		got, err := e.Resume(ctx, id, "approval", resumeRequest(t, `{"approved": true}`))
		if err != nil || got.Waiting {
			t.Fatalf("resume: %+v %v", got, err)
		}
		if after, err := b.Client.ZScore(ctx, sh.ready("paced"), job).Result(); err != nil || after != due {
			t.Errorf("the resume moved the wait's job from %v to %v (%v): it cut the delay short",
				time.UnixMilli(int64(due)), time.UnixMilli(int64(after)), err)
		}
		if _, err := e.Resume(ctx, id, "approval", resumeRequest(t, `{}`)); !errors.Is(err, ErrResumed) {
			t.Errorf("a second resume: %v, want ErrResumed", err)
		}
		if r, err = e.Run(ctx, id); err != nil || stepsOf(r) != "ask succeeded, pause waiting, approval pending" {
			t.Errorf("after the resume: %s %v", stepsOf(r), err)
		}
	})
}

// A token not made by the engine, or naming a run that does not exist, resumes
// nothing.
func TestWaitUnknownToken(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, _, _, _ := waitEngine(t, b)
		url, err := e.ResumeURL(ctx, "refund", "no-such-run", "approval")
		if err != nil {
			t.Fatal(err)
		}
		token := strings.TrimPrefix(url, "https://hooks.example.com/resume/")
		for _, tok := range []string{token, "garbage", token[:len(token)-2] + "AA", strings.Replace(token, ".", "x.", 1)} {
			if _, err := e.ResumeToken(ctx, tok, resumeRequest(t, `{}`)); !errors.Is(err, ErrNotFound) {
				t.Errorf("resume with %q: %v, want ErrNotFound", tok, err)
			}
			if _, err := e.Wait(ctx, tok); !errors.Is(err, ErrNotFound) {
				t.Errorf("wait of %q: %v, want ErrNotFound", tok, err)
			}
		}
		if _, err := e.Resume(ctx, "no-such-run", "approval", resumeRequest(t, `{}`)); !errors.Is(err, ErrNotFound) {
			t.Errorf("resume of a run that does not exist: %v", err)
		}
	})
}

// A wait whose timeout passes goes on with timed_out = true (on_timeout = "continue")
// or fails its run; a resume after it is refused as expired.
func TestWaitTimeout(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, _, set, _ := waitEngine(t, b)
		cont, err := e.Start(ctx, set.Workflow("expires"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		strict, err := e.Start(ctx, set.Workflow("strict"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, cont)
		if r.Status != RunSucceeded || r.Steps[1].Output.(map[string]any)["value"] != "timed out: true" {
			t.Errorf("continue: %s %s %v", r.Status, stepsOf(r), r.Steps[1].Output)
		}
		if d := r.Steps[0].DurationMS; d == nil || *d < 1000 {
			t.Errorf("the wait step lasted %v ms: it waited its timeout, 1s", d)
		}
		if _, err := e.Resume(ctx, cont, "approval", resumeRequest(t, `{}`)); !errors.Is(err, ErrNotFound) {
			t.Errorf("a resume after the timeout: %v, want ErrNotFound", err)
		}
		r = waitRun(t, e, strict)
		if r.Status != RunFailed || r.Steps[0].Status != StatusFailed || !strings.Contains(r.Steps[0].Error, "timed out after 1s") ||
			r.Steps[1].Status != StatusCancelled {
			t.Errorf("fail: %s %s %q", r.Status, stepsOf(r), r.Steps[0].Error)
		}
		_, err = e.Resume(ctx, strict, "approval", resumeRequest(t, `{}`))
		var over *WaitOverError
		if !errors.Is(err, ErrNotFound) || !errors.As(err, &over) || !over.TimedOut || over.At.IsZero() ||
			!strings.HasPrefix(err.Error(), "the wait of step approval timed out at ") {
			t.Errorf("a resume after the timeout: %v, want a WaitOverError saying it timed out, and when", err)
		}
	})
}

// A waiting run can be cancelled; its resume URL then resumes nothing.
func TestWaitCancelled(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, _, set, _ := waitEngine(t, b)
		id, _ := e.Start(ctx, set.Workflow("refund"), event(`{}`))
		r := waitStatus(t, e, id, RunWaiting)
		c, err := e.Cancel(ctx, id)
		if err != nil || c.Was != RunWaiting {
			t.Fatalf("cancel: %+v %v", c, err)
		}
		if _, err := e.ResumeToken(ctx, tokenOf(t, r), resumeRequest(t, `{}`)); !errors.Is(err, ErrFinished) {
			t.Errorf("resume of a cancelled run: %v, want ErrFinished", err)
		}
	})
}

// A waiting run survives a restart of hookflow, and one of Redis (with its AOF): a
// new engine on the same Redis resumes it with the URL the first one gave.
func TestWaitSurvivesRestarts(t *testing.T) {
	b := redistest.Durable(t)
	ctx := context.Background()
	e, pool, set, _ := waitEngine(t, b)
	id, err := e.Start(ctx, set.Workflow("refund"), event(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	token := tokenOf(t, waitStatus(t, e, id, RunWaiting))
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	b.Restart()
	e2, _, _, _ := waitEngine(t, b)
	waitStatus(t, e2, id, RunWaiting)
	if _, err := e2.ResumeToken(ctx, token, resumeRequest(t, `{"approved": "after restarts"}`)); err != nil {
		t.Fatal(err)
	}
	r := waitRun(t, e2, id)
	if r.Status != RunSucceeded || r.Steps[2].Output.(map[string]any)["value"] != "after restarts by ada slack false" {
		t.Errorf("run %s: %s %v", r.Status, stepsOf(r), r.Steps[2].Output)
	}
}

// A run whose wait timed out and failed it waits again when replayed, and its resume
// URL then resumes it.
func TestWaitReplayedAfterTimeout(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, _, set, _ := waitEngine(t, b)
		id, _ := e.Start(ctx, set.Workflow("strict"), event(`{}`))
		if r := waitRun(t, e, id); r.Status != RunFailed {
			t.Fatalf("run %s", r.Status)
		}
		if _, err := e.Replay(ctx, id, ReplayOptions{}); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, e, id, RunWaiting)
		url, err := e.ResumeURL(ctx, "strict", id, "approval")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.ResumeToken(ctx, strings.TrimPrefix(url, "https://hooks.example.com/resume/"), resumeRequest(t, `{}`)); err != nil {
			t.Fatalf("resume after the replay: %v", err)
		}
		if r := waitRun(t, e, id); r.Status != RunSucceeded {
			t.Errorf("replayed run %s: %s", r.Status, stepsOf(r))
		}
	})
}

// A wait step in a parallel block waits while the block's other steps run; what
// follows the block reads what resumed it.
func TestWaitInParallel(t *testing.T) {
	// Jobs due at once are leased in the order of their ids: with one worker, the wait
	// parks before its sibling settles ("approval" < "other"), or after ("approval" >
	// "first").
	for _, other := range []string{"other", "first"} {
		t.Run("sibling "+other, func(t *testing.T) { waitInParallel(t, other) })
	}
}

func waitInParallel(t *testing.T, other string) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, _, set, rec := realKindsEngine(t, b, `
workflow "both" {
  parallel "meanwhile" {
    step "wait" "approval" {
      timeout = "1h"
    }
    step "probe" "`+other+`" {
      value = "done"
    }
  }
  step "probe" "after" {
    value = "{{ steps.approval.body.ok }} {{ steps.`+other+`.value }}"
  }
}
`, Options{})
		id, _ := e.Start(ctx, set.Workflow("both"), event(`{}`))
		// Once the other step has settled, the run is waiting: all it has left is the
		// wait, whichever of the two got there first.
		testutil.Eventually(t, 10*time.Second, "the other step done, the wait and the run waiting", func() bool {
			r, err := e.Run(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return len(rec.list()) == 1 && r.Steps[1].Status == StatusWaiting && r.Status == RunWaiting
		})
		if _, err := e.Resume(ctx, id, "approval", resumeRequest(t, `{"ok": "yes"}`)); err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != RunSucceeded || r.Steps[3].Output.(map[string]any)["value"] != "yes done" {
			t.Errorf("run %s: %s %v", r.Status, stepsOf(r), r.Steps[3].Output)
		}
	})
}

// The run's own timeout counts a wait: past it, the run fails at the wait and its
// on_failure steps run.
func TestWaitPastTheRunsTimeout(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, _, set, rec := realKindsEngine(t, b, `
workflow "deadline" {
  timeout = "1s"
  step "wait" "approval" {
    timeout = "1h"
  }
  on_failure {
    step "probe" "page" {
      value = "{{ run.failed_step }}"
    }
  }
}
`, Options{})
		id, _ := e.Start(ctx, set.Workflow("deadline"), event(`{}`))
		r := waitRun(t, e, id)
		if r.Status != RunFailed || r.FailedStep != "approval" || !strings.Contains(r.Error, "timed out") {
			t.Fatalf("run %s %q %q: %s", r.Status, r.FailedStep, r.Error, stepsOf(r))
		}
		if calls := rec.list(); len(calls) != 1 {
			t.Errorf("on_failure calls %v", calls)
		}
		// Its duration is the wait, from when the run reached it (at once) to the deadline.
		if a := r.Steps[0]; a.Path != "approval" || ms(a.DurationMS) < 500 {
			t.Errorf("%s waited %dms, want most of the run's timeout of 1s", a.Path, ms(a.DurationMS))
		}
	})
}

// A wait in on_failure, reached once the run's timeout has passed, parks until its own
// timeout: the run's passed deadline does not make it due again at once, over and over.
func TestOnFailureWaitPastTheRunsTimeout(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, _, set, _ := realKindsEngine(t, b, `
workflow "deadline" {
  timeout = "500ms"
  step "wait" "approval" {
    timeout = "1h"
  }
  on_failure {
    step "wait" "ack" {
      timeout = "1h"
    }
  }
}
`, Options{})
		id, _ := e.Start(ctx, set.Workflow("deadline"), event(`{}`))
		var ack StepRun
		testutil.Eventually(t, 10*time.Second, "the on_failure wait parked", func() bool {
			r, err := e.Run(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range r.Steps {
				if s.Path == "on_failure/ack" {
					ack = s
				}
			}
			return ack.Status == StatusWaiting
		})
		// When it parked: its record's end (the step, waiting, shows none).
		parkedAt := func() int64 {
			fields, err := e.q.runFields(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := readRecord(fields)
			if err != nil || rec.steps["on_failure/ack"] == nil {
				t.Fatalf("the on_failure wait's record: %v", err)
			}
			return rec.steps["on_failure/ack"].Finished
		}
		parked := parkedAt()
		time.Sleep(time.Second) // long enough for a job due at once to be leased many times
		r, err := e.Run(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != RunWaiting {
			t.Errorf("the run is %s while its on_failure wait waits, want waiting", r.Status)
		}
		for _, s := range r.Steps {
			// Parking again would write its record again, at a later time.
			if s.Path == "on_failure/ack" && (s.Status != StatusWaiting || s.Attempts != 1 || parkedAt() != parked) {
				t.Errorf("the on_failure wait is %s, %d attempts, parked at %d then %d: it should park once",
					s.Status, s.Attempts, parked, parkedAt())
			}
		}
	})
}

// An on_failure block's steps may give the URL of its own wait step, and a resume by
// the step's name, as written, finds it.
func TestOnFailureWaitResumedByItsName(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, _, set, _ := realKindsEngine(t, b, `
workflow "page" {
  step "probe" "bad" {
    value = "x"
    fail  = true
  }
  on_failure {
    step "probe" "link" {
      value = "{{ resume_url('ack') }}"
    }
    step "wait" "ack" {
      timeout = "1h"
    }
  }
}
`, Options{})
		id, _ := e.Start(ctx, set.Workflow("page"), event(`{}`))
		var link string
		testutil.Eventually(t, 10*time.Second, "the on_failure wait parked", func() bool {
			r, err := e.Run(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			parked := false
			for _, s := range r.Steps {
				switch s.Path {
				case "on_failure/link":
					if out, ok := s.Output.(map[string]any); ok {
						link, _ = out["value"].(string)
					}
				case "on_failure/ack":
					parked = s.Status == StatusWaiting
				}
			}
			return parked
		})
		_, token, ok := strings.Cut(link, "/resume/")
		if !ok || token == "" {
			t.Fatalf("resume_url('ack') gave %q", link)
		}
		w, err := e.Wait(ctx, token)
		if err != nil || w.Step != "on_failure/ack" {
			t.Fatalf("the link's wait: %+v %v", w, err)
		}
		if got, err := e.Resume(ctx, id, "ack", resumeRequest(t, `{}`)); err != nil || !got.Waiting || got.Step != "on_failure/ack" {
			t.Fatalf("resume by the step's name: %+v %v", got, err)
		}
		if r := waitRun(t, e, id); r.Status != RunFailed || !strings.Contains(stepsOf(r), "on_failure/ack succeeded") {
			t.Errorf("run %s: %s", r.Status, stepsOf(r))
		}
	})
}

// A wait step's record written before records were marked as a resume's is shown as
// one that is: its body's and query's credentials [redacted].
func TestWaitRecordWithoutMarkShownRedacted(t *testing.T) {
	rec := newRecord(StatusSucceeded, 1, map[string]any{"body": map[string]any{"password": "hunter2hunter2", "note": "ok"},
		"headers": map[string]any{}, "query": map[string]any{"token": "q-token-123456"}, "timed_out": false}, nil)
	out := rec.stepView(&workflows.Step{Name: "approval", Kind: "wait"}, "approval").Output.(map[string]any)
	if body := out["body"].(map[string]any); body["password"] != workflows.Redacted || body["note"] != "ok" {
		t.Errorf("body shown as %v", body)
	}
	if q := out["query"].(map[string]any); q["token"] != workflows.Redacted {
		t.Errorf("query shown as %v", q)
	}
}

// A resume that comes once the run's timeout has passed, before a worker has failed
// the run for it (none runs here), is refused as one after the run ended: the run
// fails at its deadline. Its replay's deadline counts from the replay, and a resume
// then is taken.
func TestWaitResumePastTheRunsDeadline(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		rec := &recorder{}
		k := probeKinds(rec)
		actions.Register(k, actions.Options{Logger: quiet})
		set := loadSetWith(t, k, `
workflow "deadline" {
  timeout = "1h"
  step "wait" "w" {
    timeout = "2h"
  }
  step "probe" "after" {
    value = "{{ steps.w.body.ok }}"
  }
}
`)
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Kinds: k, ResumeBase: "https://hooks.example.com/resume/"})
		e.Use(set)
		late, err := e.Start(ctx, set.Workflow("deadline"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		inTime, err := e.Start(ctx, set.Workflow("deadline"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		// The late run was created two hours ago: its deadline has passed.
		created := time.Now().Add(-2 * time.Hour).UnixMilli()
		if err := b.Client.HSet(ctx, e.q.shardFor("deadline").run(late), "created", created).Err(); err != nil {
			t.Fatal(err)
		}
		url, err := e.ResumeURL(ctx, "deadline", late, "w")
		if err != nil {
			t.Fatal(err)
		}
		token := strings.TrimPrefix(url, "https://hooks.example.com/resume/")
		if _, err := e.Wait(ctx, token); !errors.Is(err, ErrFinished) {
			t.Errorf("the page of the late run's URL: %v, want ErrFinished", err)
		}
		if _, err := e.ResumeToken(ctx, token, resumeRequest(t, `{"ok": "url"}`)); !errors.Is(err, ErrFinished) {
			t.Errorf("a resume of the late run at its URL: %v, want ErrFinished", err)
		}
		if _, err := e.Resume(ctx, late, "w", resumeRequest(t, `{"ok": "api"}`)); !errors.Is(err, ErrFinished) ||
			!strings.Contains(err.Error(), "its timeout passed") {
			t.Errorf("a resume of the late run by the API: %v, want ErrFinished", err)
		}
		if _, err := e.Resume(ctx, inTime, "w", resumeRequest(t, `{"ok": "yes"}`)); err != nil {
			t.Fatalf("a resume of the run in time: %v", err)
		}

		startPool(t, e, 1)
		if r := waitRun(t, e, late); r.Status != RunFailed || r.Error != "step w: run timed out: its timeout of 1h passed" {
			t.Errorf("the late run: %+v: %s", r.RunSummary, stepsOf(r))
		}
		if r := waitRun(t, e, inTime); r.Status != RunSucceeded {
			t.Errorf("the run resumed in time: %+v: %s", r.RunSummary, stepsOf(r))
		}

		// Replayed, the late run has an hour from now: it waits again, and a resume is
		// taken.
		if _, err := e.Replay(ctx, late, ReplayOptions{}); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 10*time.Second, "the replayed run waiting", func() bool {
			r, err := e.Run(ctx, late)
			return err == nil && r.Status == RunWaiting
		})
		if _, err := e.ResumeToken(ctx, token, resumeRequest(t, `{"ok": "again"}`)); err != nil {
			t.Fatalf("a resume of the replayed run: %v", err)
		}
		if r := waitRun(t, e, late); r.Status != RunSucceeded || r.Steps[1].Output.(map[string]any)["value"] != "again" {
			t.Errorf("the replayed run: %+v: %s", r.RunSummary, stepsOf(r))
		}
	})
}

// A resume taken before the run's deadline, of a wait the run had reached, is
// honoured though no worker reads it before the deadline has passed: the wait
// succeeds with it, and the step after it fails for the deadline.
func TestWaitResumedInTimeSeenPastTheDeadline(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		rec := &recorder{}
		k := probeKinds(rec)
		actions.Register(k, actions.Options{Logger: quiet})
		set := loadSetWith(t, k, `
workflow "deadline" {
  timeout = "1h"
  step "wait" "w" {
    timeout = "2h"
  }
  step "probe" "after" {
    value = "{{ steps.w.body.ok }}"
  }
}
`)
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Kinds: k})
		e.Use(set)
		p := startPool(t, e, 1)
		id, err := e.Start(ctx, set.Workflow("deadline"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 10*time.Second, "the run waiting", func() bool {
			r, err := e.Run(ctx, id)
			return err == nil && r.Status == RunWaiting
		})
		if err := p.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Resume(ctx, id, "w", resumeRequest(t, `{"ok": "yes"}`)); err != nil {
			t.Fatal(err)
		}
		// Its deadline passes before a worker leases the job the resume made due.
		created := time.Now().Add(-2 * time.Hour).UnixMilli()
		if err := b.Client.HSet(ctx, e.q.shardFor("deadline").run(id), "created", created).Err(); err != nil {
			t.Fatal(err)
		}
		startPool(t, e, 1)
		r := waitRun(t, e, id)
		if r.Status != RunFailed || r.Error != "step after: run timed out: its timeout of 1h passed" {
			t.Errorf("run %+v: %s", r.RunSummary, stepsOf(r))
		}
		if got := stepsOf(r); got != "w succeeded, after failed" {
			t.Errorf("steps %s, want the wait resumed and the step after it failed", got)
		}
	})
}

// Whether the run's deadline ended a wait is decided by Redis's clock, the one a resume
// is refused by past the deadline, whatever the worker's: a worker whose clock runs
// ahead of Redis's, past the deadline, goes on with a resume taken before it (one that
// came before the run reached the wait), and parks a wait until Redis's deadline,
// where a resume is taken.
func TestWaitDecidesTheRunsDeadlineByRedisClock(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		rec := &recorder{}
		k := probeKinds(rec)
		actions.Register(k, actions.Options{Logger: quiet})
		set := loadSetWith(t, k, `
workflow "deadline" {
  timeout = "1h"
  step "wait" "w" {
    timeout = "2h"
  }
}
`)
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Kinds: k})
		e.now = func() time.Time { return time.Now().Add(90 * time.Minute) } // past the deadline
		e.Use(set)
		early, err := e.Start(ctx, set.Workflow("deadline"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		if res, err := e.Resume(ctx, early, "w", resumeRequest(t, `{"ok": "early"}`)); err != nil || res.Waiting {
			t.Fatalf("a resume before the run reached the wait: %+v, %v", res, err)
		}
		startPool(t, e, 1)
		if r := waitRun(t, e, early); r.Status != RunSucceeded || r.Steps[0].Output.(map[string]any)["body"].(map[string]any)["ok"] != "early" {
			t.Errorf("the run resumed before it reached the wait: %+v: %s", r.RunSummary, stepsOf(r))
		}

		parked, err := e.Start(ctx, set.Workflow("deadline"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 10*time.Second, "the run waiting", func() bool {
			r, err := e.Run(ctx, parked)
			return err == nil && r.Status == RunWaiting
		})
		if res, err := e.Resume(ctx, parked, "w", resumeRequest(t, `{"ok": "parked"}`)); err != nil || !res.Waiting {
			t.Fatalf("a resume of the parked wait: %+v, %v", res, err)
		}
		if r := waitRun(t, e, parked); r.Status != RunSucceeded {
			t.Errorf("the run parked by a worker ahead: %+v: %s", r.RunSummary, stepsOf(r))
		}
	})
}

// A wait that the run's timeout ends before its own shows the run's deadline as when
// it times out.
func TestWaitShowsTheRunsEarlierDeadline(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, _, set, _ := realKindsEngine(t, b, `
workflow "deadline" {
  timeout = "1h"
  step "wait" "w" {
    timeout = "2h"
  }
}
workflow "patient" {
  timeout = "3h"
  step "wait" "w" {
    timeout = "2h"
  }
}
`, Options{Shards: b.Shards})
		for name, after := range map[string]time.Duration{"deadline": time.Hour, "patient": 2 * time.Hour} {
			id, err := e.Start(ctx, set.Workflow(name), event(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			var r *Run
			testutil.Eventually(t, 10*time.Second, name+" waiting", func() bool {
				r, err = e.Run(ctx, id)
				return err == nil && r.Status == RunWaiting
			})
			w := r.Steps[0]
			switch {
			case w.NextAttemptAt == nil:
				t.Errorf("%s: the wait shows no time out", name)
			case name == "deadline" && !w.NextAttemptAt.Equal(r.CreatedAt.Add(after)):
				t.Errorf("%s: the wait times out at %v, want the run's deadline, %v", name, w.NextAttemptAt, r.CreatedAt.Add(after))
			case name == "patient" && (w.NextAttemptAt.Sub(r.CreatedAt) < after || w.NextAttemptAt.Sub(r.CreatedAt) > after+time.Minute):
				t.Errorf("%s: the wait times out at %v, want its own timeout, %v after it started", name, w.NextAttemptAt, after)
			}
		}
	})
}

// loadSetWith loads src with the kinds k.
func loadSetWith(t *testing.T, k *workflows.Kinds, src string) *workflows.Set {
	t.Helper()
	set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(src)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return set
}

// A wait step whose if may skip it does not leave its run's deadline to park.lua,
// which it may never reach: past the deadline by the worker's clock, the run fails for
// it rather than skip its last step and succeed after its deadline.
func TestSkippableWaitPastTheDeadlineFailsTheRun(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		k := probeKinds(&recorder{})
		actions.Register(k, actions.Options{Logger: quiet})
		set := loadSetWith(t, k, `
workflow "deadline" {
  timeout = "1h"
  step "wait" "w" {
    if      = "event.body.ask == true"
    timeout = "2h"
  }
}
`)
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Kinds: k})
		e.now = func() time.Time { return time.Now().Add(90 * time.Minute) } // past the deadline
		e.Use(set)
		id, err := e.Start(ctx, set.Workflow("deadline"), event(`{"ask": false}`))
		if err != nil {
			t.Fatal(err)
		}
		startPool(t, e, 1)
		if r := waitRun(t, e, id); r.Status != RunFailed || !strings.Contains(r.Error, "run timed out") {
			t.Errorf("a skippable wait past the deadline: %+v: %s", r.RunSummary, stepsOf(r))
		}
	})
}

// A wait that times out, or that the run's deadline ends, while no process runs ends
// then all the same: its record, written when a process takes the run up again, shows
// it ending at its timeout (or the deadline), its duration the wait, not the time
// until a process came.
func TestWaitTimedOutWhileNoProcessRanEndsAtItsTimeout(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		rec := &recorder{}
		k := probeKinds(rec)
		actions.Register(k, actions.Options{Logger: quiet})
		set := loadSetWith(t, k, `
workflow "strict" {
  step "wait" "approval" {
    timeout = "1s"
  }
}

workflow "lenient" {
  step "wait" "approval" {
    timeout    = "1s"
    on_timeout = "continue"
  }
}

workflow "deadline" {
  timeout = "1s"
  step "wait" "approval" {
    timeout = "1h"
  }
}
`)
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Kinds: k})
		e.Use(set)
		down := e.NewPool(1)
		down.Start()
		ids := map[string]string{}
		for _, name := range []string{"strict", "lenient", "deadline"} {
			id, err := e.Start(ctx, set.Workflow(name), event(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			ids[name] = id
			waitStatus(t, e, id, RunWaiting)
		}
		// The process stops; the next starts a second after the waits ended.
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := down.Stop(stopCtx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		restarted := time.Now().Truncate(time.Millisecond)
		startPool(t, e, 1)
		for name, id := range ids {
			r := waitRun(t, e, id)
			w := r.Steps[0]
			if w.StartedAt == nil || w.FinishedAt == nil || w.DurationMS == nil ||
				w.FinishedAt.Sub(*w.StartedAt).Milliseconds() != *w.DurationMS || !w.FinishedAt.Before(restarted) {
				t.Errorf("%s: the wait (%s) ran from %v to %v (%v ms), want to its end, before the process came back at %v",
					name, w.Status, w.StartedAt, w.FinishedAt, msOf(w.DurationMS), restarted)
			}
			switch {
			case name == "deadline" && !w.FinishedAt.Equal(r.CreatedAt.Add(time.Second)):
				t.Errorf("%s: the wait ended at %v, want at the run's deadline, %v", name, w.FinishedAt, r.CreatedAt.Add(time.Second))
			case name != "deadline" && *w.DurationMS < 1000:
				t.Errorf("%s: the wait took %d ms, want its second", name, *w.DurationMS)
			}
			if r.Status == RunFailed && !r.FinishedAt.After(*w.FinishedAt) {
				t.Errorf("%s: the run failed at %v, want when a process came back, after the wait ended at %v", name, r.FinishedAt, w.FinishedAt)
			}
		}
		_, err := e.Resume(ctx, ids["strict"], "approval", resumeRequest(t, `{}`))
		var over *WaitOverError
		if !errors.As(err, &over) || over.At.After(restarted) {
			t.Errorf("a resume after the timeout: %v, want it timed out before the process came back at %v", err, restarted)
		}
	})
}
