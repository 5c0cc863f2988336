package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/workflows"
)

// A workflow step runs another workflow as a child run. The child's id is derived from
// the step's unit, <run>:<step> (<run>:<step>:<key> for an item), so a step that runs
// again (its worker died) finds its child rather than start a second. The child lives
// in its own workflow's shard; no script touches both shards. A step that waits for its
// child parks its job in the queue, holding no worker, due again after a while: the
// child's end wakes it at once (a separate write, to the parent's shard), and the
// wait's end looks again should that wake-up be lost.

// childPoll is how long a parked workflow step waits before it looks at its child
// again, when no wake-up came: doubling from a second, at most a minute.
func childPoll(attempt int) time.Duration { return backoffOf(attempt) }

// subRun runs a unit of a workflow step: it starts the child run, once, and settles
// with {run_id} or, when the step waits, parks until the child ends and settles with
// {run_id, result}.
func (p *Pool) subRun(r *runState, j *job, step *workflows.Step, sub workflows.SubRun, item *workflows.Item) *job {
	start := time.Now()
	childID := childIDOf(r.id, step.Name, item)
	env := r.stepEnv(item)
	fail := func(err error) *job {
		return p.settle(r, j, step, outcome{status: StatusFailed, err: workflows.Permanent(err), duration: time.Since(start)})
	}
	if skip := checkIf(step, env); skip != nil {
		return p.settle(r, j, step, *skip)
	}
	ctx := p.work
	if p.e.child != nil {
		call := ChildCall{Run: r.id, Step: step.Name, ChildID: childID}
		if item != nil {
			call.Key = item.KeyText()
		}
		result, stubbed, err := p.e.child(ctx, call)
		if stubbed {
			out := map[string]any{"run_id": childID}
			if err != nil {
				return p.settle(r, j, step, outcome{status: StatusFailed, output: out, duration: time.Since(start),
					err: workflows.Permanent(fmt.Errorf("child run %s failed: %w", childID, err))})
			}
			if sub.Waits() {
				out["result"] = result
			}
			return p.settle(r, j, step, outcome{status: StatusSucceeded, output: out, duration: time.Since(start)})
		}
	}
	// The child's shard follows from the name alone: a child that exists is read
	// whatever the set in use holds now (a reload may have removed its workflow).
	sh := p.e.q.shardFor(sub.Calls())
	// A step that parked for its child before (or tried and failed to read it) counts
	// its time from its first park, or first attempt.
	parked, last, since := waitingRecord(r, j), r.lastAttempt(j), int64(0)
	if parked != nil {
		since = parked.firstStarted()
	} else if last != nil {
		since = last.firstStarted()
	}
	// It waited for its child already: parked, or its read of the child failed after
	// it parked (that retry's record names the child, as a park's does).
	waited := parked != nil || namesChild(last)
	childID, fields, err := p.e.q.findChild(ctx, sh, r.id, step.Name, j.id, item)
	if errors.Is(err, errChildIDTaken) {
		return fail(err)
	}
	if err != nil {
		o := outcome{status: StatusFailed, err: err}
		if waited {
			o.output = map[string]any{"run_id": childID}
		}
		p.retry(r, j, o, backoffOf(j.attempt))
		return nil
	}
	took := func() time.Duration { return p.since(since, start) }
	started := false // this attempt started the child
	if len(fields) == 0 {
		if waited {
			// It waited for this child already: the child ended and went (past
			// --keep-runs, or its retention) before this step read it. Starting it again
			// would repeat its work.
			return fail(fmt.Errorf("child run %s is gone: it ended and was dropped before this step read its end", childID))
		}
		// A child starts with the version in use: a run pins its own workflow's
		// version, not those of the workflows it calls.
		cur := p.e.versions.currentOf(sub.Calls())
		if cur == nil {
			return fail(fmt.Errorf("child run %s cannot start: workflow %s is not among the workflows loaded now "+
				"(a reload removed or renamed it), and a run keeps no version of the workflows it calls", childID, sub.Calls()))
		}
		if err := p.startChild(ctx, r, j, step, sub, env, cur.wf, childID); err != nil {
			if retry, _ := workflows.Retryable(err); retry {
				p.logError("starting a child run failed; trying again later", "run", r.id, "step", j.unit, "err", err)
				// A start Redis did not answer, or that too few replicas acknowledged, may
				// have stored the child: a retry refused as the run is cancelled looks,
				// as a refused park does.
				maybeStarted := errors.Is(err, ErrOutcomeUnknown) || errors.Is(err, ErrNotReplicated)
				if !p.retry(r, j, outcome{status: StatusFailed, err: err}, backoffOf(j.attempt)) && maybeStarted {
					p.cancelledSince(r, childID, sub.Waits())
				}
				return nil
			}
			return fail(err)
		}
		fields = map[string]string{"status": string(RunQueued)}
		// A step that waits parks next, and looks then: a park is refused once the run
		// is cancelled (cancel.lua takes its jobs' leases), and a cancel after it lists
		// the child. One that does not wait settles, and looks now.
		started = true
		if !sub.Waits() && p.cancelledSince(r, childID, false) {
			return nil
		}
	}
	out := map[string]any{"run_id": childID}
	status := RunStatus(fields["status"])
	if sub.Waits() && status == RunCancelled && fields[withParentField] != "" {
		// This run timed out while the step waited for the child, which was cancelled
		// for it: this is the run's replay, and it runs the child again, from where the
		// child was, as a replay of the child would.
		if _, err := p.e.replay(ctx, childID, ReplayOptions{}, true); err != nil {
			if retry, _ := workflows.Retryable(err); retry || !errors.Is(err, ErrCannotReplay) && !errors.Is(err, ErrNotFound) {
				p.retry(r, j, outcome{status: StatusFailed, output: out, err: err}, backoffOf(j.attempt))
				return nil
			}
			return fail(fmt.Errorf("child run %s, cancelled when this run timed out, cannot run again: %w", childID, err))
		}
		if p.cancelledSince(r, childID, sub.Waits()) {
			return nil
		}
		status = RunQueued
	}
	switch {
	case !sub.Waits():
		return p.settle(r, j, step, outcome{status: StatusSucceeded, output: out, duration: took()})
	case status == RunSucceeded:
		wf, err := p.e.versions.get(ctx, fields["wf"], fields["ver"])
		var reply *workflows.Reply
		var took time.Duration
		if err == nil {
			reply, took, err = p.childEnd(ctx, wf, childID, since, start)
		}
		if retry, _ := workflows.Retryable(err); err != nil && retry {
			// Redis failed this read (a connection reset, a failover): the step looks
			// again, and its record names the child, as a failed findChild's does.
			p.retry(r, j, outcome{status: StatusFailed, output: out, err: fmt.Errorf("child run %s: %w", childID, err)},
				backoffOf(j.attempt))
			return nil
		}
		if err != nil {
			return fail(fmt.Errorf("child run %s: %w", childID, err))
		}
		out["result"] = childResult(wf, reply)
		return p.settle(r, j, step, outcome{status: StatusSucceeded, output: out, duration: took})
	case status == RunFailed:
		return p.settle(r, j, step, outcome{status: StatusFailed, output: out, duration: took(),
			err: workflows.Permanent(fmt.Errorf("child run %s failed: %s", childID, fields["error"]))})
	case status == RunCancelled:
		return p.settle(r, j, step, outcome{status: StatusFailed, output: out, duration: took(),
			err: workflows.Permanent(fmt.Errorf("child run %s was cancelled", childID))})
	}
	// Parked: the job waits in the queue until the child's end wakes it.
	wait := r.capWait(step, childPoll(j.attempt))
	rec := newRecord(StatusWaiting, j.attempt, out, nil)
	rec.Version, rec.Started = r.recVer, since // it keeps its first park's time
	if p.persist(r, j, func() error {
		return p.e.q.retry(context.Background(), j, r.id, r.workflow, rec, time.Since(start), wait)
	}) {
		p.countDelay(r, p.delayEnded(r, j, time.Since(start))) // its first park only: a later one has its record
	} else if started {
		p.cancelledSince(r, childID, true) // the park was refused: the run may be cancelled
	}
	return nil
}

