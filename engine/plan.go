package engine

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/hookflow/hookflow/workflows"
)

// This file decides what runs next, and nothing else does: the worker that settles a
// step, the join of a for_each step or a parallel block, a run's start and a replay all
// ask plan, and the scripts carry out what it says.

// part tells a step's jobs apart: the step itself (for a for_each step, the job that
// lists its items), one item of a for_each step, or the join that settles a for_each
// step or a parallel block once all its units have.
type part uint8

const (
	partStep part = iota
	partItem
	partJoin
)

// unit is one job of a run: a step, an item of a for_each step, or a join.
type unit struct {
	step string // the step's name, or the parallel block's for its join
	part part
	item int // the item's index, for partItem
}

// jobID is the unit's job id in run: <run>:<step>, <run>:<step>:<item index>, or
// <run>:<step>:join. Ids are deterministic, so a unit queued twice is one job.
func (u unit) jobID(run string) string {
	switch u.part {
	case partItem:
		return run + ":" + u.step + ":" + strconv.Itoa(u.item)
	case partJoin:
		return run + ":" + u.step + ":join"
	}
	return run + ":" + u.step
}

// partField is how the job hash and the scripts spell the part: "", an item's index,
// or "join".
func (u unit) partField() string {
	switch u.part {
	case partItem:
		return strconv.Itoa(u.item)
	case partJoin:
		return "join"
	}
	return ""
}

func parsePart(step, field string) (unit, error) {
	switch field {
	case "":
		return unit{step: step}, nil
	case "join":
		return unit{step: step, part: partJoin}, nil
	}
	i, err := strconv.Atoi(field)
	if err != nil || i < 0 {
		return unit{}, fmt.Errorf("job of step %s: bad part %q", step, field)
	}
	return unit{step: step, part: partItem, item: i}, nil
}

// String names the unit as runs show it: reserve, reserve[2], notify (a join).
func (u unit) String() string {
	if u.part == partItem {
		return u.step + "[" + strconv.Itoa(u.item) + "]"
	}
	return u.step
}

// LogValue logs the unit as String names it: the JSON handler would marshal the
// struct, whose fields are unexported, as {}.
func (u unit) LogValue() slog.Value { return slog.StringValue(u.String()) }

// Plan is what follows a change in a run's record.
type Plan struct {
	Start []unit // units to queue now
	// Todo lists, by for_each step, the items that wait for one of its max_parallel
	// slots, in order; each item that settles starts the next.
	Todo map[string][]int
	// Next is a for_each step whose next waiting item starts: one of its items settled.
	Next string
	// Drop is a for_each step whose waiting items will not start: an item failed it.
	// They count as settled, so that the step settles once the items in flight have.
	Drop string
	// Join is the for_each step or parallel block of which this change settles one
	// unit: its count goes down by one, and the change that brings it to 0 queues its
	// join.
	Join string
	// Counts are the units, by for_each step or parallel block, that the plan starts
	// and that must settle before its join.
	Counts map[string]int
	// Records are the records the plan writes: for_each steps and parallel blocks it
	// settles or starts.
	Records    map[string]*Record
	Status     RunStatus // RunRunning while anything is left to run
	Error      string    // why the run failed
	FailedStep string    // the step that failed it
	// Handle says that the run failed at this change and its on_failure steps start:
	// the unit's job goes to the dead letters and the run records Error and
	// FailedStep, while it goes on with them (Status is RunRunning).
	Handle bool
	// Handled says that the run ends failed after its on_failure steps: the job that
	// failed it went to the dead letters when they started.
	Handled bool
	version string // the workflow version planned with, which its records name
}

// plan decides what follows rec, the record of a run of wf with the change to plan
// for already in it: a settled step or item, the items of a for_each step just listed
// or read for its join, or (for a start or a replay) nothing in flight. changed is the
// unit that changed; nil for a start or a replay.
//
// Nodes run in file order. A node's units are started when every node before it has
// settled and none failed the run; a parallel block starts all its steps together; a
// for_each step starts its items up to max_parallel, and each item that settles starts
// the next. A unit that failed with on_error = "fail" fails the run once its
// for_each step or parallel block has settled: the items in flight finish, the items
// waiting are dropped. A unit that failed because the run's timeout passed fails the
// run whatever its on_error says.
//
// A run that fails goes on with its workflow's on_failure steps, one after another,
// before it ends failed: the change that failed it starts the first (Handle), and the
// run ends once they have settled, or one failed with on_error = "fail" (Handled).
// They run once per failure: their records are the failure's (a replay clears them).
func plan(wf *workflows.Workflow, rec *runRecord, changed *unit) *Plan {
	p := &Plan{Status: RunRunning, version: wf.Version}
	if changed != nil {
		p.bookkeep(wf, rec, *changed)
	}
	for _, n := range wf.Nodes {
		var r *Record
		if n.Parallel {
			r = p.parallel(n, rec)
		} else {
			r = p.step(n.Steps[0], rec, false)
		}
		if r == nil {
			return p // started it, or waits for it
		}
		if r.Status != StatusFailed || (!n.Parallel && !failsRun(n.Steps[0], r)) {
			continue
		}
		p.FailedStep = n.Name
		p.Error = fmt.Sprintf("step %s: %s", n.Name, r.Error)
		if n.Parallel {
			p.FailedStep, p.Error = firstFailed(n, rec, p), r.Error
		}
		p.onFailure(wf, rec)
		return p
	}
	p.Status = RunSucceeded
	return p
}

