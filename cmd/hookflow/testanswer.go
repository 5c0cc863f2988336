package main

import (
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/triggers"
	"github.com/hookflow/hookflow/workflows"
)

// checkAnswerTime holds a test's run against its sync webhook's response_timeout, in
// the time the test counts (see engine.Options.VirtualTime): under serve, a caller
// still waiting at response_timeout is answered 202 {"run_id", "status_url"}, not by
// the run. When the run answered that late, each expect of a respond step fails, as
// the caller never got what it checks.
func checkAnswerTime(r *testResult, eng *engine.Engine, wf *workflows.Workflow, ev *workflows.Event, runID string) {
	at, ok := eng.AnsweredAt(runID)
	hook := syncWebhook(wf, ev)
	if !ok || hook == nil || at < hook.ResponseTimeout {
		return
	}
	for _, e := range r.test.Expects {
		if s, _ := wf.Step(e.Step); s == nil || !s.Answers() {
			continue
		}
		r.fail(e.DefRange, "expect %q: the answer came after response_timeout: the run answered at %s, past the webhook's response_timeout of %s,\nso under serve its caller got 202 {\"run_id\", \"status_url\"} instead (the time counted is that of the steps before it: attempts that time out, retries' waits, delays)",
			e.Step, workflows.FormatDuration(at), workflows.FormatDuration(hook.ResponseTimeout))
	}
}

// syncWebhook is the sync webhook that made event ev of wf, nil for none.
func syncWebhook(wf *workflows.Workflow, ev *workflows.Event) *triggers.Webhook {
	if ev.Trigger != "webhook" {
		return nil
	}
	for _, t := range wf.Triggers {
		if w, ok := t.Config.(*triggers.Webhook); ok && w.Sync && w.Method == ev.Method && w.Path == ev.Path {
			return w
		}
	}
	return nil
}