// childEnd reads the end of child run childID of wf, which succeeded: its answer, as
// Await gives it, and how long the step took (Pool.since), Redis's clock read in the
// same round trip. A step's item settles with it: one round trip, where Await and the
// clock took three. It reads the fields the answer comes from (endFields), not the
// whole run: a child's event can be large, and a for_each has a child per item. Only
// a Redis error is worth another try: a child gone, or a record that does not decode,
// is Permanent.
func (p *Pool) childEnd(ctx context.Context, wf *workflows.Workflow, childID string, since int64, start time.Time) (*workflows.Reply, time.Duration, error) {
	names := endFields(wf)
	var vals *redis.SliceCmd
	var now *redis.TimeCmd
	_, err := p.e.q.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		vals = pipe.HMGet(ctx, p.e.q.shardFor(wf.Name).run(childID), names...)
		if since > 0 {
			now = pipe.Time(ctx)
		}
		return nil
	})
	if err != nil && (now == nil || vals.Err() != nil) {
		return nil, 0, err
	}
	fields := fieldsOf(names, vals.Val())
	if fields["status"] == "" {
		return nil, 0, workflows.Permanent(ErrNotFound)
	}
	reply, err := endedReply(wf, childID, fields)
	if err != nil {
		return nil, 0, workflows.Permanent(err)
	}
	took := time.Since(start)
	if since > 0 {
		clock := now.Val()
		if now.Err() != nil {
			clock = time.Now() // the record's duration only: the clocks are close
		}
		took = max(clock.Sub(time.UnixMilli(since)), took)
	}
	return reply, took, nil
}

