package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// A wait step parks its run's job in the queue, as a workflow step waiting for its
// child does: due when the wait's timeout passes, holding no worker. What resumes it
// (a POST to its resume URL, hookflow runs resume) is stored in the run hash, in
// w:<step>, and makes the job due at once; the worker that leases it then settles the
// step with it. A resume that comes before the run reaches the wait waits there for
// it. A timeout stores a marker in the same field, so that the first of the two wins
// and a resume that comes later is refused.

// resumePrefix is the run hash field prefix of what resumed a wait step:
// w:<step> holds a workflows.Resume as JSON, or timedOutMark.
const resumePrefix = "w:"

// timedOutMark is in w:<step> once the wait timed out.
const timedOutMark = "timeout"

// runTimedOutMark is park.lua's reply for a wait its run's deadline ended.
const runTimedOutMark = "run timeout"

// ErrResumed is returned for a wait step resumed already.
var ErrResumed = errors.New("the wait was resumed already")

// ErrBadToken is returned for a resume token not made with the key: a guess, or a
// link damaged, cut short or redacted. It is an ErrNotFound, as it names no wait.
var ErrBadToken = fmt.Errorf("%w: not a resume token", ErrNotFound)

// WaitOverError is returned for a resume of a wait step that timed out, or that ended
// otherwise (the run was replayed past it). It is an ErrNotFound: a resume URL answers
// it as one, the link having expired.
type WaitOverError struct {
	Step     string
	TimedOut bool
	At       time.Time // when it timed out or ended; zero when not known
}

func (e *WaitOverError) Error() string {
	what := "is over"
	if e.TimedOut {
		what = "timed out"
	}
	if e.At.IsZero() {
		return fmt.Sprintf("the wait of step %s %s", e.Step, what)
	}
	return fmt.Sprintf("the wait of step %s %s at %s", e.Step, what, e.At.UTC().Format(time.RFC3339))
}

// Is makes a WaitOverError an ErrNotFound.
func (e *WaitOverError) Is(target error) bool { return target == ErrNotFound }

// errWaitOver is resume.lua's reply for a wait that is over; resume1 makes it a
// WaitOverError.
var errWaitOver = errors.New("the wait is over")

// errPastDeadline is resume.lua's reply for a run whose timeout has passed; resume1
// makes it an ErrFinished: the run fails at its deadline, whether a worker has seen
// it yet or not.
var errPastDeadline = errors.New("the run's timeout has passed")

// ErrNotWaiting is returned for a resume of a step that is not a wait step.
var ErrNotWaiting = errors.New("not a wait step")

// wait runs a unit of a wait step: it goes on with the resume stored for the step,
// times out (or fails for its run's deadline, by Redis's clock), or parks the job
// until one or the other.
func (p *Pool) wait(r *runState, j *job, step *workflows.Step, w workflows.Waiter) *job {
	start := time.Now()
	if skip := checkIf(step, r.env); skip != nil {
		return p.settle(r, j, step, *skip)
	}
	// When the wait times out: as the record parked it, else from now (by Redis's clock).
	deadline, parkedAt := int64(0), int64(0)
	if rec := r.rec.steps[step.Name]; rec != nil && rec.Status == StatusWaiting {
		deadline, parkedAt = rec.RetryAt, rec.firstStarted()
	}
	most := int64(-1)
	if !r.deadline.IsZero() && !workflows.IsOnFailure(step.Name) {
		most = r.capWait(step, step.Timeout).Milliseconds()
	}
	rec := newRecord(StatusWaiting, j.attempt, nil, nil)
	rec.Version, rec.Started = r.recVer, parkedAt // parked again: it keeps its first park's time
	mark := flag(step.Parallel == "")             // an on_failure wait too: the run waits for it
	join := ""                                    // in a parallel block: its count of steps still to settle
	if step.Parallel != "" {
		join = countPrefix + step.Parallel
	}
	var got string
	parked := p.persist(r, j, func() error {
		sh := j.shard
		res, err := parkScript.Run(context.Background(), p.e.q.rdb,
			[]string{sh.job(j.id), sh.run(r.id), sh.leases(), sh.ready(r.workflow), sh.due(), sh.wake()},
			j.id, j.token, recordPrefix+step.Name, encodeRecord(rec), time.Since(start).Milliseconds(),
			deadline, step.Timeout.Milliseconds(), most, r.workflow, resumePrefix+step.Name, timedOutMark, mark, join,
			runTimedOutMark, deadlineSlack.Milliseconds()).Text()
		got = res
		return scriptError(err)
	})
	if !parked {
		return nil
	}
	if got == "" {
		if parkedAt == 0 { // its first park: the delay before it, if any, has ended
			p.countDelay(r, p.delayEnded(r, j, time.Since(start)))
		}
		p.e.waiters.wake(r.id) // parked: a caller waiting for the run sees it waiting
		return nil
	}
	took := p.since(parkedAt, start)
	// A wait that parked ended at its timeout, or at the run's deadline, though no
	// process ran then to settle it: its record says so.
	ended := deadline
	switch {
	case got == runTimedOutMark:
		o := p.timedOut(r, j, step)
		if parkedAt > 0 {
			o.ended = r.deadline.UnixMilli()
		}
		return p.settle(r, j, step, o)
	case got == timedOutMark && w.Continues():
		return p.settle(r, j, step, outcome{status: StatusSucceeded, output: workflows.TimedOutOutput(), duration: took,
			ended: ended})
	case got == timedOutMark:
		return p.settle(r, j, step, outcome{status: StatusFailed, output: workflows.TimedOutOutput(), duration: took,
			ended: ended, err: workflows.Permanent(workflows.WaitTimedOut(step.Timeout))})
	}
	res, err := workflows.DecodeResume([]byte(got))
	var out map[string]any
	if err == nil {
		out, err = res.Output()
	}
	if err != nil {
		return p.settle(r, j, step, outcome{status: StatusFailed, err: workflows.Permanent(err), duration: took})
	}
	return p.settle(r, j, step, outcome{status: StatusSucceeded, output: out, duration: took, resumed: true})
}

