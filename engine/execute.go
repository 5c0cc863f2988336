package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// resumeAttempts bounds how many times a job is tried again when its run cannot be
// resumed for a reason that may pass (Redis failing to give the version's source).
const resumeAttempts = 10

// execute runs a leased job and, chained, the units the planner gives it next.
func (p *Pool) execute(j *job) {
	defer func() {
		<-p.slots
		p.running.Done()
	}()
	r, err := p.e.resume(p.work, j)
	if retry, _ := workflows.Retryable(err); err != nil && retry && j.attempt < resumeAttempts {
		// Redis failed us (reading the version's source): try the job again later,
		// waiting longer each time, as a failed attempt.
		wait := backoffOf(j.attempt)
		p.logError("resuming a run failed; trying its step again later", "run", r.id, "step", j.unit,
			"retry_in_ms", wait.Milliseconds(), "err", err)
		p.retry(r, j, outcome{status: StatusFailed, err: err}, wait)
		return
	}
	if err != nil {
		// The run cannot go on here; record why rather than leave it queued forever. It
		// is dead-lettered, to be replayed once the cause is fixed.
		msg := fmt.Sprintf("step %s: %v", j.unit, err)
		rec := newRecord(StatusFailed, j.attempt, nil, err)
		rec.Version = r.recVer
		p.commit(r, j, commit{record: rec, dead: true,
			plan: &Plan{Status: RunFailed, Error: msg, FailedStep: j.unit.step}})
		return
	}
	for j != nil {
		j = p.run(r, j)
	}
}

// backoffOf is how long a job waits after attempt failed for a reason of hookflow's own
// (Redis, a version's source): doubling from a second, at most a minute.
func backoffOf(attempt int) time.Duration {
	return min(time.Second<<min(max(attempt-1, 0), 6), time.Minute)
}