// cancelledSince cancels child run childID, which this step just started (or may
// have: its start's outcome is unknown) or replayed, when run r was cancelled
// meanwhile, and reports whether it was: a cancel of r that listed its children before
// the child started, or before its replay, found it not started or finished and left
// it (Engine.cancelChildren). The child is cancelled as Engine.cancel cancels r's
// children: with the tree; or, when r was cancelled as its own caller timed out and
// the step waits for the child, as r's children are then (cancelParentTimedOut), so
// that r's replay runs it again; or, when r was cancelled while it ran its on_failure
// steps (it stays failed, and lists the tombstones its cancel left in tombs), as by
// hand. A read of r that fails is tried again for a few seconds, as persist does;
// when it still fails, the child is named in an error line, to be cancelled by hand.
func (p *Pool) cancelledSince(r *runState, childID string, waits bool) bool {
	key := p.e.q.shardFor(r.workflow).run(r.id)
	var vals []any
	var err error
	for wait := 100 * time.Millisecond; ; wait *= 2 {
		vals, err = p.e.q.rdb.HMGet(p.work, key, "status", withParentField, "tombs").Result()
		if err == nil || wait > 2*time.Second || !sleep(p.work, wait) {
			break
		}
	}
	if err != nil {
		p.e.log.Error("reading whether a run was cancelled failed: a child run it started may run on; "+
			"cancel the child if the run was cancelled", "run", r.id, "child", childID, "err", err)
		return false
	}
	fields := fieldsOf([]string{"status", withParentField, "tombs"}, vals)
	cause := cancelWithParent
	switch status := RunStatus(fields["status"]); {
	case status == RunCancelled && waits && fields[withParentField] != "":
		cause = cancelParentTimedOut
	case status == RunCancelled:
	case status == RunFailed && fields["tombs"] != "":
		cause = cancelByHand
	default:
		return false
	}
	p.e.cancelChild(p.work, childID, cause)
	return true
}

// childIDOf is the id of the child run of a workflow step's unit in run runID:
// <run>:<step>, or <run>:<step>:<key> for an item (Item.IDText). An older build's
// child of an item may have another (findChild).
func childIDOf(runID, step string, item *workflows.Item) string {
	if item != nil {
		return runID + ":" + step + ":" + item.IDText()
	}
	return runID + ":" + step
}

// cancelChildOf cancels the child run of j's unit, when j is a workflow step's whose
// run's timeout passed while it waited for its child: a run that ended leaves nothing
// of its own running. (A child not started, or ended, is left as it is.) The child is
// marked so: a replay of this run that reaches the step runs it again.
func (p *Pool) cancelChildOf(r *runState, j *job, step *workflows.Step) error {
	sub, ok := step.Action.(workflows.SubRun)
	if !ok || !sub.Waits() || p.e.child != nil {
		return nil
	}
	var item *workflows.Item
	if j.unit.part == partItem {
		var err error
		if item, err = j.item(); err != nil {
			return nil // its item cannot be read: nor could its child have been started
		}
	}
	id, _, err := p.e.q.findChild(p.work, p.e.q.shardFor(sub.Calls()), r.id, step.Name, j.id, item)
	if errors.Is(err, errChildIDTaken) {
		return nil // no child of this item: another item's has its id
	}
	if err != nil {
		return err
	}
	return p.e.cancelRun(p.work, id, cancelParentTimedOut)
}

// namesChild reports whether rec, a retrying attempt's record, names the child run it
// waited for: the read of a parked step's child failed.
func namesChild(rec *Record) bool {
	if rec == nil || len(rec.Output) == 0 {
		return false
	}
	out, _ := rec.output()
	m, _ := out.(map[string]any)
	_, ok := m["run_id"]
	return ok
}

