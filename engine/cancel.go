package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// ErrFinished is returned for a run that cannot be cancelled: it has finished.
var ErrFinished = errors.New("the run has finished")

// errRunCancelled cancels a step whose run was cancelled.
var errRunCancelled = errors.New("the run was cancelled")

// cancelCause is why a run is cancelled: it decides what becomes of a run that failed
// and runs its on_failure steps, and whether a replay can run it again.
type cancelCause string

const (
	// cancelByHand: hookflow runs cancel. A run that failed and runs its on_failure
	// steps stays failed, with its dead letter.
	cancelByHand cancelCause = ""
	// cancelWithParent: its parent was cancelled, and the whole tree with it: it ends
	// cancelled whatever it was doing, and its dead letter goes.
	cancelWithParent cancelCause = "tree"
	// cancelParentTimedOut: a run that called it (its parent, or theirs) timed out
	// while it waited for it. A run that failed stays failed, to be replayed before
	// its parent; one that ends cancelled is marked (withParentField), and the parent's
	// replay runs it again.
	cancelParentTimedOut cancelCause = "timeout"
)

// withParentField is the run hash field of a run cancelled because a run that called
// it timed out (cancelParentTimedOut): that run's replay replays it.
const withParentField = "with_parent"

// Cancelled is what a cancel did.
type Cancelled struct {
	RunID string `json:"run_id"`
	// Status is how the run ended: cancelled, or failed for a run that had failed
	// and was running its on_failure steps (it stays failed, with its dead letter).
	Status RunStatus `json:"status"`
	// Was is the status the run had: queued, running or waiting.
	Was RunStatus `json:"was"`
}

// Cancel ends an unfinished run, queued, running or waiting, as cancelled: nothing of
// it is queued or committed any more, and a step running is cancelled by its worker,
// which sees it at its next heartbeat (within a third of the lease). Its on_failure
// steps do not run; one running is cancelled like any step. A run that failed and is
// running its on_failure steps has them cancelled and stays failed, with its error and
// its dead letter, to be replayed. It reports ErrFinished for
// a run that has finished, and ErrNotFound for one that does not exist.
func (e *Engine) Cancel(ctx context.Context, runID string) (*Cancelled, error) {
	return e.cancel(ctx, runID, cancelByHand, true)
}

// cancel is Cancel, for the cause given (cancelCause says what each does). The
// children of a run that ends cancelled are cancelled with it: with its parent's
// timeout when that was the cause and the step that started the child waits for it
// (its replay reaches the child there), else with the tree. The children of a run that
// stays failed (cancelled during its on_failure steps) are cancelled as by hand: a
// failed child stays failed, to be replayed before its parent. byHand says that the
// cancel is Cancel's, not one of a run that called it: the run finished line says
// who cancelled the run (cancelledBy).
func (e *Engine) cancel(ctx context.Context, runID string, cause cancelCause, byHand bool) (*Cancelled, error) {
	fields, err := e.q.runFields(ctx, runID)
	if err != nil {
		return nil, err
	}
	if fields == nil {
		return nil, ErrNotFound
	}
	if st := RunStatus(fields["status"]); st.Done() {
		if st == RunCancelled {
			e.recascade(ctx, runID, fields)
		}
		return nil, ErrFinished
	}
	// Every job the run can have: its version's units. The version is needed for them;
	// without it, only the jobs its run hash names could be found.
	wf, err := e.versions.get(ctx, fields["wf"], fields["ver"])
	if err != nil {
		return nil, err
	}
	was, ends, err := e.q.cancel(ctx, runID, wf, cause)
	if err != nil {
		return nil, err
	}
	e.waiters.wake(runID)
	children := cancelByHand
	if ends == RunCancelled {
		children = cancelWithParent
		if cause == cancelParentTimedOut {
			children = cancelParentTimedOut
		}
	}
	e.cancelChildren(ctx, runID, wf, children, 0)
	if ev, err := workflows.DecodeEvent([]byte(fields["event"])); err == nil && ev.Parent != nil {
		e.wakeParent(ev.Value()) // a child run: its parent's step waits for it
	}
	e.metrics.runFinished(wf.Name, string(ends))
	// Its one run finished line, as a run that ends at a step has: one that stays
	// failed has the error and the step that failed it, and says its on_failure steps
	// were cut short.
	extra := []slog.Attr{slog.String("cancelled_by", cancelledBy(cause, byHand)), slog.String("was", string(was))}
	failure, failedStep := "", ""
	if ends == RunFailed {
		// As the cancel left them: the run may have failed since fields were read.
		failure, failedStep = fields["error"], fields["failed_step"]
		if got, err := e.q.rdb.HMGet(ctx, e.q.shardFor(wf.Name).run(runID), "error", "failed_step").Result(); err == nil {
			failure, _ = got[0].(string)
			failedStep, _ = got[1].(string)
		}
		extra = append(extra, slog.String("on_failure", "cancelled"))
	}
	took := int64(0)
	if created := msTime(fields["created"]); !created.IsZero() {
		took = time.Since(created).Milliseconds()
	}
	logFinished(e.log, runID, wf.Name, ends, took, failure, failedStep, extra...)
	return &Cancelled{RunID: runID, Status: ends, Was: was}, nil
}

