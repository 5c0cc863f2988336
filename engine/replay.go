package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hookflow/hookflow/workflows"
)

// ErrCannotReplay is returned for a run that cannot be replayed: it has not failed, or
// it failed before its first step.
var ErrCannotReplay = errors.New("the run cannot be replayed")

// ReplayOptions say how a failed run is replayed.
type ReplayOptions struct {
	// Current replays the run with the version of its workflow in use now (the set
	// given to Use) instead of the run's version (the one it started with, unless a
	// replay with Current moved it to another): a run that failed on a bug
	// of its workflow goes on with the fixed version. What succeeded keeps its record;
	// from there the current version's plan decides what runs. The run is moved to that
	// version for good, and the steps that failed it must be in it.
	Current bool
	// Version, with Current, is the version in use that the replay is meant for, as
	// a page that offers it names it: the replay is refused when another is in use
	// now, the files having changed since. "" replays on whichever is in use.
	Version string
}

// VersionChangedError refuses a replay on the version in use that names a version
// (ReplayOptions.Version) other than the one in use now: the files changed since the
// version was shown. It is an ErrCannotReplay.
type VersionChangedError struct {
	Workflow string
	Version  string // the version the replay was meant for
	Current  string // the version in use now
}

func (e *VersionChangedError) Error() string {
	return fmt.Sprintf("%v on version %s: the current version of workflow %s is now %s", ErrCannotReplay, e.Version, e.Workflow, e.Current)
}

// Is makes it an ErrCannotReplay.
func (e *VersionChangedError) Is(target error) bool { return target == ErrCannotReplay }

// Replayed is what a replay queued.
type Replayed struct {
	RunID  string    `json:"run_id"`
	Status RunStatus `json:"status"` // queued
	// Version is the workflow version the run goes on with.
	Version string `json:"version"`
	// CurrentVersion is the version of the workflow in use now, when the run goes on
	// with another: the workflow changed since the run started, and a replay with
	// ReplayOptions.Current would run the version in use.
	CurrentVersion string `json:"current_version,omitempty"`
	// From names what runs again: steps, by their path as runs show it (notify/crm for a
	// step of a parallel block), and items of for_each steps (reserve[2]).
	From []string `json:"from"`
}

// Replay queues a failed run again from what failed it: the step that failed, the
// failed items of a for_each step (and those that never started), the failed steps of
// a parallel block. It runs with the run's workflow version (the one it started with,
// unless a replay with o.Current moved it), or with the version in use now when
// o.Current says so. What succeeded keeps its record and
// does not run again; what runs again starts over with a fresh count of attempts. The
// planner decides what that is, as for any change to a run.
//
// A child run cancelled because a run that called it timed out is not replayed by
// itself: the replay of that run replays it, when it reaches the workflow step that
// waits for it (Pool.subRun). Once that replay can no longer reach it (parentReaches),
// it is replayed as a failed run is.
func (e *Engine) Replay(ctx context.Context, runID string, o ReplayOptions) (*Replayed, error) {
	return e.replay(ctx, runID, o, false)
}

