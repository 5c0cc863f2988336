package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

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
			return nil, fmt.Errorf("%w on version %s: the current version of workflow %s is now %s",
				ErrCannotReplay, o.Version, name, cur.wf.Version)
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

// ReplaysOnCurrent says whether the version of its workflow in use now takes the
// replay of failed run runID (ReplayOptions.Current, and a retry of its dead letter
// on it), as Replay decides it: the workflow is in use, and its version there has
// every step that failed the run or had not settled when it failed.
func (e *Engine) ReplaysOnCurrent(ctx context.Context, runID string) (bool, error) {
	fields, err := e.q.runFields(ctx, runID)
	if err != nil || fields == nil {
		return false, err
	}
	rec, err := readRecord(fields)
	if err != nil {
		return false, nil // Replay refuses it whatever the version
	}
	switch err := e.currentRefuses(ctx, e.versions.currentOf(fields["wf"]), fields, rec); {
	case errors.Is(err, ErrCannotReplay):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
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
// again whatever the files hold; of a for_each step's items, any may not have.
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
		if s.ForEach == nil {
			n, err := e.q.rdb.Exists(ctx, e.q.shardFor(sub.Calls()).run(childIDOf(fields["id"], name, nil))).Result()
			if err != nil {
				return nil, err
			}
			if n > 0 {
				continue
			}
		}
		gone = append(gone, sub.Calls())
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

// DeadLetter is a job that failed its run after its last attempt.
type DeadLetter struct {
	ID       string `json:"id"`
	Run      string `json:"run_id"`
	Workflow string `json:"workflow"`
	Step     string `json:"step"`
	// Attempts are the job's; for the join of a for_each step or a parallel block,
	// which runs once when its items or steps have settled, those of Failed.
	Attempts int `json:"attempts"`
	// Failed names, for the join of a for_each step or a parallel block, the item or
	// the step of the block that failed it (the first, as Error names it) as runs show
	// it: reserve[2], notify/crm.
	Failed string    `json:"failed,omitempty"`
	Error  string    `json:"error"`
	DeadAt time.Time `json:"dead_at"`
	join   bool
	// jobAttempts are the job's own, which Attempts are of a join until what failed
	// it is read.
	jobAttempts int
}

// DeadLetterFilter selects a page of dead letters.
type DeadLetterFilter struct {
	Limit int // default 50, at most 500
	// Cursor continues a listing where the previous page ended (DeadLetterPage.Next).
	Cursor string
	// Run lists the dead letters of this run alone, read from the run (no listing is
	// scanned): the one that failed it, and any of an earlier failure its on_failure
	// steps answered; none for a run that has none, or does not exist. Limit and
	// Cursor do not apply: a run has a few dead letters at most, on one page.
	Run string
}

// DeadLetterPage is one page of dead letters, newest first. Next is the cursor of the
// next page, "" when there is none.
type DeadLetterPage struct {
	DeadLetters []DeadLetter `json:"dead_letters"`
	Next        string       `json:"next,omitempty"`
}

// DeadLetters lists dead letters, newest first, a page at a time: they are ordered as
// runs are, by when they died (ms), then id. A page has a Next only when a dead letter
// follows it: a full page holding the last ones has none (past maxScan entries read,
// a page comes back with a Next, which may lead to an empty page).
func (e *Engine) DeadLetters(ctx context.Context, f DeadLetterFilter) (*DeadLetterPage, error) {
	if f.Run != "" {
		dead, err := e.deadLettersOf(ctx, f.Run)
		if err != nil {
			return nil, err
		}
		slices.Reverse(dead) // newest first
		return e.joinFailures(ctx, &DeadLetterPage{DeadLetters: append([]DeadLetter{}, dead...)})
	}
	switch {
	case f.Limit <= 0:
		f.Limit = defaultLimit
	case f.Limit > MaxLimit:
		f.Limit = MaxLimit
	}
	at := cursor{ms: 1 << 62, id: "~"} // after every dead letter
	if f.Cursor != "" {
		var err error
		if at, err = parseCursor(f.Cursor); err != nil {
			return nil, err
		}
	}
	indexes := make([]runIndex, len(e.q.shards))
	for i, sh := range e.q.shards {
		indexes[i] = runIndex{sh.dead(), sh}
	}
	page := &DeadLetterPage{DeadLetters: []DeadLetter{}}
	for scanned := 0; ; {
		if scanned >= maxScan {
			page.Next = at.String()
			return e.joinFailures(ctx, page)
		}
		// First one more than the page needs: a dead letter past a full page says a
		// next page has one. An entry that is no dead letter now (its run replayed, its
		// job gone) is passed over, and the next read goes on after it, scanBatch at a
		// time: entries gone lie together, past the live ones, until trimmed.
		n := scanBatch
		if scanned == 0 {
			n = min(scanBatch, f.Limit+1)
		}
		batch, err := e.q.runsBefore(ctx, indexes, at, n)
		if err != nil {
			return nil, err
		}
		if len(batch) == 0 {
			return e.joinFailures(ctx, page)
		}
		pipe := e.q.rdb.Pipeline()
		cmds := make([]*redis.MapStringStringCmd, len(batch))
		for i, c := range batch {
			cmds[i] = pipe.HGetAll(ctx, c.sh.job(c.id))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, err
		}
		for i, c := range cmds {
			d, ok := deadLetter(batch[i].id, c.Val())
			if ok && len(page.DeadLetters) == f.Limit {
				page.Next = at.String() // the page is full, and a dead letter follows it
				return e.joinFailures(ctx, page)
			}
			scanned++
			at = batch[i]
			if ok {
				page.DeadLetters = append(page.DeadLetters, d)
			}
		}
	}
}

// joinFailures sets, for each dead letter of a join in the page, what failed it.
func (e *Engine) joinFailures(ctx context.Context, page *DeadLetterPage) (*DeadLetterPage, error) {
	for i := range page.DeadLetters {
		if d := &page.DeadLetters[i]; d.join {
			// What cannot be read leaves the dead letter as its job has it: a listing
			// does not fail for the detail.
			if err := e.joinFailure(ctx, d); err != nil {
				d.Failed, d.Attempts = "", d.jobAttempts
			}
		}
	}
	return page, nil
}

func deadLetter(id string, job map[string]string) (DeadLetter, bool) {
	if job["dead"] == "" {
		return DeadLetter{}, false // replayed or expired meanwhile
	}
	attempts, _ := strconv.Atoi(job["attempt"])
	return DeadLetter{ID: id, Run: job["run"], Workflow: job["wf"], Step: job["step"],
		Attempts: attempts, Error: job["error"], DeadAt: msTime(job["dead"]), join: job["part"] == "join", jobAttempts: attempts}, true
}

// joinFailure sets Failed and Attempts of the dead letter of a join from its run's
// records: the first item of its for_each step that failed, or the first step of its
// parallel block that failed it (and, for a for_each step, its first failed item), as
// the planner names them in the error. Where the records or the run's version cannot
// be read any more, d stays as its job has it.
func (e *Engine) joinFailure(ctx context.Context, d *DeadLetter) error {
	sh := e.q.shardFor(d.Workflow)
	item := func(step, path string) (bool, error) {
		set, err := e.q.readItems(ctx, sh, d.Run, step)
		if err != nil || set == nil {
			return false, err
		}
		for i := range set.n {
			if r := set.records[i]; r != nil && r.Status == StatusFailed {
				d.Failed, d.Attempts = fmt.Sprintf("%s[%v]", path, set.key(i)), r.Attempt
				return true, nil
			}
		}
		return false, nil
	}
	if found, err := item(d.Step, d.Step); found || err != nil {
		return err
	}
	ver, err := e.q.rdb.HGet(ctx, sh.run(d.Run), "ver").Result()
	if errors.Is(err, redis.Nil) {
		return nil
	} else if err != nil {
		return err
	}
	wf, err := e.versions.view(ctx, d.Workflow, ver)
	if retry, _ := workflows.Retryable(err); err != nil && retry {
		return err
	}
	var block *workflows.Node
	if wf != nil {
		block = wf.Node(d.Step)
	}
	if block == nil || !block.Parallel {
		return nil
	}
	fields := make([]string, len(block.Steps))
	for i, s := range block.Steps {
		fields[i] = recordPrefix + s.Name
	}
	vals, err := e.q.rdb.HMGet(ctx, sh.run(d.Run), fields...).Result()
	if err != nil {
		return err
	}
	for i, s := range block.Steps {
		data, _ := vals[i].(string)
		r, err := decodeRecord(data)
		if data == "" || err != nil || !failsRun(s, r) {
			continue
		}
		path := block.Name + "/" + s.Name
		if s.ForEach != nil {
			if found, err := item(s.Name, path); found || err != nil {
				return err
			}
			// failed before an item did: listing them
		}
		d.Failed, d.Attempts = path, r.Attempt
		return nil
	}
	return nil
}

// NoDeadLetterError is the ErrNotFound of RetryDeadLetter: id is no dead letter now.
// Run names the dead letters its run has, when id names a run that has some: the id
// of a for_each step's or a parallel block's is RUN:STEP:join, not RUN:STEP.
type NoDeadLetterError struct {
	ID  string
	Run []DeadLetter
}

func (e *NoDeadLetterError) Error() string {
	if len(e.Run) == 0 {
		return "no dead letter " + e.ID
	}
	ids := make([]string, len(e.Run))
	for i, d := range e.Run {
		ids[i] = d.ID + " (step " + d.Step + ")"
	}
	what := "dead letter "
	if len(ids) > 1 {
		what = "dead letters "
	}
	return "no dead letter " + e.ID + "; run " + e.Run[0].Run + " has " + what + strings.Join(ids, ", ")
}

func (e *NoDeadLetterError) Unwrap() error { return ErrNotFound }

// RetryDeadLetter replays the run of a dead letter from its step, as Replay does. id
// is a dead letter's id, or RUN:STEP when the run has one dead letter of STEP, such
// as the join of a for_each step or a parallel block (RUN:STEP:join). Otherwise it
// returns a *NoDeadLetterError, with the dead letters of the run id names.
func (e *Engine) RetryDeadLetter(ctx context.Context, id string, o ReplayOptions) (*Replayed, error) {
	for _, sh := range e.q.shards {
		job, err := e.q.rdb.HGetAll(ctx, sh.job(id)).Result()
		if err != nil {
			return nil, err
		}
		if d, ok := deadLetter(id, job); ok {
			return e.Replay(ctx, d.Run, o)
		}
	}
	run, step, _ := strings.Cut(id, ":")
	dead, err := e.deadLettersOf(ctx, run)
	if err != nil {
		return nil, err
	}
	var ofStep []DeadLetter
	for _, d := range dead {
		if d.Step == step {
			ofStep = append(ofStep, d)
		}
	}
	if len(ofStep) == 1 && step != "" {
		return e.Replay(ctx, run, o)
	}
	return nil, &NoDeadLetterError{ID: id, Run: dead}
}

// deadLettersOf lists the dead letters run has now, in the order they came: the one
// that failed it, after those of earlier failures (lib.lua's dead_letter). None for a
// run that does not exist.
func (e *Engine) deadLettersOf(ctx context.Context, run string) ([]DeadLetter, error) {
	if run == "" {
		return nil, nil
	}
	fields, err := e.q.runFields(ctx, run)
	if err != nil || fields == nil {
		return nil, err
	}
	ids := strings.Fields(fields["dead_before"])
	if fields["dead"] != "" {
		ids = append(ids, fields["dead"])
	}
	sh := e.q.shardFor(fields["wf"])
	var out []DeadLetter
	for _, id := range ids {
		job, err := e.q.rdb.HGetAll(ctx, sh.job(id)).Result()
		if err != nil {
			return nil, err
		}
		if d, ok := deadLetter(id, job); ok {
			out = append(out, d)
		}
	}
	return out, nil
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