// cancelledBy is who cancelled a run, as its run finished line says: "hand" for
// Cancel (hookflow runs cancel, the API), "parent_timeout" when a run that called it
// (its parent, or theirs) timed out, and "parent" when its parent was cancelled.
func cancelledBy(cause cancelCause, byHand bool) string {
	switch {
	case byHand:
		return "hand"
	case cause == cancelParentTimedOut:
		return "parent_timeout"
	}
	return "parent"
}

// cancelChildren cancels the child runs of a cancelled run's workflow steps (one per
// item of a for_each one), and so theirs in turn. Each child lives in its own
// workflow's shard: each is cancelled by its own script there, after the parent's, so
// no script spans two shards. The children are listed after the parent's cancel: a
// worker that starts a child later (or may have: Redis did not answer its start) reads
// the parent, and finding it cancelled, or failed with the tombstones of a cancel
// during its on_failure steps, cancels the child itself (Pool.cancelledSince). A step
// that does not wait looks once it started the child; one that waits, once its park is
// refused or fails; and either, once its retry is refused after a start that may have
// stored the child. A child that has finished, or was never started, is left as it is.
// Only a step that waits for its child runs a child cancelled for a timeout again
// (Pool.subRun): the child of a `wait = false` step is cancelled with the tree
// instead, as nothing would replay it. With since above 0 (a time in ms), a child
// replayed after it is left as it is: replayed by hand since.
func (e *Engine) cancelChildren(ctx context.Context, runID string, wf *workflows.Workflow, cause cancelCause, since int64) {
	sh := e.q.shardFor(wf.Name)
	for _, s := range append(append([]*workflows.Step{}, wf.Steps...), wf.OnFailure...) {
		sub, ok := s.Action.(workflows.SubRun)
		if !ok {
			continue
		}
		cause := cause
		if cause == cancelParentTimedOut && !sub.Waits() {
			cause = cancelWithParent
		}
		ids := []string{childIDOf(runID, s.Name, nil)}
		if s.ForEach != nil {
			ids = nil
			set, err := e.q.readItems(ctx, sh, runID, s.Name)
			if err != nil {
				e.log.Warn("listing the child runs of a cancelled run failed; they run on", "run", runID, "step", s.Name, "err", err)
				continue
			}
			for i := 0; set != nil && i < set.n; i++ {
				item := &workflows.Item{Key: set.key(i)}
				id := childIDOf(runID, s.Name, item)
				if olderChildID(runID, s.Name, item) != "" { // an older build may have started it
					job := unit{step: s.Name, part: partItem, item: i}.jobID(runID)
					if id, _, err = e.q.findChild(ctx, e.q.shardFor(sub.Calls()), runID, s.Name, job, item); err != nil {
						e.log.Warn("looking for a child run of a cancelled run failed; it runs on", "run", runID, "step", s.Name, "err", err)
						continue
					}
				}
				ids = append(ids, id)
			}
		}
		for _, id := range ids {
			if since > 0 {
				at, err := e.q.rdb.HGet(ctx, e.q.shardFor(sub.Calls()).run(id), "replayed").Int64()
				if err == nil && at > since {
					continue
				}
			}
			e.cancelChild(ctx, id, cause)
		}
	}
}

// recascade cancels again the children of a run that was cancelled, and so theirs: a
// process that died while it cancelled them, after the run's own cancel, left the rest
// going. Cancelling the run again (by hand, or as a parent's timeout does when its step
// is retried after the crash) reaches them. Children that have finished are left as
// they are, and so are those replayed since the run was cancelled: by hand, on purpose.
func (e *Engine) recascade(ctx context.Context, runID string, fields map[string]string) {
	wf, err := e.versions.get(ctx, fields["wf"], fields["ver"])
	if err != nil {
		e.log.Warn("cancelling the child runs of a cancelled run again failed: its version cannot be read", "run", runID, "err", err)
		return
	}
	cause := cancelWithParent
	if fields[withParentField] != "" {
		cause = cancelParentTimedOut
	}
	finished, err := strconv.ParseInt(fields["finished"], 10, 64)
	if err != nil || finished <= 0 {
		finished = 1 // unknown: any child replayed is left as it is
	}
	e.cancelChildren(ctx, runID, wf, cause, finished)
}

