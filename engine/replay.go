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

var errNotFailed = fmt.Errorf("%w: only a failed run can be", ErrCannotReplay)

// Replay queues a failed run again at the step it failed on, with the workflow version
// it started with. Steps that succeeded before it keep their results and do not run
// again; the step starts over with a fresh count of attempts.
func (e *Engine) Replay(ctx context.Context, runID string) error {
	fields, err := e.q.runFields(ctx, runID)
	if err != nil {
		return err
	}
	if fields == nil {
		return ErrNotFound
	}
	if fields["status"] != "failed" {
		return fmt.Errorf("%w: it is %s; only a failed run can be", ErrCannotReplay, fields["status"])
	}
	step, ok := strings.CutPrefix(fields["dead"], runID+":")
	if !ok {
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
	if err := e.q.replay(ctx, runID, step, wf); err != nil {
		return err
	}
	e.metrics.runReplayed(wf.Name)
	e.log.Info("run replayed", "run", runID, "workflow", wf.Name, "from_step", step)
	return nil
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