// run runs one unit of r and returns the unit chained after it, if any.
func (p *Pool) run(r *runState, j *job) *job {
	step, _ := r.wf.Step(j.unit.step)
	switch {
	case j.unit.part == partJoin:
		return p.join(r, j)
	case j.held != nil && !j.held.TimedOut && r.delayCut(step, j.held):
		// The run's timeout passed before its delay ended: it fails the run, ending at
		// the deadline. (A delay held since before its settle cut delays at the
		// deadline, which holds them with their failure.)
		held := p.heldFor(r, j)
		counted, ended := p.cutHeld(r, j, held)
		return p.settle(r, j, step, outcome{status: StatusFailed, err: r.timeoutError(), timedOut: true,
			duration: held, counted: counted, ended: ended})
	case j.held != nil:
		// It waited out its delay, or the run's deadline that cut it: it settles as it
		// was held (even if committing that kept failing: the delay itself is done),
		// having taken the time it held its unit, from its start to now (a process
		// down past its end held it longer), as a wait step does; and is recorded so
		// in the step metrics now, at its end (settle left it), once stored. One the
		// deadline cut ended there, though no process may have run then: it shows, and
		// counts, its time to the deadline, as a wait step the deadline ends does.
		held := p.heldFor(r, j)
		rec, counted := *j.held, held
		rec.Held = heldUnit // so is one an earlier version held, which did not say
		// Its time is held, which the commit writes: the attempt's, kept in the held
		// record, would come after it in the record and be the one read.
		rec.DurationMS = 0
		if rec.TimedOut {
			counted, rec.Ended = p.cutHeld(r, j, held)
		}
		next, stored := p.commit(r, j, commit{record: &rec, plan: r.planWithUnit(j.unit, &rec), duration: held})
		if stored && step != nil {
			p.e.metrics.stepDone(r.workflow, step.Name, step.Kind, string(rec.Status), counted)
		}
		return next
	case j.crashed != "":
		// Its workers kept dying on it: record it failed without running it again. Its
		// attempts are those that died: this lease's does not run.
		return p.settle(r, j, step, outcome{status: StatusFailed, err: errors.New(j.crashed), attempts: j.attempt - 1})
	case r.clock != nil && r.virtualTimedOut(j.unit, step):
		// Under virtual time, its run's timeout passed while it waited: it keeps what it
		// did, as under serve.
		return p.settle(r, j, step, p.timedOut(r, j, step))
	case r.timedOut(step) && !parksForDeadline(r, j, step) && !resumedInTime(r, j, step):
		// Its run's timeout passed while it waited (a delay, a retry, a slot, a wait
		// step's wait, a workflow step's child): it fails the run without running. A
		// wait step that parks leaves that to park.lua, which decides it by Redis's
		// clock, at once with a resume that came (Pool.wait): a resume resume.lua took
		// before the deadline is not lost to this process's clock running ahead.
		if err := p.cancelChildOf(r, j, step); err != nil {
			// Its child runs on: while Redis may come back, this unit tries again, and
			// settles once it is cancelled; else it settles, and the child runs on.
			if retry, _ := workflows.Retryable(err); retry && j.attempt < resumeAttempts {
				p.logError("cancelling the child run of a run that timed out failed; trying again",
					"run", r.id, "step", j.unit, "err", err)
				p.retry(r, j, outcome{status: StatusFailed, err: err}, backoffOf(j.attempt))
				return nil
			}
			p.e.log.Warn("cancelling the child run of a run that timed out failed; it runs on", "run", r.id, "step", j.unit, "err", err)
		}
		return p.settle(r, j, step, p.timedOut(r, j, step))
	case j.unit.part == partStep && step.ForEach != nil:
		return p.list(r, j, step)
	}
	var item *workflows.Item
	if j.unit.part == partItem {
		var err error
		if item, err = j.item(); err != nil {
			return p.settle(r, j, step, outcome{status: StatusFailed, err: err})
		}
	}
	if w, ok := step.Action.(workflows.Waiter); ok && w.Parks() {
		return p.wait(r, j, step, w)
	}
	if sub, ok := step.Action.(workflows.SubRun); ok {
		return p.subRun(r, j, step, sub, item)
	}
	ctx, cancel := context.WithCancelCause(p.work)
	p.held.hold(j, cancel)
	defer func() {
		p.held.release(j)
		cancel(nil)
	}()
	o := p.runStep(ctx, r, step, j.attempt, item, p.e.q.pagesOf(j, step))
	if p.deferred(r, j, o) {
		return nil
	}
	switch {
	case p.work.Err() != nil && o.status == StatusFailed:
		// Stop gave up waiting and cancelled the step: hand it back rather than record
		// a failure that is only ours. (A step that succeeded is committed.)
		err := p.e.q.release(context.Background(), j, r.workflow)
		if err != nil {
			p.e.log.Warn("handing a step back failed; it runs again when its lease expires",
				"run", r.id, "step", j.unit, "err", err)
		}
		p.handedBack(err)
		return nil
	case errors.Is(context.Cause(ctx), errRunCancelled):
		p.e.log.Info("step cancelled with its run", "run", r.id, "step", j.unit)
		return nil
	case errors.Is(context.Cause(ctx), errLeaseLost):
		p.e.log.Warn("step abandoned: its lease was lost and another worker runs it", "run", r.id, "step", j.unit)
		return nil
	}
	return p.settle(r, j, step, o)
}

