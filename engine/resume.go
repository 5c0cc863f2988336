package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// runState is what a worker knows of a run while it executes its units: the run's
// record as leased, with what this worker committed since, and the expression
// environment its steps read.
type runState struct {
	id       string
	workflow string
	ver      string // the workflow version it runs with, which its records name
	// recVer is what its records name as their version: none while it runs with the
	// version it started with (the history reads that from the run), else ver.
	recVer  string
	created time.Time // when the run was started
	replays int       // how many times it was replayed: its failure is the replays+1th
	// deadline is when the run's timeout passes: its timeout after it was created, or
	// after its last replay; zero without a timeout.
	deadline time.Time
	wf       *workflows.Workflow
	rec      *runRecord
	env      *workflows.Env
	// sensitive are the values of the outputs of its sensitive steps that have run,
	// hidden like secrets wherever they appear again; secrets hides them and the
	// workflow's secrets, built when first needed.
	sensitive []string
	// credentials are the values of its event's body fields and query parameters
	// named as credentials (a password a sender put in the body, a ?token=…), hidden
	// like secrets where a step writes them again, as the history shows them
	// [redacted] in the event; read when the redactor is first needed.
	credentials     []string
	credentialsRead bool
	// event is the cache's entry of its event, when it is large: it has the
	// credentials read already.
	event *cachedEvent
	// resumed are the values of the credential fields and query parameters of what
	// resumed its wait steps, hidden as its event's are.
	resumed []string
	secrets *workflows.Redactor
	// onlySensitive hides the values in sensitive alone (sensitiveOnly).
	onlySensitive *workflows.Redactor
	// eventShown says that the run's event has a shown form (a child run whose input
	// held sensitive values): its end, if it succeeds, puts it in the event's place.
	eventShown bool
	// clock keeps the run's time under Options.VirtualTime, in place of deadline; nil
	// for the wall clock.
	clock *virtualClock
	// now is the process's clock (Engine.now), deadline's; nil for time.Now.
	now func() time.Time
	// deadlineInRedis says that the run hash holds the run's timeout (timeoutField):
	// park.lua decides by Redis's clock whether its deadline ended a wait, as resume.lua
	// decides whether a resume came in time. A run an older build started has none.
	deadlineInRedis bool
}

// redactor hides the workflow's secrets, the values of the run's sensitive outputs and
// those of its event's credential fields and query parameters.
func (r *runState) redactor() *workflows.Redactor {
	if !r.credentialsRead {
		r.credentialsRead = true
		switch {
		case r.event != nil:
			r.credentials = r.event.credentials() // shared: read, never changed
		case r.env != nil:
			r.credentials = workflows.EventCredentialValues(r.env.Event, nil)
		}
	}
	if len(r.sensitive) == 0 && len(r.credentials) == 0 && len(r.resumed) == 0 {
		return r.wf.Secrets
	}
	if r.secrets == nil {
		r.secrets = r.wf.Secrets.Plus(slices.Concat(r.sensitive, r.credentials, r.resumed)...)
	}
	return r.secrets
}

// hide adds the values of a sensitive step's output to those the run hides; forEach
// says that it is a for_each step's, the outputs of its items.
func (r *runState) hide(v any, forEach bool) {
	n := len(r.sensitive)
	r.sensitive = workflows.SensitiveValues(v, forEach, r.sensitive)
	if len(r.sensitive) != n {
		r.secrets, r.onlySensitive = nil, nil
	}
}

// hideResume adds the values of the credential fields and query parameters in v, the
// value of a wait step that a resume gave, to those the run hides.
func (r *runState) hideResume(v any) {
	m, _ := v.(map[string]any)
	n := len(r.resumed)
	r.resumed = workflows.CredentialValues(m["query"], workflows.CredentialValues(m["body"], r.resumed))
	if len(r.resumed) != n {
		r.secrets = nil
	}
}