// waitingRecord is the record j's unit left when it parked before (for its child, or a
// wait step's resume), nil if it has not: a step's is in the run, an item's came with
// the job. (A run whose record could not be read has none.)
func waitingRecord(r *runState, j *job) *Record {
	rec := j.last
	if j.unit.part == partStep {
		if r.rec == nil {
			return nil
		}
		rec = r.rec.steps[j.unit.step]
	}
	if rec == nil || rec.Status != StatusWaiting {
		return nil
	}
	return rec
}

// startChild starts the child run of a workflow step, as a run of wf with id childID:
// its event's body is the step's input, and its parent the step's unit.
func (p *Pool) startChild(ctx context.Context, r *runState, j *job, step *workflows.Step, sub workflows.SubRun,
	env *workflows.Env, wf *workflows.Workflow, childID string) error {
	depth := 1
	if parent, ok := r.env.Event["parent"].(map[string]any); ok {
		d, _ := parent["depth"].(int64)
		depth = int(d) + 1
	}
	if depth > workflows.MaxCallDepth {
		return workflows.Permanent(fmt.Errorf("workflow steps nest deeper than %d runs: this run is %d deep", workflows.MaxCallDepth, depth-1))
	}
	input, err := sub.Input(env)
	if err != nil {
		return workflows.Permanent(fmt.Errorf("input: %w", err))
	}
	input = r.wf.Secrets.Value(input) // the child's event is stored: no secret goes into it
	raw, err := json.Marshal(input)
	if err != nil {
		return workflows.Permanent(fmt.Errorf("input: %w", err))
	}
	ev := &workflows.Event{ID: childID, Trigger: "workflow", ReceivedAt: time.Now().UTC(),
		ContentType: "application/json", Raw: string(raw), Body: input,
		Parent: &workflows.EventParent{RunID: r.id, Workflow: r.workflow, Step: step.Name, Job: j.id, Depth: depth}}
	// Sensitive values of this run in the input are the child's to read, not to show:
	// it keeps them until it succeeds.
	shown, err := r.shownEvent(ev)
	if err != nil {
		return workflows.Permanent(fmt.Errorf("input: %w", err))
	}
	_, _, err = p.e.startShown(ctx, wf, ev, shown, "", nil, childID)
	return err
}

// wakeParent wakes the workflow step waiting for run r, a child run that has ended.
// The wake-up goes with the commits of its parent's shard (pipeliner): the children
// of a for_each that end together wake their items in one script call.
func (e *Engine) wakeParent(ev map[string]any) {
	parent, ok := ev["parent"].(map[string]any)
	if !ok {
		return
	}
	job, _ := parent["job"].(string)
	wf, _ := parent["workflow"].(string)
	if job == "" || wf == "" {
		return
	}
	sh := e.q.shardFor(wf)
	cmd := []any{"evalsha", wakeHash, 4, sh.ready(wf), sh.due(), sh.wake(), sh.job(job), job, wf}
	err := sh.calls.evalsha(context.Background(), wakeScript, cmd).Err()
	if err != nil && !errors.Is(err, context.Canceled) {
		e.log.Warn("waking the step waiting for a child run failed; it looks again within a minute", "job", job, "err", err)
	}
}

// childResult is what a workflow step reads of its child's end: the body its respond
// step answered with, or, without one, its last step's output.
func childResult(wf *workflows.Workflow, reply *workflows.Reply) any {
	if s, _ := wf.Step(reply.Step); s != nil && s.Kind == "respond" {
		if out, ok := reply.Output.(map[string]any); ok {
			return out["body"]
		}
	}
	return reply.Output
}

// childFields reads what a workflow step needs of its child run (status, workflow,
// version, error, whether it was cancelled as its parent timed out, and the fields
// named in more) rather than the whole run; none when the child does not exist.
func childFields(ctx context.Context, rdb redis.UniversalClient, key string, more ...string) (map[string]string, error) {
	names := append([]string{"status", "wf", "ver", "error", withParentField}, more...)
	vals, err := rdb.HMGet(ctx, key, names...).Result()
	if err != nil {
		return nil, err
	}
	return fieldsOf(names, vals), nil
}

// fieldsOf is an HMGET's reply of the fields names, by name: those the hash has.
func fieldsOf(names []string, vals []any) map[string]string {
	out := make(map[string]string, len(names))
	for i, v := range vals {
		if s, ok := v.(string); ok && i < len(names) {
			out[names[i]] = s
		}
	}
	return out
}