// settle records an attempt of a step or an item: another attempt is queued when the
// retry policy gives one, else the unit settles and the planner says what follows.
func (p *Pool) settle(r *runState, j *job, step *workflows.Step, o outcome) *job {
	var wait time.Duration
	delay := false // a delay step's attempt
	cut := false   // a delay that would end past the run's deadline: it fails there
	if w, ok := o.output.(*workflows.Wait); ok {
		delay = true
		o.output = w.Value()
		wait = w.For
		if cut = r.cuts(step, wait); cut {
			o.status, o.err, o.timedOut = StatusFailed, r.timeoutError(), true
		}
	}
	again, retryIn := false, time.Duration(0)
	if j.crashed == "" && !o.timedOut {
		retryIn, again = retryWait(step, j.attempt, o) // before redaction drops the error's type
	}
	if r.clock != nil { // virtual time: the waits count, and take none
		r.elapse(j, step, &o, again, wait)
		retryIn, wait = 0, 0
		if o.status == StatusSucceeded && step.Answers() && r.parentID() == "" {
			r.clock.answer(r.id, j.unit)
		}
	}
	retryIn, wait = r.capWait(step, retryIn), r.capWait(step, wait)
	// A secret that came back in the output or an error is recorded as [redacted], and
	// later steps see the record, whichever worker runs them.
	// An answer may repeat what it got as it was sent: encoded.
	// A sensitive step's output is recorded with the workflow's secrets hidden but the
	// run's sensitive values kept: it may copy one from another sensitive step, for
	// later steps to read as it is. It is shown as [sensitive].
	secrets := r.redactor().Encoded()
	if step.Sensitive {
		o.output = r.wf.Secrets.Encoded().Value(o.output)
	} else {
		o.output = secrets.Value(o.output)
	}
	if o.err != nil {
		o.err = errors.New(secrets.String(o.err.Error()))
	}
	if o.request != nil && o.err != nil {
		o.request.Error = o.err.Error()
	}
	if o.requests == nil {
		// The requests of the attempts before are kept whether this one sent any or not
		// (its OAuth2 token may not have come): a POST that reached the API stays in the
		// history to the last attempt. So do attempts whose workers stopped while they
		// ran: their requests may have reached it too.
		sent := o.before
		if o.request != nil {
			sent = append(sent, o.request)
		}
		o.requests = appendRequests(r.earlierRequests(j), lostRequests(j, step, sent))
	}
	// The step metrics count the attempt, and the delay it ends, once Redis has stored
	// its outcome: an outcome refused, its lease lost, is another process's to count.
	if again {
		if p.retry(r, j, o, retryIn) {
			p.observe(r, step, o, true)
		}
		return nil
	}
	ended := p.delayEnded(r, j, o.duration) // before the commit adds this unit's record to r
	attempts := j.attempt
	if o.attempts > 0 {
		attempts = o.attempts
	}
	rec := newRecord(o.status, attempts, o.output, o.err)
	rec.Version, rec.TimedOut, rec.Ended = r.recVer, o.timedOut, o.ended
	rec.Requests = o.requests
	rec.Sensitive, rec.Resume = step.Sensitive, o.resumed
	// A delay cut by the run's deadline holds its unit too, to fail at the deadline: the
	// step after it never runs.
	hold := wait > 0 && (j.unit.part == partItem || step.Parallel != "" || cut)
	var pl *Plan
	if !hold {
		pl = r.planWithUnit(j.unit, rec)
		// A delay that the run would end with holds its unit too: the run ends when the
		// delay does, not before.
		hold = wait > 0 && pl.Status.Done()
	}
	if delay {
		// Its history reads what it held from its record (heldItsUnit): the run, when
		// the step after it is queued for its end.
		rec.Held = heldRun
		if hold || wait == 0 {
			rec.Held = heldUnit
		}
	}
	if hold {
		// A delay of one item or one step of a parallel block holds that unit only: its
		// job waits, and settles when due.
		rec.DurationMS = o.duration.Milliseconds() // the attempt's, kept for when it settles
		waiting := *rec
		waiting.Status, waiting.Error, waiting.TimedOut = StatusWaiting, "", false
		if p.persist(r, j, func() error {
			return p.e.q.hold(context.Background(), j, r.id, r.workflow, &waiting, rec, o.duration, wait)
		}) {
			p.countDelay(r, ended)
			p.e.waiters.wake(r.id)
		}
		return nil
	}
	if last := r.lastAttempt(j); last != nil {
		rec.Started = last.firstStarted() // its time is from its first attempt's start (view)
	} else if parked := waitingRecord(r, j); parked != nil && isWait(step) {
		rec.Started = parked.firstStarted() // a wait's is the wait, from its first park
	}
	c := commit{record: rec, plan: pl, duration: o.duration, wait: wait}
	if j.unit.part == partStep && (o.output == nil || len(rec.Output) > 0) {
		// What later steps read: the output as recorded (redacted), without decoding
		// it again. An output that could not be recorded is read as recorded.
		c.value = stepValue(o.status, o.output, o.err)
	}
	next, stored := p.commit(r, j, c)
	if stored {
		if wait == 0 {
			// A delay is recorded at its end, with the time it held its run: when its
			// unit settles, for one that holds it (run, above), else when the unit after
			// it starts (delayEnded). One whose run is cancelled first is not recorded,
			// as a wait step cancelled while it waits is not.
			p.observe(r, step, o, false)
		}
		p.countDelay(r, ended)
	}
	return next
}

