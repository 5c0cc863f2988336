package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// tickTTL is how long a schedule's last tick is remembered without firing: a schedule
// that comes back within it catches up on what it missed.
const tickTTL = 400 * 24 * time.Hour

// scheduleKey names the last tick of one schedule of a workflow (ms); the key with
// ":run" added holds that tick and its run ('<ms> <run>'). schedule is its spec.
func (q *queue) scheduleKey(workflow, schedule string) string {
	sum := sha256.Sum256([]byte(schedule))
	return q.shardFor(workflow).prefix + "sched:" + workflow + ":" + hex.EncodeToString(sum[:8])
}

// LastTick returns the last tick of a schedule of wf that any process started. The
// first time a schedule is asked for, it has none: Redis's clock is recorded and
// returned, so a new schedule starts with its next tick instead of catching up on the
// past.
func (e *Engine) LastTick(ctx context.Context, wf *workflows.Workflow, schedule string) (time.Time, error) {
	key := e.q.scheduleKey(wf.Name, schedule)
	ms, err := lastTickScript.Run(ctx, e.q.rdb, []string{key}, tickTTL.Milliseconds()).Text()
	if err != nil {
		return time.Time{}, err
	}
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("schedule %s: last tick %q: %w", schedule, ms, err)
	}
	return time.UnixMilli(n), nil
}

// StartTick starts the run of a tick of a schedule of wf, and returns its id with
// first true; in the same atomic step it records the tick as the schedule's last, so
// that one run starts per tick whichever process starts it. When the tick started a
// run already, it returns that run's id with first false; when a later tick did, it
// returns "" and false. A tick more than a minute past Redis's clock is refused with an
// error: the caller's clock is ahead.
func (e *Engine) StartTick(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event, schedule string, tick time.Time) (id string, first bool, err error) {
	id, first, err = e.start(ctx, wf, ev, "", &dedupe{schedule: e.q.scheduleKey(wf.Name, schedule), tick: tick}, "")
	if errors.Is(err, errTickTaken) {
		return "", false, nil
	}
	return id, first, err
}
