package engine

import (
	"errors"
	"sync"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// Virtual time (Options.VirtualTime) is how hookflow test applies a workflow's
// timeout. Its runs wait for nothing: a delay, the wait before a retry and a wait step
// that times out go on at once. Each run keeps instead the time those waits would
// have taken under serve, and fails at its timeout when that time reaches it, as serve
// fails it at its deadline:
//
//   - a retry's wait counts the longest serve may draw: for an exponential backoff,
//     min(max, initial × 2^(n-1)), without jitter; a constant one's initial; a
//     Retry-After, up to max. A retry that would start at or past the timeout fails
//     without running, with the run's timeout error;
//   - a delay counts its duration; a wait step that times out (no resume came) its
//     timeout; a resumed one, nothing. A delay or a wait that would end at or past the
//     timeout (serve fails a delay that ends at its deadline), or a child run that
//     would end past it, fails its step with the run's timeout error;
//   - a workflow step whose child ran here counts the child's time;
//   - an attempt (a mocked request) takes no time, but one that timed out (a mock's
//     error = "timeout") takes the step's timeout, as it waits for its answer under
//     serve;
//   - the units of one node of the chain (the items of a for_each step, the steps of a
//     parallel block and their items) start together, at the node's start, and the
//     node takes as long as its longest unit: times of units that serve runs side by
//     side do not add up. Items past max_parallel are counted as starting with the
//     first ones, so a test never times out a run that serve would not for that.
//
// The step that would run at or past the timeout, or whose wait would end there,
// fails with serve's error, `run timed out: its timeout of 3s passed`, fails the run
// even with on_error = "continue", and the on_failure steps run, their time not
// counted. The wall clock plays no part: the run's deadline is not set, so a slow
// machine times out nothing. Every unit of a run must execute in this process.
//
// A run started by no other run keeps the virtual time at which it could first answer
// a sync webhook's caller (its first respond step that succeeded, else its end), for
// hookflow test to hold against the webhook's response_timeout: Engine.AnsweredAt.

// virtualClock keeps the virtual time of the runs of an engine with VirtualTime.
type virtualClock struct {
	mu   sync.Mutex
	runs map[string]*runClock
	// ended are the times of child runs that ended, by their parent's id and theirs,
	// until the parent's workflow step counts its child's or the parent ends: children
	// of a step that does not wait are never read.
	ended map[string]map[string]time.Duration
	// answered is, by run (one no run started), the virtual time at which it could
	// first answer a sync webhook's caller, until AnsweredAt reads it.
	answered map[string]time.Duration
}

func newVirtualClock() *virtualClock {
	return &virtualClock{runs: map[string]*runClock{}, ended: map[string]map[string]time.Duration{},
		answered: map[string]time.Duration{}}
}

// runClock is the virtual time of one run: the nodes of its chain run one after
// another, and the units of a node start together, at the node's start.
type runClock struct {
	node string                 // the node the run is at: a step's name, or its parallel block's
	at   time.Duration          // since the run started, when node started
	took map[unit]time.Duration // how long each unit of node has taken so far
}

// longest is the node's time so far: its longest unit's.
func (c *runClock) longest() time.Duration {
	var d time.Duration
	for _, t := range c.took {
		d = max(d, t)
	}
	return d
}

// start is the virtual time at which unit u of node starts (or starts again, after a
// retry's wait): the run moves on to node, past the one before, when u is its first.
func (v *virtualClock) start(run, node string, u unit) time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	c := v.runs[run]
	if c == nil {
		c = &runClock{node: node, took: map[unit]time.Duration{}}
		v.runs[run] = c
	}
	if c.node != node {
		c.at += c.longest()
		c.node = node
		clear(c.took)
	}
	return c.at + c.took[u]
}

// add counts d more for unit u of run, and returns the virtual time it reaches.
func (v *virtualClock) add(run string, u unit, d time.Duration) time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	c := v.runs[run]
	if c == nil {
		c = &runClock{took: map[unit]time.Duration{}}
		v.runs[run] = c
	}
	c.took[u] += d
	return c.at + c.took[u]
}

// end drops an ended run's clock and the times of its children that its steps did not
// read. A child run (parent is not "") keeps its time for its parent's step while the
// parent runs: one that ends after its parent has nobody to read it.
func (v *virtualClock) end(run, parent string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if c := v.runs[run]; c != nil && parent != "" && v.runs[parent] != nil {
		if v.ended[parent] == nil {
			v.ended[parent] = map[string]time.Duration{}
		}
		v.ended[parent][run] = c.at + c.longest()
	}
	if _, ok := v.answered[run]; !ok && parent == "" {
		var took time.Duration // a run that ended before its first step has none
		if c := v.runs[run]; c != nil {
			took = c.at + c.longest()
		}
		v.answered[run] = took // a run without a respond step answers as it ends
	}
	delete(v.runs, run)
	delete(v.ended, run)
}