// timedOut is the outcome of a unit that the run's timeout stopped before it could
// run again: a retrying unit keeps the attempts it made, their requests (with those of
// attempts whose workers stopped while they ran), and its time from the first; a wait
// step's time is its wait, from when the run reached it, and a workflow step's its
// wait for its child.
func (p *Pool) timedOut(r *runState, j *job, step *workflows.Step) outcome {
	o := outcome{status: StatusFailed, err: r.timeoutError(), timedOut: true}
	if lost := lostRequests(j, step, nil); len(lost) > 0 {
		o.attempts, o.requests = j.attempt-1, appendRequests(r.earlierRequests(j), lost)
	}
	if last := r.lastAttempt(j); last != nil {
		if o.requests == nil {
			o.attempts, o.requests = j.attempt-1, last.requestsApart()
		}
		o.duration = p.since(last.firstStarted(), time.Now())
		return o
	}
	if rec := waitingRecord(r, j); rec != nil && parks(step) {
		o.duration = p.since(rec.firstStarted(), time.Now())
	}
	return o
}

// heldFor is how long j's unit, a delay held in the queue, has been held: from the
// start of the attempt that held it (its waiting record) to now; the attempt's own
// time when that record is not there.
func (p *Pool) heldFor(r *runState, j *job) time.Duration {
	if rec := waitingRecord(r, j); rec != nil {
		return p.since(rec.firstStarted(), time.Now())
	}
	if j.held != nil {
		return time.Duration(j.held.DurationMS) * time.Millisecond
	}
	return 0
}

// cutHeld is, for j's unit, a delay held in the queue that the run's deadline cut,
// how long it held its unit until the deadline, of held, its time to now, and when it
// ended: at the deadline (ms), though no process may have run then to settle it, and
// the time until one did is not the delay's. ended is 0 when it cannot say (no
// waiting record, or no deadline): its time is held.
func (p *Pool) cutHeld(r *runState, j *job, held time.Duration) (counted time.Duration, ended int64) {
	rec := waitingRecord(r, j)
	if rec == nil || r.deadline.IsZero() {
		return held, 0
	}
	ended = r.deadline.UnixMilli()
	return min(max(time.Duration(ended-rec.firstStarted())*time.Millisecond, 0), held), ended
}

// parks reports whether step s parks its unit's job while it waits: a wait step (under
// serve), or a workflow step that waits for its child.
func parks(s *workflows.Step) bool {
	switch a := s.Action.(type) {
	case workflows.Waiter:
		return a.Parks()
	case workflows.SubRun:
		return a.Waits()
	}
	return false
}

// list lists the items of a for_each step and starts the first of them.
func (p *Pool) list(r *runState, j *job, step *workflows.Step) *job {
	start := time.Now()
	items, isMap, err := step.Items(r.env)
	if err != nil {
		// The same record gives the same items: another attempt would fail the same way.
		return p.settle(r, j, step, outcome{status: StatusFailed, err: workflows.Permanent(err), duration: time.Since(start)})
	}
	encoded, err := encodeItems(items)
	if err != nil {
		return p.settle(r, j, step, outcome{status: StatusFailed, err: workflows.Permanent(err), duration: time.Since(start)})
	}
	hidden, err := r.hiddenItems(items)
	if err != nil {
		return p.settle(r, j, step, outcome{status: StatusFailed, err: workflows.Permanent(err), duration: time.Since(start)})
	}
	pl := r.planWith(j.unit, nil, itemSetOf(items, isMap))
	ended := p.delayEnded(r, j, time.Since(start))
	next, stored := p.commit(r, j, commit{plan: pl, items: encoded, mapItems: isMap, hidden: hidden, listed: true,
		duration: time.Since(start)})
	if stored {
		p.countDelay(r, ended)
	}
	return next
}

