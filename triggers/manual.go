package triggers

import (
	"bytes"

	"github.com/hookflow/hookflow/workflows"
)

// ManualTick makes ev, a run started by hand (the admin API's manual start, hookflow
// runs start), a tick of wf's schedule when every trigger of wf is a schedule and the
// start gave no event (no body, {} or null): its body is the latest tick of the first
// schedule at or before ev's time, {schedule, scheduled_at, catch_up = false}, as
// hookflow run makes it, so that "run now" reads event.body.scheduled_at as a tick's
// run does. ev.Trigger stays "manual": the run was started by hand, not by the
// schedule, and no tick is recorded. It reports whether it made ev a tick.
func ManualTick(wf *workflows.Workflow, ev *workflows.Event) bool {
	if !NoEvent(ev.Raw) {
		return false
	}
	var first *Schedule
	for _, t := range wf.Triggers {
		s, ok := t.Config.(*Schedule)
		if !ok {
			return false
		}
		if first == nil {
			first = s
		}
	}
	if first == nil {
		return false
	}
	trigger := ev.Trigger
	first.LocalEvent(ev, false)
	ev.Trigger = trigger
	return true
}

// NoEvent reports whether raw, the body given to a run started by hand (through the
// admin API, or hookflow run's --event), gives no event: none, {} or null, spaces and
// line breaks aside. A schedule's workflow then runs with its latest tick.
func NoEvent(raw string) bool {
	raw = string(bytes.TrimSpace([]byte(raw)))
	return raw == "" || raw == "{}" || raw == "null"
}