// cancelChild cancels a child run, if it exists and has not finished; a failure is
// logged.
func (e *Engine) cancelChild(ctx context.Context, id string, cause cancelCause) {
	if err := e.cancelRun(ctx, id, cause); err != nil {
		e.log.Warn("cancelling a child run of a cancelled run failed", "run", id, "err", err)
	}
}

// cancelRun cancels run id, a child of a run cancelled or whose timeout passed, for
// cause, if it exists and has not finished.
func (e *Engine) cancelRun(ctx context.Context, id string, cause cancelCause) error {
	if _, err := e.cancel(ctx, id, cause, false); err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrFinished) {
		return err
	}
	return nil
}

// unitsOf are every unit a run of wf can have but its items: its steps, the joins of
// its for_each steps and parallel blocks, and its on_failure steps.
func unitsOf(wf *workflows.Workflow) []unit {
	var out []unit
	for _, n := range wf.Nodes {
		if n.Parallel {
			out = append(out, unit{step: n.Name, part: partJoin})
		}
		for _, s := range n.Steps {
			out = append(out, unit{step: s.Name})
			if s.ForEach != nil {
				out = append(out, unit{step: s.Name, part: partJoin})
			}
		}
	}
	for _, s := range wf.OnFailure {
		out = append(out, unit{step: s.Name})
	}
	return out
}

// cancelled reports whether a job was left as a tombstone by its run's cancel.
func (q *queue) cancelled(j *job) bool {
	ok, _ := q.rdb.HExists(context.Background(), j.shard.job(j.id), "cancelled").Result()
	return ok
}

// storedAttempt reports whether the record of j's unit in Redis is the one j's attempt
// wrote: a write that Redis ran but whose reply was lost (the connection cut) is
// refused when sent again, its job gone, though it was stored. A process that ran the
// unit again after j's lease was taken back wrote a later attempt; a cancel, none. A
// join's record is its step's, which says no attempt of its own: false. Only a write
// that settles the attempt, or queues the next, is told so; a park is not.
func (q *queue) storedAttempt(j *job, runID string) bool {
	if j.unit.part == partJoin {
		return false
	}
	hash, field := j.shard.run(runID), recordPrefix+j.unit.step
	if j.unit.part == partItem {
		hash, field = j.shard.results(runID, j.unit.step), strconv.Itoa(j.unit.item)
	}
	data, err := q.rdb.HGet(context.Background(), hash, field).Result()
	if err != nil {
		return false
	}
	rec, err := decodeRecord(data)
	if err != nil || rec.Attempt != j.attempt {
		return false
	}
	// A unit that parks (a wait step, an item waiting for its child run, a held delay)
	// writes its attempt's record more than once: a waiting one tells nothing of the
	// write after it.
	switch rec.Status {
	case StatusSucceeded, StatusFailed, StatusSkipped, StatusRetrying:
		return true
	}
	return false
}

// cancel runs cancel.lua for a run of wf, and returns the status the run had and the
// one it ends with.
func (q *queue) cancel(ctx context.Context, runID string, wf *workflows.Workflow, cause cancelCause) (was, ends RunStatus, err error) {
	sh := q.shardFor(wf.Name)
	keys := []string{sh.run(runID), sh.ready(wf.Name), sh.due(), sh.wake(), sh.open(), sh.inflight(wf.Name),
		sh.pending(wf.Name), sh.limit(wf.Name), sh.leases(), sh.dead()}
	units := unitsOf(wf)
	var ids, steps []any
	for _, u := range units {
		id := u.jobID(runID)
		keys = append(keys, sh.job(id))
		ids = append(ids, id)
	}
	for _, s := range wf.Steps {
		if s.ForEach != nil {
			keys = append(keys, sh.items(runID, s.Name), sh.results(runID, s.Name), sh.todo(runID, s.Name))
			steps = append(steps, s.Name)
		}
	}
	args := append([]any{sh.prefix, runID, wf.Name, q.retentionArg, len(ids), len(steps)}, ids...)
	args = append(args, steps...)
	if cause != cancelByHand {
		args = append(args, string(cause))
	}
	out, err := cancelScript.Run(ctx, q.rdb, keys, args...).StringSlice()
	if err != nil {
		return "", "", scriptError(err)
	}
	if len(out) != 2 {
		return "", "", fmt.Errorf("cancel: unexpected answer %q", out)
	}
	return RunStatus(out[0]), RunStatus(out[1]), nil
}