// replay is Replay; withParent says that it is the replay of a parent reaching the
// workflow step of run runID: a child cancelled because its parent timed out is
// replayed too.
func (e *Engine) replay(ctx context.Context, runID string, o ReplayOptions, withParent bool) (*Replayed, error) {
	fields, err := e.q.runFields(ctx, runID)
	if err != nil {
		return nil, err
	}
	if fields == nil {
		return nil, ErrNotFound
	}
	cancelled := RunStatus(fields["status"]) == RunCancelled && fields[withParentField] != ""
	if cancelled && !withParent {
		reaches, err := e.parentReaches(ctx, fields)
		if err != nil {
			return nil, err
		}
		if reaches {
			return nil, fmt.Errorf("%w: it was cancelled when a run that called it timed out; replay %s, which runs it again",
				ErrCannotReplay, parentOf(fields))
		}
	}
	switch {
	case RunStatus(fields["status"]) != RunFailed && !cancelled:
		return nil, fmt.Errorf("%w: %s; only a failed run can be", ErrCannotReplay, RunStatus(fields["status"]).itIs())
	}
	if fields["dead"] == "" && !cancelled {
		return nil, fmt.Errorf("%w: it failed before its first step (%s); start a new run with its event instead",
			ErrCannotReplay, fields["error"])
	}
	rec, err := readRecord(fields)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCannotReplay, err)
	}
	name, ver := fields["wf"], fields["ver"]
	cur := e.versions.currentOf(name)
	var wf *workflows.Workflow
	var moved []any // the run fields that move the run to another version
	if o.Current {
		if o.Version != "" && cur != nil && cur.wf.Version != o.Version {
			return nil, &VersionChangedError{Workflow: name, Version: o.Version, Current: cur.wf.Version}
		}
		if wf, err = e.replayCurrent(ctx, cur, fields, rec); err != nil {
			return nil, err
		}
		if wf.Version != ver {
			moved = append(moved, "ver", wf.Version)
			if fields["started_ver"] == "" {
				moved = append(moved, "started_ver", ver)
			}
		}
	} else {
		wf, err = e.versions.get(ctx, name, ver)
		if retry, _ := workflows.Retryable(err); err != nil && !retry {
			return nil, fmt.Errorf("%w: %v", ErrCannotReplay, err)
		}
		if err != nil {
			return nil, err
		}
	}
	sh := e.q.shardFor(wf.Name)
	for _, s := range wf.Steps {
		if s.ForEach == nil {
			continue
		}
		set, err := e.q.readItems(ctx, sh, runID, s.Name)
		if err != nil {
			return nil, err
		}
		if set != nil {
			rec.items[s.Name] = set
		}
	}
	cl := clearFailures(wf, rec)
	// The run's deadline counts from the replay, with the timeout of the version it goes
	// on with (a run an older build started has no timeoutField yet).
	if ms := e.q.timeoutOf(wf); ms > 0 {
		moved = append(moved, timeoutField, ms)
	} else if fields[timeoutField] != "" {
		cl.fields = append(cl.fields, timeoutField)
	}
	p := plan(wf, rec, nil)
	if len(p.Start) == 0 {
		return nil, fmt.Errorf("%w: nothing in it failed that can run again", ErrCannotReplay)
	}
	if err := e.q.replay(ctx, runID, wf, p, cl, moved); err != nil {
		return nil, err
	}
	e.metrics.runReplayed(wf.Name)
	out := &Replayed{RunID: runID, Status: RunQueued, Version: wf.Version, From: make([]string, len(p.Start))}
	if cur != nil && cur.wf.Version != wf.Version {
		out.CurrentVersion = cur.wf.Version
	}
	for i, u := range p.Start {
		out.From[i] = u.String()
		if set := rec.items[u.step]; u.part == partItem && set != nil {
			out.From[i] = fmt.Sprintf("%s[%v]", u.step, set.key(u.item)) // as runs show it: an item of a map by its key
		}
		if s, _ := wf.Step(u.step); s != nil && s.Parallel != "" {
			out.From[i] = s.Parallel + "/" + out.From[i] // as runs show it: notify/crm
		}
	}
	e.log.Info("run replayed", "run", runID, "workflow", wf.Name, "version", wf.Version, "from", strings.Join(out.From, ", "))
	return out, nil
}

// parentReaches reports whether the replay of the run that started a child run (its
// fields), cancelled when that run timed out, can still run it again: that run is
// there, failed or not finished, and the step that started the child, in the version
// the run goes on with, still waits for a run of the child's workflow and has not
// succeeded; or that run was itself cancelled as its caller timed out, and that
// caller's replay reaches it in turn. A replay with --current onto a version where the
// step no longer waits, or was renamed, moves the run past the child, as does its end.
func (e *Engine) parentReaches(ctx context.Context, fields map[string]string) (bool, error) {
	ev, err := workflows.DecodeEvent([]byte(fields["event"]))
	if err != nil || ev.Parent == nil {
		return false, nil
	}
	pf, err := e.q.rdb.HGetAll(ctx, e.q.shardFor(ev.Parent.Workflow).run(ev.Parent.RunID)).Result()
	if err != nil {
		return false, err
	}
	st := RunStatus(pf["status"])
	if len(pf) == 0 || st == RunSucceeded || st == RunCancelled && pf[withParentField] == "" {
		return false, nil
	}
	if st == RunCancelled {
		// Cancelled as its own caller timed out: that caller's replay runs it again, and
		// it runs the child again, if it reaches the child's parent.
		if reaches, err := e.parentReaches(ctx, pf); err != nil || !reaches {
			return false, err
		}
	}
	wf, err := e.versions.get(ctx, pf["wf"], pf["ver"])
	if retry, _ := workflows.Retryable(err); err != nil {
		if retry {
			return false, err
		}
		return false, nil // its version is gone: its replay cannot run
	}
	step, _ := wf.Step(ev.Parent.Step)
	if step == nil {
		return false, nil
	}
	sub, ok := step.Action.(workflows.SubRun)
	if !ok || !sub.Waits() || sub.Calls() != fields["wf"] {
		return false, nil
	}
	if rec, _ := readRecord(pf); step.ForEach == nil && rec != nil {
		if r := rec.steps[step.Name]; r != nil && r.Status == StatusSucceeded {
			return false, nil
		}
	}
	return true, nil
}

