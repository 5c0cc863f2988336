package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/workflows"
)

// tickTTL is how long a schedule's last tick is remembered without firing: a schedule
// that comes back within it catches up on what it missed.
const tickTTL = 400 * 24 * time.Hour

// scheduleKey names the last tick of one schedule of a workflow (ms); the key with
// ":run" added holds that tick and its run ('<ms> <run>'). schedule is its spec.
func (q *queue) scheduleKey(workflow, schedule string) string {
	return q.shardFor(workflow).prefix + "sched:" + workflow + ":" + specHash(schedule)
}

// schedulesKey names the schedules of a workflow in use when a process last read its
// files: their specHashes, space-separated.
func (q *queue) schedulesKey(workflow string) string {
	return q.shardFor(workflow).prefix + "sched:" + workflow + ":in-use"
}

// specHash names a schedule's spec in its keys.
func specHash(schedule string) string {
	sum := sha256.Sum256([]byte(schedule))
	return hex.EncodeToString(sum[:8])
}

// UseSchedules records schedules as the specs of wf's schedules in use, and reports
// which of them were not in use when they were last recorded (by any process, on a
// start or a reload): changed, or changed back, while no process ran them. known is
// false when none were recorded (hookflow ran no schedule of wf, or a version that
// did not record them did). With no schedules (wf has none now), it records that
// none is in use where a record exists, and makes none for a workflow that never had
// one.
func (e *Engine) UseSchedules(ctx context.Context, wf *workflows.Workflow, schedules []string) (notInUse map[string]bool, known bool, err error) {
	hashes := make([]string, len(schedules))
	for i, s := range schedules {
		hashes[i] = specHash(s)
	}
	args := redis.SetArgs{Get: true, TTL: tickTTL}
	if len(schedules) == 0 {
		args.Mode = "XX"
	}
	before, err := e.q.rdb.SetArgs(ctx, e.q.schedulesKey(wf.Name), strings.Join(hashes, " "), args).Result()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, err
	}
	was := strings.Fields(before)
	notInUse = map[string]bool{}
	for i, s := range schedules {
		if !slices.Contains(was, hashes[i]) {
			notInUse[s] = true
		}
	}
	return notInUse, true, nil
}

// LastTick returns the last tick of a schedule of wf that any process started. The
// first time a schedule is asked for, it has none: Redis's clock is recorded and
// returned, so a new schedule starts with its next tick instead of catching up on the
// past.
func (e *Engine) LastTick(ctx context.Context, wf *workflows.Workflow, schedule string) (time.Time, error) {
	return e.LastTickFrom(ctx, wf, schedule, "")
}

// LastTickFrom is LastTick for a schedule that was named former before (a poll
// trigger's, whose name once held its schedule): the first time it is asked for, it
// takes the last tick kept under former when there is one, so that the upgrade that
// renamed it catches up on a tick missed meanwhile rather than wait for the next. ""
// names none.
func (e *Engine) LastTickFrom(ctx context.Context, wf *workflows.Workflow, schedule, former string) (time.Time, error) {
	keys := []string{e.q.scheduleKey(wf.Name, schedule)}
	if former != "" {
		keys = append(keys, e.q.scheduleKey(wf.Name, former))
	}
	ms, err := lastTickScript.Run(ctx, e.q.rdb, keys, tickTTL.Milliseconds()).Text()
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
