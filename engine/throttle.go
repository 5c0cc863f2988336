package engine

import (
	"context"
	"errors"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// deferred hands a step that a shared limit held back (workflows.Throttled), or whose
// api could not read that limit or its token in Redis, to the queue, due when the limit
// allows it or soon, as a retry is, but counting no attempt and
// recording nothing: nothing was sent, or, for a paginated step held back before a
// later page, the pages read are kept with its job (pageStore) and recorded when the
// step settles. It reports whether o was such an outcome.
func (p *Pool) deferred(r *runState, j *job, o outcome) bool {
	var th *workflows.Throttled
	if o.status != StatusFailed || !errors.As(o.err, &th) {
		return false
	}
	// A wait past the run's deadline ends at it, where the step fails for the timeout
	// (its turn passes unused).
	wait := th.After
	if step, _ := r.wf.Step(j.unit.step); step != nil {
		wait = r.capWait(step, wait)
	}
	if th.Err != nil {
		p.logError("a step's api could not read what it shares in Redis; the step waits, counting no attempt",
			"run", r.id, "step", j.unit, "retry_in_ms", wait.Milliseconds(), "err", th.Err)
	}
	if err := p.e.q.deferJob(context.Background(), j, r.workflow, wait); err != nil {
		p.logError("handing back a step its api held back failed; it runs again when its lease expires",
			"run", r.id, "step", j.unit, "err", err)
	}
	return true
}

// deferJob queues a leased job again, due after wait, without counting its attempt.
func (q *queue) deferJob(ctx context.Context, j *job, workflow string, wait time.Duration) error {
	sh := j.shard
	return scriptError(deferScript.Run(ctx, q.rdb, []string{sh.job(j.id), sh.leases(), sh.ready(workflow), sh.due(), sh.wake()},
		j.id, j.token, workflow, max(wait, time.Millisecond).Milliseconds()).Err())
}