// resume rebuilds a run's state from the run hash that came with its leased job.
func (e *Engine) resume(ctx context.Context, j *job) (*runState, error) {
	r := &runState{id: j.run["id"], workflow: j.run["wf"], ver: j.run["ver"], created: msTime(j.run["created"]), now: e.now}
	if started := j.run["started_ver"]; started != "" && started != r.ver {
		r.recVer = r.ver // a replay moved it to another version
	}
	var err error
	r.wf, err = e.versions.get(ctx, r.workflow, j.run["ver"])
	if err != nil {
		return r, err
	}
	if n := j.run["replays"]; n != "" { // most runs were never replayed: no error to make
		r.replays, _ = strconv.Atoi(n)
	}
	if s, _ := r.wf.Step(j.unit.step); r.wf.Node(j.unit.step) == nil && s == nil {
		r.wf = nil // a version without the step: nothing of it can be planned
		return r, workflows.Permanent(fmt.Errorf("workflow %s version %s has no step %s", r.workflow, j.run["ver"], j.unit.step))
	}
	if e.clock != nil {
		r.clock = e.clock // it keeps the timeout: no deadline by the wall clock
	} else if r.wf.Timeout > 0 {
		from := r.created
		if t := msTime(j.run["replayed"]); t.After(from) {
			from = t
		}
		r.deadline = from.Add(r.wf.Timeout)
		r.deadlineInRedis = j.run[timeoutField] != ""
	}
	ev := j.event
	if ev == nil {
		if ev, r.event, err = e.eventOf(ctx, j); err != nil {
			return r, err
		}
	}
	if shown := j.run[eventShownField]; shown != "" {
		r.eventShown = true
		if err := r.eventHidden(ev, shown); err != nil {
			return r, workflows.Permanent(err)
		}
	}
	if r.rec, err = readRecord(j.run); err != nil {
		return r, workflows.Permanent(err)
	}
	steps := make(map[string]any, len(r.rec.steps))
	for name, rec := range r.rec.steps {
		if err := r.see(name, rec, steps); err != nil {
			return r, workflows.Permanent(err)
		}
	}
	r.env = &workflows.Env{
		Event: ev.Value(),
		Steps: steps,
		Vars:  r.wf.Vars,
		Run:   map[string]any{"id": r.id, "workflow": r.workflow, "version": r.wf.Version},
	}
	if hasWait(r.wf) {
		// resume_url signs with the key in Redis: read it now, when failing to is a
		// failed attempt to try again, rather than in the middle of a step.
		if _, err := e.resumeKey(ctx); err != nil {
			return r, err
		}
		r.env.ResumeURL = e.resumeURLs(r)
	}
	if f := j.run["failed_step"]; f != "" { // it failed: its on_failure steps run
		r.env.Run["error"], r.env.Run["failed_step"] = j.run["error"], f
	}
	return r, nil
}

// wallNow is the time by the process's clock, which deadline is read by.
func (r *runState) wallNow() time.Time {
	if r.now == nil {
		return time.Now()
	}
	return r.now()
}

// errRunTimedOut cancels a step running when its run's timeout passes.
var errRunTimedOut = errors.New("the run's timeout passed")

// timedOut reports whether the run's timeout has passed for a unit of step s: the
// on_failure steps run past it, with their own timeouts.
func (r *runState) timedOut(s *workflows.Step) bool {
	return !r.deadline.IsZero() && !workflows.IsOnFailure(s.Name) && !r.wallNow().Before(r.deadline)
}

// delayCut reports whether the run's timeout has passed and cut short the delay that
// held's output describes ({until, seconds}): the delay would have ended past it.
func (r *runState) delayCut(s *workflows.Step, held *Record) bool {
	if !r.timedOut(s) {
		return false
	}
	var out struct {
		Until time.Time `json:"until"`
	}
	if err := json.Unmarshal(held.Output, &out); err != nil || out.Until.IsZero() {
		return true
	}
	return out.Until.After(r.deadline)
}

// timeoutError is the error of a unit that the run's timeout stopped.
func (r *runState) timeoutError() error {
	return workflows.Permanent(fmt.Errorf("run timed out: its timeout of %s passed", workflows.FormatDuration(r.wf.Timeout)))
}