// resumedInTime reports whether j is a wait step's unit that parked, and that a resume
// was stored for before its run's deadline (resume.lua refuses one past it): the
// resume was answered as taken, and the wait goes on with it though a worker sees it
// only past the deadline. (The step after it fails for the deadline.)
func resumedInTime(r *runState, j *job, step *workflows.Step) bool {
	if !isWait(step) || waitingRecord(r, j) == nil {
		return false
	}
	got := j.run[resumePrefix+step.Name]
	return got != "" && got != timedOutMark
}

// since is how long it has been since at (ms by Redis's clock; 0 when not known), by
// Redis's clock too, and at least since start, by this process's: a wait step's
// duration in the run, from the start of the attempt that parked it (0 when it did
// not park, as its resume came first) to now.
func (p *Pool) since(at int64, start time.Time) time.Duration {
	took := time.Since(start)
	if at <= 0 {
		return took
	}
	now, err := p.e.q.rdb.Time(p.work).Result()
	if err != nil {
		now = time.Now() // the record's duration only: the clocks are close
	}
	return max(now.Sub(time.UnixMilli(at)), took)
}

// Resumed is what a resume did.
type Resumed struct {
	RunID    string `json:"run_id"`
	Workflow string `json:"workflow"`
	Step     string `json:"step"`
	// Waiting says that the run was waiting at the step and goes on now; false when it
	// has not reached the step yet, which will go on at once when it does.
	Waiting bool `json:"waiting"`
}

// Resume resumes the wait step of run id with res. It reports ErrNotFound for a run
// that does not exist (or expired), a *WaitOverError (an ErrNotFound too) for a wait
// that timed out or ended otherwise, ErrResumed for a wait resumed already, ErrFinished for a run that has finished, and
// ErrNotWaiting for a step that is not a wait step. When it returns nil, the resume is
// in Redis.
func (e *Engine) Resume(ctx context.Context, id, step string, res *workflows.Resume) (*Resumed, error) {
	fields, err := e.q.runFields(ctx, id)
	if err != nil {
		return nil, err
	}
	if fields == nil {
		return nil, ErrNotFound
	}
	wf, err := e.versions.get(ctx, fields["wf"], fields["ver"])
	if err != nil {
		return nil, err
	}
	s := wf.WaitStep(step)
	if s == nil {
		return nil, fmt.Errorf("%w: workflow %s has no wait step %q", ErrNotWaiting, wf.Name, step)
	}
	return e.resume1(ctx, waitRef{workflow: wf.Name, run: id, step: s.Name}, res)
}

// ResumeToken resumes the wait step a resume URL's token names. It reports ErrBadToken
// for a token not made with the key, ErrNotFound for one that names no wait, and
// otherwise as Resume does.
func (e *Engine) ResumeToken(ctx context.Context, token string, res *workflows.Resume) (*Resumed, error) {
	w, err := e.waitOf(ctx, token)
	if err != nil {
		return nil, err
	}
	return e.resume1(ctx, w, res)
}

