package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/workflows"
)

var tickScript = script("tick.lua")

// tickTTL is how long a schedule's last tick is remembered without firing: a schedule
// that comes back within it catches up on what it missed.
const tickTTL = 400 * 24 * time.Hour

// scheduleKey names the last tick of one schedule of a workflow. schedule is its spec.
func (q *queue) scheduleKey(workflow, schedule string) string {
	sum := sha256.Sum256([]byte(schedule))
	return q.shardFor(workflow).prefix + "sched:" + workflow + ":" + hex.EncodeToString(sum[:8])
}

// LastTick returns the last tick of a schedule of wf that any process started. The
// first time a schedule is asked for, it has none: now is recorded and returned, so a
// new schedule starts with its next tick instead of catching up on the past.
func (e *Engine) LastTick(ctx context.Context, wf *workflows.Workflow, schedule string, now time.Time) (time.Time, error) {
	key := e.q.scheduleKey(wf.Name, schedule)
	var get *redis.StringCmd
	_, err := e.q.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SetNX(ctx, key, now.UnixMilli(), tickTTL)
		get = p.Get(ctx, key)
		return nil
	})
	if err != nil {
		return time.Time{}, err
	}
	ms, err := strconv.ParseInt(get.Val(), 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(ms), nil
}

// ClaimTick claims tick of a schedule of wf for the caller, and reports whether it
// got it: false when a process claimed it, or a later tick, already. A claimed tick
// more than a minute past Redis's clock does not count: a process with a wrong clock
// claimed it.
func (e *Engine) ClaimTick(ctx context.Context, wf *workflows.Workflow, schedule string, tick time.Time) (bool, error) {
	key := e.q.scheduleKey(wf.Name, schedule)
	n, err := tickScript.Run(ctx, e.q.rdb, []string{key}, tick.UnixMilli(), tickTTL.Milliseconds()).Int()
	return n == 1, err
}