// parentOf names the run that started a child run (its fields): "run ID", or "the run
// that called it" when its event cannot be read.
func parentOf(fields map[string]string) string {
	if ev, err := workflows.DecodeEvent([]byte(fields["event"])); err == nil && ev.Parent != nil {
		return "run " + ev.Parent.RunID
	}
	return "the run that called it"
}

// replayCurrent returns the version in use, cur, for the replay of a failed run (its
// fields and record) on it, as currentRefuses takes it: its sources are stored in
// Redis for every worker to load.
func (e *Engine) replayCurrent(ctx context.Context, cur *version, fields map[string]string, rec *runRecord) (*workflows.Workflow, error) {
	if err := e.currentRefuses(ctx, cur, fields, rec); err != nil {
		return nil, err
	}
	if cur.wf.Version == fields["ver"] {
		return cur.wf, nil
	}
	if err := e.versions.store(ctx, cur); err != nil {
		return nil, err
	}
	return cur.wf, nil
}

// currentRefuses says why cur, the version of its workflow in use now (nil: none),
// refuses the replay of a failed run (its fields and record), an ErrCannotReplay; nil
// when it takes it: it must have the steps that failed the run.
func (e *Engine) currentRefuses(ctx context.Context, cur *version, fields map[string]string, rec *runRecord) error {
	name, ver := fields["wf"], fields["ver"]
	if cur == nil {
		return fmt.Errorf("%w: workflow %s is not among the workflows in use now", ErrCannotReplay, name)
	}
	if cur.wf.Version == ver {
		return nil
	}
	missing, err := e.missingInCurrent(ctx, cur, fields, rec)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		what := StepsNamed(missing)
		return fmt.Errorf("%w on the current version: %s failed it, and version %s of workflow %s, in use now, has no %s; replay it on its version, %s, or bring the step back",
			ErrCannotReplay, what, cur.wf.Version, name, what, ver)
	}
	return nil
}

// ReplaysOnCurrent names the version of its workflow in use now when it takes the
// replay of failed run runID (ReplayOptions.Current, and a retry of its dead letter
// on it), as Replay decides it: the workflow is in use, and its version there has
// every step that failed the run or had not settled when it failed; "" when it does
// not. The version is the one decided on, read once: a page that offers the replay
// names it, and sends it as ReplayOptions.Version.
func (e *Engine) ReplaysOnCurrent(ctx context.Context, runID string) (string, error) {
	fields, err := e.q.runFields(ctx, runID)
	if err != nil || fields == nil {
		return "", err
	}
	rec, err := readRecord(fields)
	if err != nil {
		return "", nil // Replay refuses it whatever the version
	}
	cur := e.versions.currentOf(fields["wf"])
	switch err := e.currentRefuses(ctx, cur, fields, rec); {
	case errors.Is(err, ErrCannotReplay):
		return "", nil
	case err != nil:
		return "", err
	}
	return cur.wf.Version, nil
}

// StepsNamed is "step a" or "steps a, b", as messages name steps.
func StepsNamed(names []string) string {
	if len(names) == 1 {
		return "step " + names[0]
	}
	return "steps " + strings.Join(names, ", ")
}

// missingInCurrent names the steps that failed the run (fields, rec) that cur, the
// version in use now, does not have: a replay with it would be refused.
func (e *Engine) missingInCurrent(ctx context.Context, cur *version, fields map[string]string, rec *runRecord) ([]string, error) {
	// What failed the run is read with its own version, where it can still be loaded;
	// else the dead letter names it.
	pinned, err := e.versions.view(ctx, fields["wf"], fields["ver"])
	if retry, _ := workflows.Retryable(err); err != nil && retry {
		return nil, err
	}
	var failed []string
	if pinned != nil {
		failed = failedSteps(pinned, rec)
	} else if step, _, _ := strings.Cut(strings.TrimPrefix(fields["dead"], fields["id"]+":"), ":"); step != "" {
		failed = []string{step}
	}
	var missing []string
	for _, s := range failed {
		if st, _ := cur.wf.Step(s); st == nil && cur.wf.Node(s) == nil {
			missing = append(missing, s)
		}
	}
	return missing, nil
}

// callsGone names the workflows that the steps that failed a run (its fields and
// record) call and that are not in use now, where the step's child had not started:
// replayed, the step cannot start it (Pool.subRun). A child that started is read
// again whatever the files hold. A for_each step is not named: which of its items'
// children started is not read here, and its replay may run them all again.
func (e *Engine) callsGone(ctx context.Context, fields map[string]string, rec *runRecord) ([]string, error) {
	wf, err := e.versions.view(ctx, fields["wf"], fields["ver"])
	if err != nil {
		return nil, err
	}
	var gone []string
	for _, name := range failedSteps(wf, rec) {
		s, _ := wf.Step(name)
		sub, ok := s.Action.(workflows.SubRun)
		if !ok || e.versions.currentOf(sub.Calls()) != nil || slices.Contains(gone, sub.Calls()) {
			continue
		}
		if s.ForEach != nil {
			continue
		}
		n, err := e.q.rdb.Exists(ctx, e.q.shardFor(sub.Calls()).run(childIDOf(fields["id"], name, nil))).Result()
		if err != nil {
			return nil, err
		}
		if n == 0 {
			gone = append(gone, sub.Calls())
		}
	}
	return gone, nil
}

