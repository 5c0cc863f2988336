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

// Replay queues a failed run again, with the workflow version it started with, from
// what failed it: the step that failed, the failed items of a for_each step (and those
// that never started), the failed steps of a parallel block. What succeeded keeps its
// record and does not run again; what runs again starts over with a fresh count of
// attempts. The planner decides what that is, as for any change to a run.
func (e *Engine) Replay(ctx context.Context, runID string) error {
	fields, err := e.q.runFields(ctx, runID)
	if err != nil {
		return err
	}
	if fields == nil {
		return ErrNotFound
	}
	if RunStatus(fields["status"]) != RunFailed {
		return fmt.Errorf("%w: it is %s; only a failed run can be", ErrCannotReplay, fields["status"])
	}
	if fields["dead"] == "" {
		return fmt.Errorf("%w: it failed before its first step (%s); start a new run with its event instead",
			ErrCannotReplay, fields["error"])
	}
	wf, err := e.versions.get(ctx, fields["wf"], fields["ver"])
	if retry, _ := workflows.Retryable(err); err != nil && !retry {
		return fmt.Errorf("%w: %v", ErrCannotReplay, err)
	}
	if err != nil {
		return err
	}
	rec, err := readRecord(fields)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCannotReplay, err)
	}
	sh := e.q.shardFor(wf.Name)
	for _, s := range wf.Steps {
		if s.ForEach == nil {
			continue
		}
		set, err := e.q.readItems(ctx, sh, runID, s.Name)
		if err != nil {
			return err
		}
		if set != nil {
			rec.items[s.Name] = set
		}
	}
	cl := clearFailures(wf, rec)
	p := plan(wf, rec, nil)
	if len(p.Start) == 0 {
		return fmt.Errorf("%w: nothing in it failed that can run again", ErrCannotReplay)
	}
	if err := e.q.replay(ctx, runID, wf, p, cl); err != nil {
		return err
	}
	e.metrics.runReplayed(wf.Name)
	names := make([]string, len(p.Start))
	for i, u := range p.Start {
		names[i] = u.String()
	}
	e.log.Info("run replayed", "run", runID, "workflow", wf.Name, "from", strings.Join(names, ", "))
	return nil
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
// failed with on_error = "continue", stays.
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
		}
	}
	clearStep := func(s *workflows.Step) {
		r := rec.steps[s.Name]
		if r != nil && r.Status.Settled() && (r.Status != StatusFailed || s.OnError == workflows.Continue) {
			return
		}
		clear(s.Name)
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
	for _, n := range wf.Nodes {
		if !n.Parallel {
			clearStep(n.Steps[0])
			continue
		}
		if r := rec.steps[n.Name]; r != nil && r.Status == StatusSucceeded {
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
	ID       string    `json:"id"`
	Run      string    `json:"run_id"`
	Workflow string    `json:"workflow"`
	Step     string    `json:"step"`
	Attempts int       `json:"attempts"`
	Error    string    `json:"error"`
	DeadAt   time.Time `json:"dead_at"`
}

// DeadLetters lists up to limit dead letters, newest first.
func (e *Engine) DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error) {
	switch {
	case limit <= 0:
		limit = defaultLimit
	case limit > maxLimit:
		limit = maxLimit
	}
	out := []DeadLetter{}
	for _, sh := range e.q.shards {
		ids, err := e.q.rdb.ZRevRange(ctx, sh.dead(), 0, int64(limit-1)).Result()
		if err != nil {
			return nil, err
		}
		pipe := e.q.rdb.Pipeline()
		cmds := make([]*redis.MapStringStringCmd, len(ids))
		for i, id := range ids {
			cmds[i] = pipe.HGetAll(ctx, sh.job(id))
		}
		if _, err := pipe.Exec(ctx); err != nil && len(ids) > 0 {
			return nil, err
		}
		for i, c := range cmds {
			if d, ok := deadLetter(ids[i], c.Val()); ok {
				out = append(out, d)
			}
		}
	}
	slices.SortFunc(out, func(a, b DeadLetter) int { return b.DeadAt.Compare(a.DeadAt) })
	return out[:min(limit, len(out))], nil
}

func deadLetter(id string, job map[string]string) (DeadLetter, bool) {
	if job["dead"] == "" {
		return DeadLetter{}, false // replayed or expired meanwhile
	}
	attempts, _ := strconv.Atoi(job["attempt"])
	return DeadLetter{ID: id, Run: job["run"], Workflow: job["wf"], Step: job["step"],
		Attempts: attempts, Error: job["error"], DeadAt: msTime(job["dead"])}, true
}

// RetryDeadLetter replays the run of a dead letter from its step, and returns the run's id.
func (e *Engine) RetryDeadLetter(ctx context.Context, id string) (string, error) {
	for _, sh := range e.q.shards {
		job, err := e.q.rdb.HGetAll(ctx, sh.job(id)).Result()
		if err != nil {
			return "", err
		}
		if d, ok := deadLetter(id, job); ok {
			return d.Run, e.Replay(ctx, d.Run)
		}
	}
	return "", ErrNotFound
}