// join settles a for_each step whose items have settled, or a parallel block whose
// steps have, and goes on as the planner says.
func (p *Pool) join(r *runState, j *job) *job {
	var set *itemSet
	if s, _ := r.wf.Step(j.unit.step); s != nil && s.ForEach != nil {
		var err error
		set, err = p.e.q.readItems(p.work, j.shard, r.id, s.Name)
		switch {
		case err == nil && set == nil, err != nil && j.attempt >= resumeAttempts:
			// Nothing to settle the step from: the run fails here, for a replay.
			if err == nil {
				err = fmt.Errorf("the items of step %s are gone (expired with the run?)", s.Name)
			}
			msg := fmt.Sprintf("step %s: %v", s.Name, err)
			p.commit(r, j, commit{dead: true, plan: &Plan{Status: RunFailed, Error: msg, FailedStep: s.Name}})
			return nil
		case err != nil:
			p.logError("reading a step's items failed; trying again later", "run", r.id, "step", s.Name, "err", err)
			p.retry(r, j, outcome{status: StatusFailed, err: err}, backoffOf(j.attempt))
			return nil
		}
	}
	next, _ := p.commit(r, j, commit{plan: r.planWith(j.unit, nil, set)})
	return next
}

// commit writes a unit's outcome with the plan that follows it, and returns the next
// unit when it was leased to this worker (also when the write's reply was lost:
// leasedByLost); stored says whether Redis took the outcome (not when the lease was
// lost, or Redis kept failing).
func (p *Pool) commit(r *runState, j *job, c commit) (next *job, stored bool) {
	c.job, c.runID, c.wf, c.eventShown = j, r.id, r.wf, r.eventShown
	if c.wf == nil {
		c.wf = &workflows.Workflow{Name: r.workflow}
	}
	// The job that fails the run goes to the dead letters: when the run ends, or when
	// its on_failure steps start (the run ends after them, with no job of its own).
	c.dead = c.plan.Status == RunFailed && !c.plan.Handled || c.plan.Handle
	c.chain = p.fetchCtx.Err() == nil // while stopping, leave the rest to other workers
	if r.clock != nil && c.plan.Status.Done() {
		// Before its end is written: a parent's step that reads it counts its time.
		r.clock.end(r.id, r.parentID())
	}
	ok := p.persist(r, j, func() (err error) {
		next, err = p.e.q.complete(context.Background(), c)
		if errors.Is(err, errStaleLease) {
			next, err = p.leasedByLost(r, j, c, err)
		}
		return err
	})
	if !ok {
		return nil, false
	}
	if c.plan.Status.Done() || answers(r.wf, j.unit) {
		p.e.waiters.wake(r.id) // a caller waiting for the run may have its answer
	}
	if c.plan.Status.Done() {
		if r.env != nil {
			p.e.wakeParent(r.env.Event) // a child run: its parent's step waits for it
		}
		p.e.metrics.runFinished(r.workflow, string(c.plan.Status))
		took := time.Since(r.created).Milliseconds() // since it started, replays included
		logFinished(p.e.log, r.id, r.workflow, c.plan.Status, took, c.plan.Error, c.plan.FailedStep)
		return nil, true
	}
	r.apply(j.unit, c)
	if c.plan.Handle {
		r.env.Run["error"], r.env.Run["failed_step"] = c.plan.Error, c.plan.FailedStep
	}
	if next != nil && next.unit.part == partItem && next.value == "" && c.listed {
		// The first item, leased with the listing's commit: listed by this build, which
		// percent-encodes map keys in ids, as the items hash it wrote says.
		next.key, next.value = string(c.items[next.unit.item][0]), string(c.items[next.unit.item][1])
		next.listed = listedEncoded
	}
	return next, true
}

