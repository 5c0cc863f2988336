package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
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

// pollState is what is kept of a poll trigger between polls: workflows.PollState as
// Redis holds it. The cursor is read back as events are (workflows.DecodeStored), so
// that a 64-bit id (a since_id past 2^53) goes out as it came in, not rounded by a
// float64.
type pollState struct {
	Cursor    json.RawMessage `json:"cursor"`
	Recording bool            `json:"recording,omitempty"`
	Empty     int             `json:"empty,omitempty"`
}

// PollState returns what a poll trigger of wf kept after its last good poll, and found
// false when it never had one.
func (e *Engine) PollState(ctx context.Context, wf *workflows.Workflow, poll string) (st workflows.PollState, found bool, err error) {
	raw, err := e.q.rdb.Get(ctx, e.q.pollKey(wf.Name, poll)).Bytes()
	if errors.Is(err, redis.Nil) {
		return st, false, nil
	}
	if err != nil {
		return st, false, err
	}
	var kept pollState
	if err := json.Unmarshal(raw, &kept); err != nil {
		return st, false, fmt.Errorf("poll %s: state %q: %w", poll, raw, err)
	}
	var cursor any
	if len(kept.Cursor) > 0 {
		if cursor, err = workflows.DecodeStored(kept.Cursor); err != nil {
			return st, false, fmt.Errorf("poll %s: state %q: cursor: %w", poll, raw, err)
		}
	}
	return workflows.PollState{Cursor: cursor, Recording: kept.Recording, Empty: kept.Empty}, true, nil
}

// SavePoll records a good poll of a poll trigger of wf: the cursor it gave, and
// whether the poll's first is still recording what is there. The state is kept as
// long as a schedule's last tick.
func (e *Engine) SavePoll(ctx context.Context, wf *workflows.Workflow, poll string, st workflows.PollState) error {
	cursor, err := json.Marshal(st.Cursor)
	if err == nil {
		err = workflows.CheckStoredDepth(cursor) // as PollState reads it back
	}
	if err != nil {
		return fmt.Errorf("poll %s: cursor: %w", poll, err)
	}
	raw, err := json.Marshal(pollState{Cursor: cursor, Recording: st.Recording, Empty: st.Empty})
	if err != nil {
		return fmt.Errorf("poll %s: cursor: %w", poll, err)
	}
	return e.q.rdb.Set(ctx, e.q.pollKey(wf.Name, poll), raw, tickTTL).Err()
}

// LockPoll takes the lock of a poll trigger of wf for holder, for ttl, and reports
// whether it has it: one poll of the trigger runs at a time across processes. It
// reports false when another holder has it. With keep, it keeps the lock holder has
// for ttl from now, and reports false when holder's hold is over (it may have passed
// to another).
func (e *Engine) LockPoll(ctx context.Context, wf *workflows.Workflow, poll, holder string, ttl time.Duration, keep bool) (bool, error) {
	mode := "take"
	if keep {
		mode = "keep"
	}
	n, err := pollLockScript.Run(ctx, e.q.rdb, []string{e.q.pollLockKey(wf.Name, poll)}, mode, holder, max(ttl, time.Millisecond).Milliseconds()).Int()
	return n == 1, err
}

// UnlockPoll frees the lock of a poll trigger of wf if holder has it.
func (e *Engine) UnlockPoll(ctx context.Context, wf *workflows.Workflow, poll, holder string) error {
	return pollLockScript.Run(ctx, e.q.rdb, []string{e.q.pollLockKey(wf.Name, poll)}, "free", holder, 0).Err()
}

// pollLockKey names the lock a poll of a poll trigger holds while it runs.
func (q *queue) pollLockKey(workflow, poll string) string {
	return q.pollKey(workflow, poll) + ":lock"
}

// MarkSeen records dedupe keys of wf as started for window, without starting runs: a
// StartOnce of one of them within the window starts none. Keys recorded already keep
// their run.
func (e *Engine) MarkSeen(ctx context.Context, wf *workflows.Workflow, keys []string, window time.Duration) error {
	_, err := e.seenKeys(ctx, wf, keys, "mark", window)
	return err
}

// KeepSeen makes the dedupe keys of wf that exist last window from now: the items a
// poll reads again, as it keeps its cursor, stay seen while they can be read again.
func (e *Engine) KeepSeen(ctx context.Context, wf *workflows.Workflow, keys []string, window time.Duration) error {
	_, err := e.seenKeys(ctx, wf, keys, "keep", window)
	return err
}

// seenKeys runs seenkeys.lua over the dedupe keys of wf's keys: "seen", "mark" or
// "keep" for window.
func (e *Engine) seenKeys(ctx context.Context, wf *workflows.Workflow, keys []string, mode string, window time.Duration) ([]any, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = e.q.dedupeKey(wf.Name, k)
	}
	return seenKeysScript.Run(ctx, e.q.rdb, names, mode, max(window, time.Millisecond).Milliseconds(), seenWithoutRun).Slice()
}