// childTook is how long child run id of run parent took, once: 0 for one that did not
// run here.
func (v *virtualClock) childTook(parent, id string) time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	d := v.ended[parent][id]
	delete(v.ended[parent], id)
	if len(v.ended[parent]) == 0 {
		delete(v.ended, parent)
	}
	return d
}

// answer records that unit u of run, started by no other run, answered a sync
// webhook's caller now, unless it answered before.
func (v *virtualClock) answer(run string, u unit) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.answered[run]; ok {
		return
	}
	var at time.Duration
	if c := v.runs[run]; c != nil {
		at = c.at + c.took[u]
	}
	v.answered[run] = at
}

// AnsweredAt is, under Options.VirtualTime, the virtual time from the start of run id
// (one started by no other run) at which it could first answer a sync webhook's
// caller: when its first respond step succeeded, else when it ended. False when the
// engine keeps the wall clock or the run has not answered yet. It is read once.
func (e *Engine) AnsweredAt(id string) (time.Duration, bool) {
	if e.clock == nil {
		return 0, false
	}
	e.clock.mu.Lock()
	defer e.clock.mu.Unlock()
	at, ok := e.clock.answered[id]
	delete(e.clock.answered, id)
	return at, ok
}

// parentID is the id of the run that started r with a workflow step, "" for none.
func (r *runState) parentID() string {
	if r.env == nil {
		return ""
	}
	parent, _ := r.env.Event["parent"].(map[string]any)
	id, _ := parent["run_id"].(string)
	return id
}

// nodeOf is the node of the chain step s belongs to: its parallel block, or itself.
func nodeOf(s *workflows.Step) string {
	if s.Parallel != "" {
		return s.Parallel
	}
	return s.Name
}

// virtualTimedOut reports, under virtual time, whether unit u of step s starts at or
// past its run's timeout. The on_failure steps run past it.
func (r *runState) virtualTimedOut(u unit, s *workflows.Step) bool {
	if workflows.IsOnFailure(s.Name) {
		return false
	}
	at := r.clock.start(r.id, nodeOf(s), u)
	return r.wf.Timeout > 0 && at >= r.wf.Timeout
}

// longestDraw makes backoff give the longest wait it may draw: no jitter.
func longestDraw(n int64) int64 { return n - 1 }

// elapse counts, under virtual time, the wait that outcome o of job j of step s makes
// serve wait (again: the retry's wait; delay: a delay step's duration), and makes o a
// failure of the run's timeout when a delay or a wait step's timeout would end at or
// past it, or a child run past it. The caller then waits for nothing.
func (r *runState) elapse(j *job, s *workflows.Step, o *outcome, again bool, delay time.Duration) {
	if workflows.IsOnFailure(s.Name) {
		return
	}
	var d time.Duration
	atDeadline := true // a delay or a wait that ends at the timeout fails, as under serve
	switch {
	case again:
		_, asked := workflows.Retryable(o.err)
		d = attemptTook(s, o) + backoff(s.Retry, j.attempt, asked, longestDraw)
	case attemptTook(s, o) > 0:
		d = attemptTook(s, o)
	case delay > 0:
		d = delay
	case waitTimedOut(s, o):
		d = s.Timeout
	default:
		if id := childOf(s, o); id != "" {
			d, atDeadline = r.clock.childTook(r.id, id), false
		}
	}
	if d <= 0 {
		return
	}
	at := r.clock.add(r.id, j.unit, d)
	if !again && r.wf.Timeout > 0 && (at > r.wf.Timeout || atDeadline && at == r.wf.Timeout) {
		*o = outcome{status: StatusFailed, err: r.timeoutError(), timedOut: true, duration: o.duration}
	}
}

// attemptTook is the time an attempt that ended in o counts: none, but for one that
// timed out (a mock's error = "timeout"), which under serve waits for its answer until
// the step's timeout.
func attemptTook(s *workflows.Step, o *outcome) time.Duration {
	var timeout interface{ Timeout() bool }
	if o.status == StatusFailed && errors.As(o.err, &timeout) && timeout.Timeout() {
		return s.Timeout
	}
	return 0
}

// waitTimedOut reports whether o is a wait step's that timed out: no resume came.
func waitTimedOut(s *workflows.Step, o *outcome) bool {
	if _, ok := s.Action.(workflows.Waiter); !ok {
		return false
	}
	out, _ := o.output.(map[string]any)
	return out["timed_out"] == true
}

// childOf is the id of the child run o of workflow step s waited for, "" for none.
func childOf(s *workflows.Step, o *outcome) string {
	if sub, ok := s.Action.(workflows.SubRun); !ok || !sub.Waits() {
		return ""
	}
	out, _ := o.output.(map[string]any)
	id, _ := out["run_id"].(string)
	return id
}