// leasedByLost is the job that c leased to this worker next, when the commit sent
// again found j gone (err) because Redis ran it before and its reply was lost: then c
// is stored, and the job runs here at once, under the lease the lost reply held,
// rather than wait for it to expire and run again with an attempt marked lost. Else
// it returns err, for persist to tell what became of c.
func (p *Pool) leasedByLost(r *runState, j *job, c commit, err error) (*job, error) {
	next, lookErr := p.e.q.leasedByLost(context.Background(), c)
	switch {
	case lookErr != nil:
		p.logError("reading whether a refused commit was stored before, its reply lost, failed; "+
			"what it leased next, if anything, runs once that lease expires", "run", r.id, "step", j.unit, "err", lookErr)
		return nil, err
	case next == nil:
		return nil, err
	}
	p.e.log.Info("step result stored; its reply was lost on the way back", "run", r.id, "step", j.unit, "next", next.unit)
	return next, nil
}

// retry records a failed attempt and queues the unit again after wait; it reports
// whether Redis took it. The first attempt of the unit after a delay ends the delay,
// whether it ran the step's action or came straight here (its run could not be
// resumed, its child run not read): the delay is counted once this is stored.
func (p *Pool) retry(r *runState, j *job, o outcome, wait time.Duration) bool {
	ended := p.delayEnded(r, j, o.duration)
	rec := newRecord(StatusRetrying, j.attempt, o.output, o.err)
	rec.Version = r.recVer
	rec.Requests = o.requests
	if last := r.lastAttempt(j); last != nil {
		rec.Started = last.firstStarted() // for a timeout that ends its retries
	} else if parked := waitingRecord(r, j); parked != nil {
		rec.Started = parked.firstStarted() // a step parked for its child keeps its first park's time
	}
	if r.wf != nil {
		if s, _ := r.wf.Step(j.unit.step); s != nil {
			rec.Sensitive = s.Sensitive
		}
	}
	if !p.persist(r, j, func() error {
		return p.e.q.retry(context.Background(), j, r.id, r.workflow, rec, o.duration, wait)
	}) {
		return false
	}
	p.countDelay(r, ended)
	p.e.log.Info("step failed; retrying", "run", r.id, "workflow", r.workflow, "step", j.unit,
		"attempt", j.attempt, "retry_in_ms", wait.Milliseconds(), "err", o.err)
	return true
}

// persist runs a write of a leased job's outcome. A Redis error is retried for a few
// seconds, while the heartbeat keeps the lease; if it persists, the lease expires and
// the step runs again. A write refused because the lease was lost reports false too.
func (p *Pool) persist(r *runState, j *job, write func() error) bool {
	var err error
	for wait := 100 * time.Millisecond; ; wait *= 2 {
		err = write()
		if err == nil || errors.Is(err, errStaleLease) || wait > 2*time.Second || !sleep(p.work, wait) {
			break
		}
	}
	switch {
	case errors.Is(err, errStaleLease) && p.e.q.storedAttempt(j, r.id):
		// Redis ran the write, its reply was lost, and the write sent again found the
		// job gone: the outcome is stored, and counted as such.
		p.e.log.Info("step result stored; its reply was lost on the way back", "run", r.id, "step", j.unit)
		return true
	case errors.Is(err, errStaleLease) && p.e.q.cancelled(j):
		p.e.log.Info("step result discarded: its run was cancelled", "run", r.id, "step", j.unit)
		return false
	case errors.Is(err, errStaleLease):
		// One line per step would flood the log when Redis lost the leases of many
		// (a failover): throttled as the loops' errors are.
		p.errLog.Log(p.e.log, slog.LevelWarn, "step result discarded: its lease was lost", "run", r.id, "step", j.unit)
		return false
	case err != nil:
		p.logError("recording step result failed; the step will run again when its lease expires",
			"run", r.id, "step", j.unit, "err", err)
		p.unrecorded()
		return false
	}
	return true
}

// observe records how long an attempt of a step took, unless it was skipped.
func (p *Pool) observe(r *runState, step *workflows.Step, o outcome, again bool) {
	outcome := string(o.status)
	switch {
	case o.status == StatusSkipped:
		return
	case again:
		outcome = string(StatusRetrying)
	}
	d := o.duration
	if o.counted > 0 {
		d = o.counted
	}
	p.e.metrics.stepDone(r.workflow, step.Name, step.Kind, outcome, d)
}