// seenWithoutRun is what a dedupe key MarkSeen recorded holds in place of a run id.
const seenWithoutRun = "-"

// pollStatusKey names the outcome of a poll trigger's polls: a hash of last_poll_at,
// last_ok_at and last_error_at (ms), last_error, failures (in a row, across
// processes), started (runs the last good poll started) and not_before (ms; see
// HoldPoll). It shares the hash tag of the poll's other keys (pollKey).
func (q *queue) pollStatusKey(workflow, poll string) string {
	return q.pollKey(workflow, poll) + ":status"
}

// RecordPoll records the outcome of a poll of a poll trigger of wf, for every process
// to show: the runs it started, or its error (pollErr, already redacted), which is
// kept, with when it came, until the next failure replaces it.
func (e *Engine) RecordPoll(ctx context.Context, wf *workflows.Workflow, poll string, started int, pollErr string) error {
	key := e.q.pollStatusKey(wf.Name, poll)
	now := time.Now().UnixMilli()
	pipe := e.q.rdb.TxPipeline()
	if pollErr == "" {
		pipe.HSet(ctx, key, "last_poll_at", now, "last_ok_at", now, "failures", 0, "started", started)
	} else {
		pipe.HSet(ctx, key, "last_poll_at", now, "last_error_at", now, "last_error", pollErr)
		pipe.HIncrBy(ctx, key, "failures", 1)
	}
	pipe.PExpire(ctx, key, tickTTL)
	_, err := pipe.Exec(ctx)
	return err
}

// HoldPoll keeps until as the time before which no process polls a poll trigger of
// wf: the API asked so (a 429's or 503's Retry-After). Nothing clears it: once past,
// it holds nothing.
func (e *Engine) HoldPoll(ctx context.Context, wf *workflows.Workflow, poll string, until time.Time) error {
	key := e.q.pollStatusKey(wf.Name, poll)
	pipe := e.q.rdb.TxPipeline()
	pipe.HSet(ctx, key, "not_before", until.UnixMilli())
	pipe.PExpire(ctx, key, tickTTL)
	_, err := pipe.Exec(ctx)
	return err
}

// PollHeldUntil returns the time HoldPoll kept for a poll trigger of wf; zero when
// none was.
func (e *Engine) PollHeldUntil(ctx context.Context, wf *workflows.Workflow, poll string) (time.Time, error) {
	ms, err := e.q.rdb.HGet(ctx, e.q.pollStatusKey(wf.Name, poll), "not_before").Int64()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(ms), nil
}

// PollStatus is how the polls of a poll trigger went, as the admin API shows them.
type PollStatus struct {
	LastPollAt  *time.Time `json:"last_poll_at,omitempty"`
	LastOKAt    *time.Time `json:"last_ok_at,omitempty"`
	Failures    int        `json:"failures"` // polls failed in a row, by any process
	Started     int        `json:"started"`  // runs the last good poll started
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
	// NotBefore is the time before which no process polls, as the API asked (a 429's
	// or 503's Retry-After); nil once it has passed.
	NotBefore *time.Time `json:"not_before,omitempty"`
}

// TriggerState returns how the polls of the poll trigger of wf keyed key went; nil
// before its first poll.
func (e *Engine) TriggerState(ctx context.Context, wf *workflows.Workflow, key string) (any, error) {
	h, err := e.q.rdb.HGetAll(ctx, e.q.pollStatusKey(wf.Name, key)).Result()
	if err != nil || len(h) == 0 {
		return nil, err
	}
	at := func(name string) *time.Time {
		ms, err := strconv.ParseInt(h[name], 10, 64)
		if err != nil {
			return nil
		}
		t := time.UnixMilli(ms).UTC()
		return &t
	}
	st := &PollStatus{LastPollAt: at("last_poll_at"), LastOKAt: at("last_ok_at"), LastErrorAt: at("last_error_at"),
		LastError: h["last_error"]}
	st.Failures, _ = strconv.Atoi(h["failures"])
	st.Started, _ = strconv.Atoi(h["started"])
	if t := at("not_before"); t != nil && t.After(time.Now()) {
		st.NotBefore = t
	}
	return st, nil
}

// Seen reports, for each dedupe key of wf, whether it started a run (or was marked
// seen) within its window: an item of a poll with that key would start none. It
// changes nothing but deleting the keys whose window is over.
func (e *Engine) Seen(ctx context.Context, wf *workflows.Workflow, keys []string) ([]bool, error) {
	res, err := e.seenKeys(ctx, wf, keys, "seen", 0)
	if err != nil {
		return nil, err
	}
	seen := make([]bool, len(keys))
	for i := range seen {
		if i < len(res) {
			n, _ := res[i].(int64)
			seen[i] = n == 1
		}
	}
	return seen, nil
}
