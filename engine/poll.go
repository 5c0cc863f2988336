package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/workflows"
)

// ClaimTick claims a tick of a schedule of wf that starts no run of its own, such as
// a poll trigger's, and reports whether this call claimed it: one caller claims each
// tick, however many processes share the Redis, and a tick at or before the last
// claimed is refused. It keeps the schedule's last tick where LastTick reads it.
func (e *Engine) ClaimTick(ctx context.Context, wf *workflows.Workflow, schedule string, tick time.Time) (bool, error) {
	key := e.q.scheduleKey(wf.Name, schedule)
	err := claimTickScript.Run(ctx, e.q.rdb, []string{key}, tick.UnixMilli(), tickTTL.Milliseconds()).Err()
	if err = scriptError(err); errors.Is(err, errTickTaken) {
		return false, nil
	}
	return err == nil, err
}

// pollKey names the state of one poll trigger of a workflow; poll is its key.
func (q *queue) pollKey(workflow, poll string) string {
	sum := sha256.Sum256([]byte(poll))
	return q.shardFor(workflow).prefix + "poll:" + workflow + ":" + hex.EncodeToString(sum[:8])
}

// pollState is what is kept of a poll trigger between polls.
type pollState struct {
	Cursor any `json:"cursor"`
}

// PollCursor returns the cursor a poll trigger of wf kept after its last good poll,
// and found false when it never had a good poll.
func (e *Engine) PollCursor(ctx context.Context, wf *workflows.Workflow, poll string) (cursor any, found bool, err error) {
	raw, err := e.q.rdb.Get(ctx, e.q.pollKey(wf.Name, poll)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var st pollState
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, false, fmt.Errorf("poll %s: state %q: %w", poll, raw, err)
	}
	return st.Cursor, true, nil
}

// SavePoll records a good poll of a poll trigger of wf and the cursor it gave. The
// state is kept as long as a schedule's last tick.
func (e *Engine) SavePoll(ctx context.Context, wf *workflows.Workflow, poll string, cursor any) error {
	raw, err := json.Marshal(pollState{Cursor: cursor})
	if err != nil {
		return fmt.Errorf("poll %s: cursor: %w", poll, err)
	}
	return e.q.rdb.Set(ctx, e.q.pollKey(wf.Name, poll), raw, tickTTL).Err()
}

// MarkSeen records dedupe keys of wf as started for window, without starting runs: a
// StartOnce of one of them within the window starts none. Keys recorded already keep
// their run.
func (e *Engine) MarkSeen(ctx context.Context, wf *workflows.Workflow, keys []string, window time.Duration) error {
	if len(keys) == 0 {
		return nil
	}
	pipe := e.q.rdb.Pipeline()
	for _, k := range keys {
		pipe.SetNX(ctx, e.q.dedupeKey(wf.Name, k), seenWithoutRun, max(window, time.Millisecond))
	}
	_, err := pipe.Exec(ctx)
	return err
}

// seenWithoutRun is what a dedupe key MarkSeen recorded holds in place of a run id.
const seenWithoutRun = "-"