// delayEnd is a delay step that held its run until a unit, the first after it, and
// how long it held it: counted in the step metrics once that unit's first attempt is
// stored (countDelay). A zero delayEnd counts nothing.
type delayEnd struct {
	step *workflows.Step
	held time.Duration
}

// delayEnded is the delay step that held j's run until j's unit, the first after it,
// when that unit's first attempt is about to write its outcome, or to park, having
// taken took: the delay held the run from its start to when that attempt started, as
// the run's history shows it (heldUntilWentOn). It is called before the write, which
// adds the unit's record to r; the caller counts it once the write is stored. None for
// any other unit, nor under virtual time, where the delay was counted as it settled.
func (p *Pool) delayEnded(r *runState, j *job, took time.Duration) delayEnd {
	if p.e.metrics == nil || j.run == nil || j.unit.part != partStep || r.clock != nil || r.rec == nil || r.wf == nil ||
		r.rec.steps[j.unit.step] != nil { // not its first attempt: counted then
		return delayEnd{}
	}
	d := stepBefore(r.wf, j.unit.step)
	if d == nil || d.Kind != "delay" || d.ForEach != nil {
		return delayEnd{}
	}
	rec := r.rec.steps[d.Name]
	if rec == nil || rec.Status != StatusSucceeded || !heldItsRun(rec) {
		return delayEnd{}
	}
	if at, _ := strconv.ParseInt(j.run["replayed"], 10, 64); rec.firstStarted() < at {
		return delayEnd{} // it ran before a replay: counted then, and the unit after it runs again
	}
	return delayEnd{step: d, held: max(p.since(rec.firstStarted(), time.Now())-took, 0)}
}

// countDelay counts d, a delay that ended, in the step metrics.
func (p *Pool) countDelay(r *runState, d delayEnd) {
	if d.step != nil {
		p.e.metrics.stepDone(r.workflow, d.step.Name, d.step.Kind, string(StatusSucceeded), d.held)
	}
}

// stepBefore is the step that runs just before step name, alone, in wf: the one before
// it in the on_failure block, or the step of the node before its own, when that is a
// step and name is the first of its node (a parallel block's first step stands for
// the block). nil for none.
func stepBefore(wf *workflows.Workflow, name string) *workflows.Step {
	for i, n := range wf.Nodes {
		if n.Steps[0].Name != name {
			continue
		}
		if i == 0 || wf.Nodes[i-1].Parallel {
			return nil
		}
		return wf.Nodes[i-1].Steps[0]
	}
	for i, s := range wf.OnFailure {
		if s.Name == name && i > 0 {
			return wf.OnFailure[i-1]
		}
	}
	return nil
}

// heldItsRun reports whether rec, a delay step's record, held its run: it waited, and
// was not skipped (Options.SkipDelays).
func heldItsRun(rec *Record) bool {
	var out struct {
		Seconds float64 `json:"seconds"`
		Skipped bool    `json:"skipped"`
	}
	return json.Unmarshal(rec.Output, &out) == nil && out.Seconds > 0 && !out.Skipped
}

// answers reports whether unit u of wf answers a caller waiting for its run. wf is nil
// for a run whose version could not be loaded.
func answers(wf *workflows.Workflow, u unit) bool {
	if wf == nil || u.part != partStep {
		return false
	}
	s, _ := wf.Step(u.step)
	return s != nil && s.Answers()
}

// outcome is the result of one attempt of one step or item.
type outcome struct {
	status   Status // succeeded, failed or skipped
	output   any
	err      error
	duration time.Duration
	// request is what the attempt sent, when it sent one; requests are the unit's
	// requests with it, as its record keeps them.
	request  *workflows.Request
	before   []*workflows.Request // the requests the attempt sent before request: earlier pages
	requests json.RawMessage
	timedOut bool // the run's timeout stopped it
	// attempts are those the unit made, when the job's own attempt did not run (the
	// run's timeout passed first, or its workers kept dying); 0: the job's.
	attempts int
	resumed  bool // a wait step's, with what resumed it
	// ended is when the unit ended (ms, Redis's clock), when no process ran then to
	// settle it: a wait step's timeout, or the run's deadline that ended it; 0 for now.
	ended int64
	// counted is what the step metrics count of duration, when not all of it: a delay
	// the run's deadline cut counts its time to the deadline (cutHeld).
	counted time.Duration
}