// failedSteps names the steps of wf that a replay runs again as they are in rec: those
// that failed the run, or had not settled when it failed.
func failedSteps(wf *workflows.Workflow, rec *runRecord) []string {
	var out []string
	for _, s := range wf.Steps {
		if r := rec.steps[s.Name]; r == nil || keeps(s, r) {
			continue
		}
		out = append(out, s.Name)
	}
	return out
}

// keeps reports whether a replay keeps the record r of step s: it settled, and
// succeeded, was skipped, or failed without failing the run (on_error = "continue",
// and not cut by the run's timeout, which fails it whatever on_error says).
func keeps(s *workflows.Step, r *Record) bool {
	return r != nil && r.Status.Settled() && (r.Status != StatusFailed || !failsRun(s, r))
}

// runsAgain reports whether a replay runs parallel block n again, as the version
// replayed with has it (a replay on the current version may have moved steps into or
// out of it): it did not succeed, or a step of it has a record the replay does not
// keep, or none (a step that failed the run moved into it, a step added to it). Its
// steps that keep their records are not called again.
func runsAgain(n *workflows.Node, rec *runRecord) bool {
	if r := rec.steps[n.Name]; r == nil || r.Status != StatusSucceeded {
		return true
	}
	return slices.ContainsFunc(n.Steps, func(s *workflows.Step) bool { return !keeps(s, rec.steps[s.Name]) })
}

// cleared is what a replay takes out of a run's record: run fields, and the records of
// items by for_each step.
type cleared struct {
	fields []string
	items  map[string][]int
}

// clearFailures takes out of rec what failed the run, so that the planner starts it
// again, and returns what it took: the records of failed steps and parallel blocks, the
// failed items of for_each steps, and the counts of their units. What did not settle
// goes too (a run failed by a unit that could not go on, while others were in flight),
// so that it starts again rather than wait for units that are gone. What succeeded, or
// failed with on_error = "continue", stays. The records of on_failure steps go: they
// were the failure's. A parallel block that succeeded goes too when wf's block has
// steps that must run (runsAgain): the current version moved a failed step into it, or
// added one.
func clearFailures(wf *workflows.Workflow, rec *runRecord) cleared {
	cl := cleared{items: map[string][]int{}}
	clear := func(name string) {
		if _, ok := rec.steps[name]; ok {
			delete(rec.steps, name)
			cl.fields = append(cl.fields, recordPrefix+name)
		}
		if _, ok := rec.counts[name]; ok {
			delete(rec.counts, name)
			cl.fields = append(cl.fields, countPrefix+name)
			if n := wf.Node(name); n != nil && n.Parallel {
				// With a block's count goes its count of parked waits (park.lua): their
				// jobs are made again.
				cl.fields = append(cl.fields, parkedPrefix+name)
			}
		}
	}
	clearStep := func(s *workflows.Step) {
		if keeps(s, rec.steps[s.Name]) {
			return
		}
		clear(s.Name)
		if isWait(s) {
			// What ended its wait (a timeout) goes with it: replayed, it waits again.
			cl.fields = append(cl.fields, resumePrefix+s.Name)
		}
		set := rec.items[s.Name]
		if set == nil {
			return
		}
		for i, ir := range set.records {
			if ir.Status == StatusFailed || !ir.Status.Settled() {
				delete(set.records, i)
				cl.items[s.Name] = append(cl.items[s.Name], i)
			}
		}
		slices.Sort(cl.items[s.Name])
	}
	// The on_failure steps answered the failure: the next failure, if any, is theirs to
	// answer anew.
	for name := range rec.steps {
		if workflows.IsOnFailure(name) {
			clear(name)
		}
	}
	for _, n := range wf.Nodes {
		if !n.Parallel {
			clearStep(n.Steps[0])
			continue
		}
		if !runsAgain(n, rec) {
			continue
		}
		clear(n.Name)
		for _, s := range n.Steps {
			clearStep(s)
		}
	}
	return cl
}

// itIs says where a run of this status is, as a clause: "it is running", "it
// succeeded", "it was cancelled".
func (s RunStatus) itIs() string {
	switch s {
	case RunSucceeded, RunFailed:
		return "it " + string(s)
	case RunCancelled:
		return "it was cancelled"
	}
	return "it is " + string(s)
}