// onFailure plans a run that failed: its on_failure steps run in order, each once,
// and the run ends failed when none is left to run. A step of them that fails ends
// them (unless it may fail): nothing handles a failure of the handler.
func (p *Plan) onFailure(wf *workflows.Workflow, rec *runRecord) {
	p.Status = RunFailed
	started := false
	for _, s := range wf.OnFailure {
		if rec.steps[s.Name] != nil {
			started = true
			break
		}
	}
	for _, s := range wf.OnFailure {
		r := rec.steps[s.Name]
		switch {
		case r == nil:
			p.Start = append(p.Start, unit{step: s.Name})
			p.Status, p.Handle = RunRunning, !started
			return
		case !r.Status.Settled():
			p.Status = RunRunning // retrying, or waiting out a delay
			return
		case r.Status == StatusFailed && s.OnError == workflows.FailRun:
			p.Handled = true
			return
		}
	}
	p.Handled = started
}

// bookkeep records what settling the changed unit means for its for_each step or
// parallel block: a slot freed (or, on a failure, the waiting items dropped), and one
// unit fewer to settle.
func (p *Plan) bookkeep(wf *workflows.Workflow, rec *runRecord, u unit) {
	s, _ := wf.Step(u.step)
	if s == nil {
		return
	}
	switch u.part {
	case partItem:
		p.Join = s.Name
		if set := rec.items[s.Name]; set != nil {
			if r := set.records[u.item]; r != nil && failsRun(s, r) {
				p.Drop = s.Name
				return
			}
		}
		p.Next = s.Name
	case partStep:
		// A step of a parallel block that settles counts down the block: any step, and
		// a for_each step whose items could not be listed. (A for_each step that listed
		// its items settles at its own join, or at once when it has none.)
		if r := rec.steps[s.Name]; s.Parallel != "" && r != nil && r.Status.Settled() {
			p.Join = s.Parallel
		}
	}
}

func (p *Plan) setRecord(name string, r *Record) {
	r.Version = p.version
	if p.Records == nil {
		p.Records = map[string]*Record{}
	}
	p.Records[name] = r
}

func (p *Plan) setCount(name string, n int) {
	if p.Counts == nil {
		p.Counts = map[string]int{}
	}
	p.Counts[name] = n
}

// record is a step's record as the plan leaves it.
func (p *Plan) record(rec *runRecord, name string) *Record {
	if r := p.Records[name]; r != nil {
		return r
	}
	return rec.steps[name]
}

// step plans one step and returns its record once it has settled, else nil. inFlight
// says that the step's parallel block has started: a step of it without a record is
// running, not waiting to start.
func (p *Plan) step(s *workflows.Step, rec *runRecord, inFlight bool) *Record {
	r := rec.steps[s.Name]
	if r != nil && r.Status.Settled() {
		return r
	}
	if s.ForEach == nil {
		if r == nil && !inFlight {
			p.Start = append(p.Start, unit{step: s.Name})
		}
		return nil
	}
	set := rec.items[s.Name]
	_, counted := rec.counts[s.Name]
	if set == nil {
		if r == nil && !counted && !inFlight {
			p.Start = append(p.Start, unit{step: s.Name}) // its job lists the items
		}
		return nil
	}
	if rec.counts[s.Name] > 0 {
		return nil // items in flight or waiting for a slot
	}
	var unsettled []int
	failed := false
	for i := range set.n {
		r := set.records[i]
		switch {
		case r == nil || !r.Status.Settled():
			unsettled = append(unsettled, i)
		case failsRun(s, r):
			failed = true
		}
	}
	if len(unsettled) == 0 || failed {
		done := settleItems(s, set)
		if r != nil && r.Finished > 0 { // the record written when the items were listed
			done.DurationMS = max(lastFinished(set.records)-r.Finished, 0)
		}
		p.setRecord(s.Name, done)
		if s.Parallel != "" {
			p.Join = s.Parallel
		}
		return done
	}
	window := min(len(unsettled), max(s.MaxParallel, 1))
	for _, i := range unsettled[:window] {
		p.Start = append(p.Start, unit{step: s.Name, part: partItem, item: i})
	}
	if len(unsettled) > window {
		if p.Todo == nil {
			p.Todo = map[string][]int{}
		}
		p.Todo[s.Name] = unsettled[window:]
	}
	p.setCount(s.Name, len(unsettled))
	p.setRecord(s.Name, &Record{Status: StatusRunning, Items: set.n, ForEach: true})
	return nil
}