// stepEnv is what a step's expressions see: the run's env, with each bound to item's
// value for an item of a for_each.
func (r *runState) stepEnv(item *workflows.Item) *workflows.Env {
	if item == nil {
		return r.env
	}
	e := *r.env
	e.Each = item.EachValue()
	return &e
}

// parksForDeadline reports whether unit j of run r, past its deadline by this
// process's clock, is left to park.lua to decide by Redis's: a wait step of a run that
// keeps its timeout in Redis, with no if (one that is false would skip the step past
// the deadline, and the run could end succeeded after it), not a for_each step's
// listing (which lists its items without parking).
func parksForDeadline(r *runState, j *job, step *workflows.Step) bool {
	return isWait(step) && r.deadlineInRedis && step.If == nil && !(j.unit.part == partStep && step.ForEach != nil)
}

// checkIf evaluates step's if in env: nil when the step runs, else the outcome it
// settles with: skipped, or failed (for good) when the if cannot be evaluated.
func checkIf(step *workflows.Step, env *workflows.Env) *outcome {
	if step.If == nil {
		return nil
	}
	ok, err := step.If.Eval(env)
	switch {
	case err != nil:
		return &outcome{status: StatusFailed, err: workflows.Permanent(fmt.Errorf("if: %w", err))}
	case !ok:
		return &outcome{status: StatusSkipped}
	}
	return nil
}

// runStep runs one attempt of a step or an item; pages keeps the pages a paginated step
// reads (nil for other steps).
func (p *Pool) runStep(ctx context.Context, r *runState, step *workflows.Step, attempt int, item *workflows.Item, pages workflows.PageStore) (o outcome) {
	start := time.Now()
	defer func() {
		if v := recover(); v != nil {
			p.e.log.Error("step panicked", "run", r.id, "step", step.Name, "panic", v, "stack", string(debug.Stack()))
			o = outcome{status: StatusFailed, err: workflows.Permanent(fmt.Errorf("internal error: %v", v))}
		}
		o.duration = time.Since(start)
	}()
	env := r.stepEnv(item)
	if skip := checkIf(step, env); skip != nil {
		return *skip
	}
	if !r.deadline.IsZero() && !workflows.IsOnFailure(step.Name) {
		var stop context.CancelFunc
		ctx, stop = context.WithDeadlineCause(ctx, r.deadline, errRunTimedOut)
		defer stop()
	}
	ctx, cancel := context.WithTimeout(ctx, step.Timeout)
	defer cancel()
	call := &workflows.Call{Env: env, RunID: r.id, Workflow: r.workflow,
		Step: step.Name, Attempt: attempt, Secrets: r.redactor(), Item: item, Sensitive: step.Sensitive, Timeout: step.Timeout, Pages: pages}
	if workflows.IsOnFailure(step.Name) {
		call.Failure = r.replays + 1
	}
	if step.Retry != nil {
		call.RetryMax = step.Retry.Max
	}
	out, err := step.Action.Do(ctx, call)
	if err != nil {
		switch {
		case errors.Is(context.Cause(ctx), errRunTimedOut):
			return outcome{status: StatusFailed, output: out, err: r.timeoutError(), timedOut: true,
				request: call.Sent, before: call.SentBefore}
		case ctx.Err() == context.DeadlineExceeded:
			err = fmt.Errorf("timed out after %s: %w", workflows.FormatDuration(step.Timeout), err)
		}
		return outcome{status: StatusFailed, output: out, err: err, request: call.Sent, before: call.SentBefore}
	}
	return outcome{status: StatusSucceeded, output: out, request: call.Sent, before: call.SentBefore}
}
