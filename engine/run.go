package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/hookflow/hookflow/internal/httpjson"
	"github.com/hookflow/hookflow/workflows"
)

// ErrNotFound is returned for a run that does not exist or has expired.
var ErrNotFound = errors.New("run not found")

// RunSummary is a run as run listings show it.
type RunSummary struct {
	ID       string `json:"id"`
	Workflow string `json:"workflow"`
	// Version is the workflow version the run goes on with: the one it started with,
	// or the one a replay on the current version moved it to.
	Version string `json:"version"`
	// StartedVersion is the version the run started with, when a replay moved it to
	// another.
	StartedVersion string    `json:"started_version,omitempty"`
	Status         RunStatus `json:"status"` // queued, running, waiting, succeeded, failed, cancelled
	Error          string    `json:"error,omitempty"`
	// FailedStep is the step that failed the run, once its on_failure steps started.
	FailedStep string     `json:"failed_step,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	DurationMS *int64     `json:"duration_ms,omitempty"`
	// Replays counts how many times the run was replayed after it failed.
	Replays int `json:"replays,omitempty"`
	// DeadLetter is the id of the run's dead-lettered job, while it has one.
	DeadLetter string `json:"dead_letter,omitempty"`
}

// Run is a run's state and history, as the admin API shows it.
type Run struct {
	RunSummary
	// CurrentVersion is the version of the workflow in use now, when it is not the
	// run's: a replay with ReplayOptions.Current goes on with it.
	CurrentVersion string `json:"current_version,omitempty"`
	// CurrentLacks names, for a failed run that can be replayed, the steps that failed
	// it that the current version does not have: a replay with it would be refused.
	CurrentLacks []string `json:"current_lacks,omitempty"`
	// CallsGone names, for a failed run that can be replayed, the workflows that the
	// steps that failed it call, with no child started, and that are not in use now
	// (a reload removed or renamed them): a replay fails again at those steps until
	// the workflows are back.
	CallsGone []string   `json:"calls_gone,omitempty"`
	Event     *EventView `json:"event,omitempty"`
	Steps     []StepRun  `json:"steps"`
}

// EventView is the part of a run's event the API shows. Headers, query parameters
// and body fields that carry credentials are redacted.
type EventView struct {
	ID         string              `json:"id"`
	Trigger    string              `json:"trigger"`
	ReceivedAt time.Time           `json:"received_at"`
	Method     string              `json:"method,omitempty"`
	Path       string              `json:"path,omitempty"`
	Query      map[string][]string `json:"query,omitempty"`
	Headers    map[string]string   `json:"headers,omitempty"`
	Body       any                 `json:"body,omitempty"`
	// Parent is, in the event of a child run (its trigger "workflow"), the run and
	// step that started it.
	Parent *ParentView `json:"parent,omitempty"`
}

// ParentView names the run, its workflow and the step that started a child run.
type ParentView struct {
	RunID    string `json:"run_id"`
	Workflow string `json:"workflow"`
	Step     string `json:"step"`
}

// StepRun is one step of a run, one item of a for_each step, or a parallel block.
type StepRun struct {
	Name string `json:"name"`
	// Path names it in its run: the step (reserve), an item (reserve[2]), a step of a
	// parallel block (notify/slack).
	Path     string `json:"path"`
	Kind     string `json:"kind,omitempty"`     // the step kind; "parallel" for a parallel block
	Parallel string `json:"parallel,omitempty"` // the parallel block holding the step
	Key      any    `json:"key,omitempty"`      // an item's key: its index, or its key in a map
	Status   Status `json:"status"`
	Attempts int    `json:"attempts,omitempty"`
	// Version is the workflow version its last attempt ran with.
	Version string `json:"version,omitempty"`
	// NextAttemptAt is when a retrying step runs again, or a waiting one goes on: a
	// delay's end, a wait step's timeout. A workflow step waiting for its child run
	// has none: the child's end wakes it.
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	StartedAt     *time.Time `json:"started_at,omitempty"`
	FinishedAt    *time.Time `json:"finished_at,omitempty"`
	DurationMS    *int64     `json:"duration_ms,omitempty"`
	Output        any        `json:"output,omitempty"`
	Error         string     `json:"error,omitempty"`
	// Requests are what an http step sent and got back, one per attempt (the latest
	// ten), oldest first; secrets redacted, bodies cut at 64 KiB.
	Requests []workflows.Request `json:"requests,omitempty"`
	// ItemCount is how many items a for_each step has; Items are their records, in
	// order. An item not started yet is pending.
	ItemCount int       `json:"item_count,omitempty"`
	Items     []StepRun `json:"items,omitempty"`

	held string // a delay's record's Record.Held, for heldItsUnit
	// answered are the values of the credential headers of its answer, which the run
	// hides where it shows them again (hideAnswered).
	answered []string
}

// Delay says how long a delay step that succeeded held its run, from its output's
// seconds (the step itself takes no time), and whether it waited for nothing, skipped
// by a dry run or a test; ok is false for any other step.
func (s *StepRun) Delay() (ms int64, skipped, ok bool) {
	out, _ := s.Output.(map[string]any)
	if s.Kind != "delay" || s.Status != StatusSucceeded || out == nil {
		return 0, false, false
	}
	var secs float64
	switch n := out["seconds"].(type) {
	case int:
		secs = float64(n)
	case int64:
		secs = float64(n)
	case float64:
		secs = n
	case json.Number: // an answer of the admin API decoded with UseNumber, as the CLI does
		f, err := n.Float64()
		if err != nil {
			return 0, false, false
		}
		secs = f
	default:
		return 0, false, false
	}
	return int64(secs * 1000), out["skipped"] == true, true
}

// Run returns the run with the given id, or ErrNotFound.
func (e *Engine) Run(ctx context.Context, id string) (*Run, error) {
	fields, err := e.q.runFields(ctx, id)
	if err != nil {
		return nil, err
	}
	if fields == nil {
		return nil, ErrNotFound
	}
	r := &Run{RunSummary: summary(fields)}
	var rec *runRecord // of a failed run that can be replayed
	if r.Status == RunFailed && r.DeadLetter != "" {
		rec, _ = readRecord(fields)
	}
	if v := e.versions.currentOf(r.Workflow); v != nil && v.wf.Version != r.Version {
		r.CurrentVersion = v.wf.Version
		if rec != nil {
			r.CurrentLacks, _ = e.missingInCurrent(ctx, v, fields, rec) // unknown: none said
		}
	}
	if rec != nil {
		r.CallsGone, _ = e.callsGone(ctx, fields, rec) // unknown: none said
	}
	if ev, err := workflows.DecodeEvent([]byte(shownEventOf(fields))); err == nil {
		r.Event = eventView(ev, e.versions.secrets())
	}
	r.Steps, err = e.stepRuns(ctx, fields)
	if err != nil {
		return nil, err
	}
	if r.Status == RunCancelled || r.Status == RunFailed {
		if e.clock == nil { // virtual time holds no delay: a run ends before their untils
			cutDelays(r.Steps, r.FinishedAt)
		}
		cancelSteps(r.Steps, r.FinishedAt)
	}
	if !r.Status.Done() {
		holdingDelays(r.Steps, time.Now())
	}
	if r.Replays == 0 {
		heldUntilWentOn(r.Steps, r.FinishedAt)
	}
	r.hideAnswered()
	return r, nil
}

// heldUntilWentOn shows a delay step that held its run as taking the time it held it:
// from its start to when the run went on, which is later than its end when no process
// ran the run then. Its record settles as the step runs, and the step after it is
// queued for its end: the run went on when the first step after it started, or, when
// none has, when the run ended. (A delay that holds its own unit, in a for_each step
// or a parallel block or at the end of its run, records that time when it settles.)
// It is called for a run never replayed only: a replay starts the steps after the one
// that failed again.
func heldUntilWentOn(steps []StepRun, runFinished *time.Time) {
	for i := range steps {
		s := &steps[i]
		if s.Kind != "delay" || s.Status != StatusSucceeded || s.Parallel != "" || s.StartedAt == nil || s.FinishedAt == nil {
			continue
		}
		if out, _ := s.Output.(map[string]any); out["skipped"] == true {
			continue
		}
		var on *time.Time
		for _, later := range steps[i+1:] {
			at := later.StartedAt
			if at == nil {
				at = later.FinishedAt
			}
			if at != nil && (on == nil || at.Before(*on)) {
				on = at
			}
		}
		if on == nil {
			on = runFinished
		}
		if on == nil || !on.After(*s.FinishedAt) {
			continue
		}
		finished := *on
		d := finished.Sub(*s.StartedAt).Milliseconds()
		s.FinishedAt, s.DurationMS = &finished, &d
	}
}

// holdingDelays shows as waiting, until the step after it is due, a delay step that settled
// but still holds its run: the steps after it have not started. Its record says
// succeeded (the step itself is done, and the next step's job waits in the queue for
// its time), but a reader of the run sees it waiting, as an item's delay or a parallel
// block's is.
func holdingDelays(steps []StepRun, now time.Time) {
	if i, until := holdingDelay(steps, now); i >= 0 {
		s := &steps[i]
		s.Status, s.NextAttemptAt = StatusWaiting, &until
		s.FinishedAt, s.DurationMS = nil, nil
	}
}

// cutDelays shows as cancelled a delay step that held its run when the run ended,
// failed or cancelled (a cancel during the delay, or during an on_failure step's): the
// run never went on after it. Its time is from its start to the run's end. Its record
// says succeeded, as holdingDelays says, and the steps after it never started.
func cutDelays(steps []StepRun, end *time.Time) {
	if end == nil {
		return
	}
	if i, _ := holdingDelay(steps, *end); i >= 0 {
		s := &steps[i]
		s.Status = StatusCancelled
		if s.StartedAt != nil && !end.Before(*s.StartedAt) {
			d := end.Sub(*s.StartedAt).Milliseconds()
			s.FinishedAt, s.DurationMS = end, &d
		}
	}
}

// holdingDelay is the index of the delay step that settled but holds its run at time
// at, and when it lets the run go on; -1 for none. It holds the run until its seconds
// have passed since its record was written, when the step after it is due (its
// output's until is in whole seconds), if it waited for something and no step after it
// has started. Only a delay whose record was written as it started holds the run so:
// one that held its own unit (in a parallel block, or at the run's end) wrote its
// record at its end, having taken its time, and holds nothing after it.
func holdingDelay(steps []StepRun, at time.Time) (int, time.Time) {
	for i := range steps {
		s := &steps[i]
		ms, skipped, ok := s.Delay()
		if !ok || skipped || s.FinishedAt == nil || s.Parallel != "" || heldItsUnit(s, ms) {
			continue
		}
		until := s.FinishedAt.Add(time.Duration(ms) * time.Millisecond).UTC()
		if !until.After(at) {
			continue
		}
		for _, later := range steps[i+1:] {
			if later.Status != StatusPending {
				return -1, time.Time{} // the run went past it: a replay, or a clock that moved back
			}
		}
		return i, until
	}
	return -1, time.Time{}
}

// heldItsUnit reports whether delay step s, of ms, held its own unit, its record
// written at its end, as the record says. One written before records said so is told
// by its time: written at its end, it took the delay's, where the record of a delay
// the next step's job waits for is written at its start and takes next to none (a
// guess that an attempt slow next to its delay, or a held record that kept its
// attempt's time, misled).
func heldItsUnit(s *StepRun, ms int64) bool {
	switch s.held {
	case heldRun:
		return false
	case heldUnit:
		return true
	}
	return s.DurationMS != nil && *s.DurationMS > 0 && *s.DurationMS >= ms/2
}

// RunEvent returns a run's event as it was stored: its headers and body fields that
// are credentials as they came (eventView redacts them), for a reader that must know
// them to leave them out, such as a run exported as a test. Sensitive values of a
// parent run in a child run's input are [sensitive] there too: that reader shows
// what it writes. ErrNotFound when there is no such run.
func (e *Engine) RunEvent(ctx context.Context, id string) (*workflows.Event, error) {
	fields, err := e.q.runFields(ctx, id)
	if err != nil {
		return nil, err
	}
	if fields == nil {
		return nil, ErrNotFound
	}
	return workflows.DecodeEvent([]byte(shownEventOf(fields)))
}

// StepValues returns what the later steps of a run read as steps.NAME, by the name of
// each step that settled (on_failure/NAME for a step of its on_failure block): its
// output with its outcome, and its error when it failed; a skipped step's is only
// its outcome. A for_each step's is the list (or map) of its items' values, and each
// item's is there too, by its name in the run's history, STEP[KEY]. Values are as
// stored: a sensitive step's output is [sensitive] once its run succeeded, unless
// Options.KeepSensitive kept it.
// ErrNotFound when there is no such run.
func (e *Engine) StepValues(ctx context.Context, id string) (map[string]any, error) {
	fields, err := e.q.runFields(ctx, id)
	if err != nil {
		return nil, err
	}
	if fields == nil {
		return nil, ErrNotFound
	}
	rec, err := readRecord(fields)
	if err != nil {
		return nil, err
	}
	values := map[string]any{}
	for name, r := range rec.steps {
		if !r.Status.Settled() {
			continue
		}
		v, err := r.value()
		if err != nil {
			return nil, fmt.Errorf("step %s: %w", name, err)
		}
		values[name] = v
		if !r.ForEach {
			continue
		}
		switch items := v.(type) {
		case []any:
			for i, item := range items {
				values[fmt.Sprintf("%s[%d]", name, i)] = item
			}
		case map[string]any:
			for k, item := range items {
				values[name+"["+k+"]"] = item
			}
		}
	}
	return values, nil
}

// cancelSteps marks what had not settled in a run that ended failed or cancelled
// cancelled: it never will (the steps after the one that failed, and every step of a
// run its filter failed). One that had started (a wait step waiting, a step between
// its retries) ended with the run, at end: its duration runs to then.
func cancelSteps(steps []StepRun, end *time.Time) {
	for i := range steps {
		if s := &steps[i]; !s.Status.Settled() {
			s.Status, s.NextAttemptAt = StatusCancelled, nil
			if s.StartedAt != nil && end != nil && end.After(*s.StartedAt) {
				d := end.Sub(*s.StartedAt).Milliseconds()
				s.FinishedAt, s.DurationMS = end, &d
			}
		}
		cancelSteps(steps[i].Items, end)
	}
}

// summary reads a run hash's fields (those of summaryFields at least).
func summary(fields map[string]string) RunSummary {
	r := RunSummary{
		ID:         fields["id"],
		Workflow:   fields["wf"],
		Version:    fields["ver"],
		Status:     RunStatus(fields["status"]),
		Error:      fields["error"],
		FailedStep: fields["failed_step"],
		CreatedAt:  msTime(fields["created"]),
		DeadLetter: fields["dead"],
	}
	if v := fields["started_ver"]; v != r.Version {
		r.StartedVersion = v
	}
	r.Replays, _ = strconv.Atoi(fields["replays"])
	if t := msTime(fields["started"]); !t.IsZero() {
		r.StartedAt = &t
	}
	if t := msTime(fields["finished"]); !t.IsZero() {
		r.FinishedAt = &t
		d := t.Sub(r.CreatedAt).Milliseconds()
		r.DurationMS = &d
	}
	return r
}

var summaryFields = []string{"id", "wf", "ver", "started_ver", "status", "error", "failed_step", "created", "started", "finished", "replays", "dead"}

// stepRuns lists a run's steps in the order of its workflow version: a parallel block
// followed by its steps, a for_each step with its items. Those not reached yet are
// pending. The records of steps the version does not have (a replay moved the run to
// a version without them) follow, in the order they finished, after the on_failure
// steps that ran (on_failure/notify). When this process does
// not know the version, it lists the recorded steps in the order they finished.
func (e *Engine) stepRuns(ctx context.Context, fields map[string]string) ([]StepRun, error) {
	out, err := e.stepRunsOf(ctx, fields)
	// A record names no version when it ran with the one its run started with.
	started := fields["started_ver"]
	if started == "" {
		started = fields["ver"]
	}
	for i := range out {
		if out[i].Version == "" && out[i].Status != StatusPending {
			out[i].Version = started
		}
		for k := range out[i].Items {
			if it := &out[i].Items[k]; it.Version == "" && it.Status != StatusPending && it.Status != StatusCancelled {
				it.Version = started
			}
		}
	}
	return out, err
}

func (e *Engine) stepRunsOf(ctx context.Context, fields map[string]string) ([]StepRun, error) {
	rec, _ := readRecord(fields) // a record that cannot be read is shown as pending
	out := []StepRun{}
	wf, err := e.versions.view(ctx, fields["wf"], fields["ver"])
	if err != nil {
		return byFinish(rec.steps, nil), nil
	}
	sh := e.q.shardFor(wf.Name)
	// The steps and items not settled whose jobs may be leased: a step in flight has no
	// record until its attempt ends, and shows as running while its job is leased.
	type unsettled struct {
		step, item int // item -1: the step itself
		job        string
	}
	var maybe []unsettled
	active := fields["status"] == string(RunRunning) || fields["status"] == string(RunQueued)
	look := func(step, item int, sr *StepRun, job string) {
		if active && (sr.Status == StatusPending || sr.Status == StatusRetrying) {
			maybe = append(maybe, unsettled{step, item, job})
		}
	}
	deadline := e.deadlineOf(wf, fields)
	view := func(s *workflows.Step, path string) (StepRun, error) {
		sr := StepRun{Name: s.Name, Path: path, Status: StatusPending}
		if r := rec.steps[s.Name]; r != nil {
			sr = r.stepView(s, path)
			sr.cutAt(deadline)
		}
		sr.Kind, sr.Parallel = s.Kind, s.Parallel
		if s.ForEach == nil {
			return sr, nil
		}
		set, err := e.q.readItems(ctx, sh, fields["id"], s.Name)
		if err != nil || set == nil {
			return sr, err
		}
		sr.ItemCount = set.n
		sr.Items = make([]StepRun, set.n)
		for i := range set.n {
			item := StepRun{Name: s.Name, Status: StatusPending}
			if sr.Status.Settled() {
				item.Status = StatusCancelled // another item failed the step first
			}
			if r := set.records[i]; r != nil {
				item = r.stepView(s, "")
				item.cutAt(deadline)
			}
			item.Path = fmt.Sprintf("%s[%v]", path, set.key(i))
			item.Kind, item.Parallel, item.Key = s.Kind, s.Parallel, set.key(i)
			sr.Items[i] = item
			look(len(out), i, &item, unit{step: s.Name, part: partItem, item: i}.jobID(fields["id"]))
		}
		return sr, nil
	}
	for _, n := range wf.Nodes {
		if !n.Parallel {
			sr, err := view(n.Steps[0], n.Name)
			if err != nil {
				return nil, err
			}
			if n.Steps[0].ForEach == nil {
				look(len(out), -1, &sr, unit{step: n.Steps[0].Name}.jobID(fields["id"]))
			}
			out = append(out, sr)
			continue
		}
		block := StepRun{Name: n.Name, Path: n.Name, Kind: "parallel", Status: StatusPending}
		if r := rec.steps[n.Name]; r != nil {
			block = r.view(n.Name, n.Name)
			block.Kind = "parallel"
		} else if rec.counts[n.Name] > 0 {
			block.Status = StatusRunning
		}
		out = append(out, block)
		for _, s := range n.Steps {
			sr, err := view(s, n.Name+"/"+s.Name)
			if err != nil {
				return nil, err
			}
			if s.ForEach == nil {
				look(len(out), -1, &sr, unit{step: s.Name}.jobID(fields["id"]))
			}
			out = append(out, sr)
		}
	}
	// The on_failure steps that ran for the run's failure, and the one in flight, which
	// has no record yet: a row of its own only while its job is leased.
	unrecorded := map[int]bool{}
	for _, s := range wf.OnFailure {
		sr := StepRun{Name: s.Name, Path: s.Name, Status: StatusPending}
		if r := rec.steps[s.Name]; r != nil {
			sr = r.stepView(s, s.Name)
		} else if !active {
			continue
		} else {
			unrecorded[len(out)] = true
		}
		sr.Kind = s.Kind
		look(len(out), -1, &sr, unit{step: s.Name}.jobID(fields["id"]))
		out = append(out, sr)
	}
	if len(maybe) > 0 {
		jobs := make([]string, len(maybe))
		for i, m := range maybe {
			jobs[i] = m.job
		}
		scores, err := e.q.rdb.ZMScore(ctx, sh.keys.leases, jobs...).Result()
		if err != nil {
			return nil, err
		}
		for i, m := range maybe {
			if scores[i] == 0 { // not leased (ZMSCORE's nil)
				continue
			}
			sr := &out[m.step]
			if m.item >= 0 {
				sr = &sr.Items[m.item]
			}
			sr.Status, sr.NextAttemptAt = StatusRunning, nil
		}
	}
	if len(unrecorded) > 0 {
		kept := out[:0]
		for i, sr := range out {
			if !unrecorded[i] || sr.Status == StatusRunning {
				kept = append(kept, sr)
			}
		}
		out = kept
	}
	return append(out, byFinish(rec.steps, wf)...), nil
}

// byFinish lists the records of steps and parallel blocks that wf does not have (all
// of them for a nil wf), in the order they finished.
func byFinish(records map[string]*Record, wf *workflows.Workflow) []StepRun {
	out := []StepRun{}
	for name, r := range records {
		if wf != nil {
			if s, _ := wf.Step(name); s != nil || wf.Node(name) != nil { // a step, a block, an on_failure step
				continue
			}
		}
		out = append(out, r.view(name, name))
	}
	sort.Slice(out, func(i, j int) bool { return timeOf(out[i].FinishedAt).Before(timeOf(out[j].FinishedAt)) })
	return out
}

func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// deadlineOf is when the timeout of a run of wf (its fields) passes: its timeout after
// it was created, or last replayed; zero without a timeout, or under virtual time.
func (e *Engine) deadlineOf(wf *workflows.Workflow, fields map[string]string) time.Time {
	if wf.Timeout <= 0 || e.clock != nil {
		return time.Time{}
	}
	from := msTime(fields["created"])
	if t := msTime(fields["replayed"]); t.After(from) {
		from = t
	}
	return from.Add(wf.Timeout).UTC()
}

// cutAt shows a step (not of on_failure, which the run's timeout does not bound) going
// on at the run's deadline when it would past it: a wait step's timeout, or a delay's
// end, further than the deadline that ends them first.
func (sr *StepRun) cutAt(deadline time.Time) {
	if sr.NextAttemptAt != nil && !deadline.IsZero() && sr.NextAttemptAt.After(deadline) {
		sr.NextAttemptAt = &deadline
	}
}

// stepView is the record of step s (or of an item of it) as the admin API shows it. A
// wait step's record written before records were marked Resume is shown as one that
// is.
func (r *Record) stepView(s *workflows.Step, path string) StepRun {
	sr := r.view(s.Name, path)
	if s.Kind == "wait" && !r.Resume {
		sr.Output = redactResume(sr.Output)
	}
	if s.Kind == "wait" && sr.Status == StatusWaiting {
		r.waitingForResume(&sr)
	}
	if s.Kind == "workflow" && sr.Status == StatusWaiting {
		r.waitingForChild(&sr)
	}
	return sr
}

// waitingForResume shows a wait step waiting as the wait it is: started
// when the run reached it, not finished, and going on at its timeout (or when resumed).
// Its record is that of its last park: when that ended is no end of the step, whose
// duration is the wait, known once it ends.
func (r *Record) waitingForResume(sr *StepRun) {
	started := time.UnixMilli(r.firstStarted()).UTC()
	sr.StartedAt, sr.FinishedAt, sr.DurationMS = &started, nil, nil
}

// waitingForChild shows a workflow step (or item) waiting for its child run as the
// wait it is: started when the step first did, and going on when the child ends,
// which wakes it. Its record is that of its last look at the child (the step parks
// between looks, childPoll): when that look ended, what it took and when the next is
// are no times of the step, and would change at each look.
func (r *Record) waitingForChild(sr *StepRun) {
	started := time.UnixMilli(r.firstStarted()).UTC()
	sr.StartedAt, sr.FinishedAt, sr.DurationMS, sr.NextAttemptAt = &started, nil, nil, nil
}

// view is the record as the admin API shows it.
func (r *Record) view(name, path string) StepRun {
	sr := StepRun{Name: name, Path: path, Status: r.Status, Attempts: r.Attempt, Version: r.Version, Error: r.Error,
		ItemCount: r.Items, held: r.Held}
	switch {
	case r.Status == StatusRunning && r.Finished > 0:
		started := time.UnixMilli(r.Finished).UTC() // when its items were listed
		sr.StartedAt = &started
	case r.Finished > 0:
		// A unit tried more than once took the time from its first attempt's start to
		// its last's end, the waits between them included; one still retrying shows
		// its last attempt, and when the next is.
		d := r.DurationMS
		if r.Status.Settled() && r.Started > 0 {
			d = max(r.Finished-r.Started, d)
		}
		end := r.Finished
		if r.Status.Settled() && r.Ended > 0 && r.Ended < end && r.Ended >= end-d {
			// It ended before a process recorded it: its time runs to its end.
			end, d = r.Ended, r.Ended-(end-d)
		}
		finished := time.UnixMilli(end).UTC()
		started := finished.Add(-time.Duration(d) * time.Millisecond)
		sr.StartedAt, sr.FinishedAt, sr.DurationMS = &started, &finished, &d
	}
	if (r.Status == StatusRetrying || r.Status == StatusWaiting) && r.RetryAt > 0 {
		t := time.UnixMilli(r.RetryAt).UTC()
		sr.NextAttemptAt = &t
	}
	if out, err := r.output(); err == nil && !r.ForEach {
		sr.answered = answeredValues(out, nil)
		sr.Output = redactOutput(out)
		if r.Resume {
			sr.Output = redactResume(sr.Output)
		}
	}
	if r.Sensitive && len(r.Output) > 0 {
		sr.Output = workflows.SensitiveShown
	}
	sr.Requests = r.requests()
	return sr
}

const redacted = workflows.Redacted

// IsCredentialHeader reports whether a header's value is a credential, never shown.
func IsCredentialHeader(name string) bool { return workflows.IsCredentialName(name) }

// redactOutput hides credential headers in a step output shaped like an http step's.
func redactOutput(out any) any {
	m, ok := out.(map[string]any)
	if !ok {
		return out
	}
	headers, ok := m["headers"].(map[string]any)
	if !ok {
		return out
	}
	for k := range headers {
		if IsCredentialHeader(k) {
			headers[k] = redacted
		}
	}
	return m
}

// redactResume hides the body fields and query parameters named as credentials in the
// output of a wait step that a resume gave, as in an event.
func redactResume(out any) any {
	m, ok := out.(map[string]any)
	if !ok {
		return out
	}
	m["body"] = workflows.RedactCredentialFields(m["body"])
	m["query"] = workflows.RedactCredentialFields(m["query"])
	return m
}

// eventView is an event as the history shows it: credential headers (kept by events of
// older versions), query parameters and body fields named as credentials are
// [redacted], and so are secrets in its path and query (a webhook's URL may hold one).
// Steps read the event as it came.
func eventView(ev *workflows.Event, secrets *workflows.Redactor) *EventView {
	v := &EventView{ID: ev.ID, Trigger: ev.Trigger, ReceivedAt: ev.ReceivedAt, Method: ev.Method,
		Path: secrets.String(ev.Path), Body: workflows.RedactCredentialFields(ev.Body), Headers: map[string]string{}}
	if p := ev.Parent; p != nil {
		v.Parent = &ParentView{RunID: p.RunID, Workflow: p.Workflow, Step: p.Step}
	}
	if len(ev.Query) > 0 {
		v.Query = make(map[string][]string, len(ev.Query))
		for k, vals := range ev.Query {
			credential := workflows.IsCredentialName(k)
			shown := make([]string, len(vals))
			for i, val := range vals {
				if credential {
					val = redacted
				}
				shown[i] = secrets.String(val)
			}
			v.Query[secrets.String(k)] = shown
		}
	}
	for k, val := range ev.Headers {
		if IsCredentialHeader(k) {
			val = redacted
		}
		v.Headers[k] = val
	}
	return v
}

// EventBody is the body of ev, a run's event as RunEvent returns it, as the history
// shows it (eventView), in the bytes that send it again: a text body as it is; none as
// nothing; any other value, and a JSON body that is a string ("hi"), as compact JSON,
// its fields named as credentials [redacted] and each number as it was written (the
// view's body holds a float64 for a number with a fraction, or a whole one past 64
// bits, which may lose digits). A JSON string sent as its text would not be JSON any
// more (hi), or another value ("{\"a\":1}" would become an object).
func EventBody(ev *workflows.Event) ([]byte, error) {
	body, err := ev.ExactBody()
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", ev.ID, err)
	}
	switch b := body.(type) {
	case nil:
		return nil, nil
	case string:
		// ExactBody parsed it, so its content type parses. A string is JSON only
		// when the content type says so: a body without one is JSON when it
		// starts with { or [, which no string does.
		if media, _ := workflows.MediaType(ev.ContentType); !workflows.IsJSONMedia(media) {
			return []byte(b), nil
		}
	}
	return httpjson.Marshal(workflows.RedactCredentialFields(body))
}

func msTime(s string) time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