// capWait shortens a wait of step s (a delay, a retry's backoff, a park) that would end
// past the run's deadline to end at it, when the unit that follows fails for it. The
// run's timeout does not bound the on_failure steps: their waits stay as they are.
func (r *runState) capWait(s *workflows.Step, wait time.Duration) time.Duration {
	if r.deadline.IsZero() || workflows.IsOnFailure(s.Name) {
		return wait
	}
	// Cut just past the deadline: the queue counts whole milliseconds of Redis's clock,
	// and a unit due a millisecond early would start an attempt the deadline stops at
	// once, taken for one more attempt made.
	return max(min(wait, r.deadline.Sub(r.wallNow())+deadlineSlack), 0)
}

// deadlineSlack is how far past a run's deadline a wait it cuts ends.
const deadlineSlack = 5 * time.Millisecond

// cuts reports whether a delay of step s that waits wait from now would end past the
// run's deadline, which capWait ends it at: the delay fails there.
func (r *runState) cuts(s *workflows.Step, wait time.Duration) bool {
	return wait > 0 && r.capWait(s, wait) < wait
}

// see puts a settled step's value into steps, as later steps read it. Parallel blocks
// and steps still going have no value.
func (r *runState) see(name string, rec *Record, steps map[string]any) error {
	if s, _ := r.wf.Step(name); s == nil || !rec.Status.Settled() {
		return nil
	}
	v, err := rec.value()
	if err != nil {
		return fmt.Errorf("step %s output: %w", name, err)
	}
	steps[name] = v
	if rec.Sensitive {
		r.hide(v, rec.ForEach)
	}
	if rec.Resume {
		r.hideResume(v)
	}
	return nil
}

// planWith plans what follows a change to unit u: its record rec (nil for none), or
// the items of its for_each step, set. Neither stays in the worker's view of the run:
// apply adds what was committed.
func (r *runState) planWith(u unit, rec *Record, set *itemSet) *Plan {
	if rec != nil {
		prev, had := r.rec.steps[u.step]
		r.rec.steps[u.step] = rec
		defer func() {
			if had {
				r.rec.steps[u.step] = prev
			} else {
				delete(r.rec.steps, u.step)
			}
		}()
	}
	if set != nil {
		r.rec.items[u.step] = set
		defer delete(r.rec.items, u.step)
	}
	return plan(r.wf, r.rec, &u)
}

// planWithUnit plans what follows unit u (a step or an item) settling with rec.
func (r *runState) planWithUnit(u unit, rec *Record) *Plan {
	if u.part == partItem {
		return r.planWith(u, nil, &itemSet{records: map[int]*Record{u.item: rec}})
	}
	return r.planWith(u, rec, nil)
}

// apply adds what commit c of unit u wrote to the worker's view of the run, for the
// units it goes on with.
func (r *runState) apply(u unit, c commit) {
	if c.record != nil && u.part == partStep {
		r.rec.steps[u.step] = c.record
		if c.value != nil {
			r.env.Steps[u.step] = c.value // as decoding the record would give, without the work
			if c.record.Sensitive {
				r.hide(c.value, c.record.ForEach)
			}
			if c.record.Resume {
				r.hideResume(c.value)
			}
		} else {
			_ = r.see(u.step, c.record, r.env.Steps)
		}
	}
	for name, rec := range c.plan.Records {
		r.rec.steps[name] = rec
		_ = r.see(name, rec, r.env.Steps)
	}
	for name, n := range c.plan.Counts {
		r.rec.counts[name] = n
	}
}

// lastAttempt is the record the earlier attempt of j's unit left while it was
// retrying; nil for a first attempt. The job leased the record with it: a step's is in
// the run, an item's came with the job.
func (r *runState) lastAttempt(j *job) *Record {
	rec := j.last
	if j.unit.part == partStep && r.rec != nil {
		rec = r.rec.steps[j.unit.step]
	}
	if rec == nil || rec.Status != StatusRetrying || j.attempt <= 1 {
		return nil
	}
	return rec
}

// earlierRequests are the requests of the earlier attempts of j's unit: those its
// record kept while it was retrying.
func (r *runState) earlierRequests(j *job) json.RawMessage {
	if rec := r.lastAttempt(j); rec != nil {
		return rec.requestsApart()
	}
	return nil
}