// parallel plans a parallel block and returns its record once it has settled.
func (p *Plan) parallel(n *workflows.Node, rec *runRecord) *Record {
	if r := rec.steps[n.Name]; r != nil && r.Status.Settled() {
		return r
	}
	// While its count is above 0 its steps are in flight: the last to settle queues the
	// join. At 0 (its join, or a start or replay) every step without a record starts.
	inFlight := rec.counts[n.Name] > 0
	pending := 0
	for _, s := range n.Steps {
		if p.step(s, rec, inFlight) == nil {
			pending++
		}
	}
	switch {
	case inFlight:
		return nil
	case pending > 0:
		p.setCount(n.Name, pending)
		return nil
	}
	done := &Record{Status: StatusSucceeded}
	first, last := int64(0), int64(0)
	for _, s := range n.Steps {
		if r := p.record(rec, s.Name); r != nil && r.Finished > 0 {
			if start := r.firstStarted(); first == 0 || start < first {
				first = start
			}
			last = max(last, r.Finished)
		}
	}
	if first > 0 {
		done.DurationMS = last - first // from its first step's start to its last step's end
	}
	for _, s := range n.Steps {
		if r := p.record(rec, s.Name); failsRun(s, r) {
			done.Status, done.TimedOut = StatusFailed, r.TimedOut
			done.Error = fmt.Sprintf("step %s: %s", s.Name, r.Error)
			break
		}
	}
	p.setRecord(n.Name, done)
	return done
}

// failsRun reports whether a step's (or an item's) settled record fails its run: it
// failed, and the step may not fail (on_error = "fail"), or the run's timeout passed.
func failsRun(s *workflows.Step, r *Record) bool {
	return r.Status == StatusFailed && (s.OnError == workflows.FailRun || r.TimedOut)
}

// lastFinished is when the last of the records finished (ms).
func lastFinished(records map[int]*Record) int64 {
	last := int64(0)
	for _, r := range records {
		last = max(last, r.Finished)
	}
	return last
}

// firstFailed names the step of a parallel block that failed it.
func firstFailed(n *workflows.Node, rec *runRecord, p *Plan) string {
	for _, s := range n.Steps {
		if r := p.record(rec, s.Name); r != nil && failsRun(s, r) {
			return s.Name
		}
	}
	return n.Name
}

// settleItems is the record of a for_each step whose items have settled (or, after a
// failure, whose items in flight have): its output is the list of the items' values in
// order (a map by key for a map), each with its outcome; an item that never started
// is "cancelled". The step failed when an item did, was skipped when every item was,
// and succeeded otherwise (an empty collection included).
func settleItems(s *workflows.Step, set *itemSet) *Record {
	done := &Record{Status: StatusSucceeded, Items: set.n, ForEach: true, Sensitive: s.Sensitive}
	values := make([]any, set.n)
	failed, skipped := 0, 0
	for i := range set.n {
		r := set.records[i]
		if r == nil || !r.Status.Settled() {
			values[i] = map[string]any{"outcome": string(StatusCancelled)}
			continue
		}
		v, err := r.value()
		if err != nil {
			v = stepValue(r.Status, nil, fmt.Errorf("output cannot be read: %w", err))
		}
		values[i] = v
		switch r.Status {
		case StatusFailed:
			if failed == 0 {
				done.Error = fmt.Sprintf("item %v: %s", set.key(i), r.Error)
			}
			failed++
			done.TimedOut = done.TimedOut || r.TimedOut
		case StatusSkipped:
			skipped++
		}
	}
	switch {
	case failed > 1:
		more := "items"
		if failed == 2 {
			more = "item"
		}
		done.Error += fmt.Sprintf(" (and %d more %s failed)", failed-1, more)
		fallthrough
	case failed == 1:
		done.Status = StatusFailed
	case set.n > 0 && skipped == set.n:
		done.Status = StatusSkipped
	}
	var out any = values
	if set.keys != nil {
		m := make(map[string]any, set.n)
		for i, k := range set.keys {
			m[fmt.Sprint(k)] = values[i]
		}
		out = m
	}
	data, err := encodeOutput(out)
	if err != nil {
		// As newRecord records a step's: the step fails, saying why.
		done.Error = strings.TrimPrefix(done.Error+"; "+err.Error(), "; ")
		if done.Status == StatusSucceeded {
			done.Status = StatusFailed
		}
	} else {
		done.Output = data
	}
	return done
}

var _ slog.LogValuer = unit{}