func (e *Engine) resume1(ctx context.Context, w waitRef, res *workflows.Resume) (*Resumed, error) {
	data, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	sh := e.q.shardFor(w.workflow)
	jobID := unit{step: w.step}.jobID(w.run)
	n, err := resumeScript.Run(ctx, e.q.rdb, []string{sh.run(w.run), sh.ready(w.workflow), sh.due(), sh.wake()},
		w.run, resumePrefix+w.step, recordPrefix+w.step, jobID, w.workflow, data, timedOutMark,
		flag(!workflows.IsOnFailure(w.step))).Int64()
	switch err = scriptError(err); {
	case errors.Is(err, errWaitOver):
		return nil, e.waitOver(ctx, w)
	case errors.Is(err, errPastDeadline):
		return nil, fmt.Errorf("%w: its timeout passed before the resume came, and it fails for it", ErrFinished)
	}
	if err != nil {
		return nil, refusedCall(err)
	}
	e.log.Info("wait resumed", "run", w.run, "workflow", w.workflow, "step", w.step, "waiting", n == 1)
	return &Resumed{RunID: w.run, Workflow: w.workflow, Step: w.step, Waiting: n == 1}, nil
}

// waitOver says how the wait w ended: timed out or not, and when, as far as its run
// still says.
func (e *Engine) waitOver(ctx context.Context, w waitRef) *WaitOverError {
	over := &WaitOverError{Step: w.step}
	vals, err := e.q.rdb.HMGet(ctx, e.q.shardFor(w.workflow).run(w.run), resumePrefix+w.step, recordPrefix+w.step).Result()
	if err != nil {
		return over
	}
	had, _ := vals[0].(string)
	over.TimedOut = had == timedOutMark
	data, _ := vals[1].(string)
	rec, err := decodeRecord(data)
	switch {
	case data == "" || err != nil:
	case rec.Ended > 0: // it ended before it was recorded
		over.At = time.UnixMilli(rec.Ended)
	case rec.Finished > 0:
		over.At = time.UnixMilli(rec.Finished)
	case over.TimedOut && rec.RetryAt > 0:
		over.At = time.UnixMilli(rec.RetryAt) // timed out, and not settled yet
	}
	return over
}

// pastDeadline reports whether a run's timeout has passed, from its run hash's
// timeoutField, created and replayed (as HMGET gives them), by this process's clock;
// false for a run without a timeout.
func pastDeadline(timeout, created, replayed any) bool {
	ms, _ := timeout.(string)
	t, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return false
	}
	c, _ := created.(string)
	r, _ := replayed.(string)
	from := msTime(c)
	if at := msTime(r); at.After(from) {
		from = at
	}
	return !time.Now().Before(from.Add(time.Duration(t) * time.Millisecond))
}

// waitOf reads the wait a token names; ErrBadToken for a token not made with the key.
func (e *Engine) waitOf(ctx context.Context, token string) (waitRef, error) {
	key, err := e.resumeKey(ctx)
	if err != nil {
		return waitRef{}, err
	}
	w, err := parseToken(key, token)
	if err != nil {
		return waitRef{}, ErrBadToken
	}
	return w, nil
}

// WaitInfo is what a resume URL's page tells of its wait.
type WaitInfo struct {
	RunID    string
	Workflow string
	Step     string
	Status   RunStatus // the run's
}

// Wait reads the wait a resume URL's token names, as Resume would find it: ErrBadToken
// for a token not made with the key, ErrNotFound for one that names no wait or one that
// is over, ErrResumed for one resumed already. It changes nothing.
func (e *Engine) Wait(ctx context.Context, token string) (*WaitInfo, error) {
	w, err := e.waitOf(ctx, token)
	if err != nil {
		return nil, err
	}
	vals, err := e.q.rdb.HMGet(ctx, e.q.shardFor(w.workflow).run(w.run), "status", resumePrefix+w.step, recordPrefix+w.step,
		timeoutField, "created", "replayed").Result()
	if err != nil {
		return nil, err
	}
	status, _ := vals[0].(string)
	had, _ := vals[1].(string)
	data, _ := vals[2].(string)
	switch {
	case status == "", had == timedOutMark:
		return nil, ErrNotFound
	case had != "":
		return nil, ErrResumed
	case RunStatus(status).Done():
		return nil, ErrFinished
	case pastDeadline(vals[3], vals[4], vals[5]) && !workflows.IsOnFailure(w.step):
		return nil, fmt.Errorf("%w: its timeout has passed", ErrFinished) // as Resume would find it
	}
	if rec, err := decodeRecord(data); data != "" && err == nil && rec.Status.Settled() {
		return nil, ErrNotFound
	}
	return &WaitInfo{RunID: w.run, Workflow: w.workflow, Step: w.step, Status: RunStatus(status)}, nil
}
