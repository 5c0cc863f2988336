package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// batcher runs the starts of runs when they must reach replicas (--wait-replicas):
// each batch goes in one pipeline with a WAIT after it, on one connection, and its
// calls return once enough replicas acknowledged them. Otherwise starts go with the
// commits, through the shard's pipeliner. Each shard has its own.
type batcher struct {
	rdb    redis.UniversalClient
	script *redis.Script
	calls  chan *scriptCall
	start  sync.Once
	// wait is how many replicas must acknowledge a batch (Redis WAIT, on the connection
	// that wrote it) before its calls return; waitTimeout bounds the wait.
	wait        int
	waitTimeout time.Duration
}

// scriptCall is one call of a batcher's script.
type scriptCall struct {
	ctx  context.Context
	keys []string
	args []any
	res  any
	err  error
	done chan struct{}
	fate fate // sent, or dropped by its caller who stopped waiting first
	// mayHaveRun says that an attempt before the last may have stored the call: it was
	// answered, or not at all, rather than refused before it ran.
	mayHaveRun bool
}

// waitingFlushers is how many batches are with Redis at once: two, as a batch holds its
// connection until the replicas acknowledge it, and Redis is free meanwhile.
const waitingFlushers = 2

func newBatcher(rdb redis.UniversalClient, script *redis.Script, wait int, waitTimeout time.Duration) *batcher {
	return &batcher{rdb: rdb, script: script, calls: make(chan *scriptCall, maxWaiting), wait: wait, waitTimeout: waitTimeout}
}

// run calls the script, as cmd (evalsha, the script's hash, the key count, keys and
// arguments) lays out its call, and returns its result. A call whose ctx ends before
// it is sent is not sent; one whose ctx ends after may still take effect.
func (b *batcher) run(ctx context.Context, cmd []any) (any, error) {
	keys, args, err := splitCall(cmd)
	if err != nil {
		return nil, err
	}
	b.start.Do(func() {
		for range waitingFlushers {
			go b.flush()
		}
	})
	ctx, cancel := context.WithTimeout(ctx, batchWait)
	defer cancel()
	c := &scriptCall{ctx: ctx, keys: keys, args: args, done: make(chan struct{})}
	select {
	case b.calls <- c:
	default:
		return nil, errBacklog
	}
	select {
	case <-c.done:
		return c.res, c.err
	case <-ctx.Done():
		select {
		case <-c.done: // answered as its caller stopped waiting
			return c.res, c.err
		default:
		}
		return nil, c.fate.giveUp(ctx.Err())
	}
}

// flush sends the calls waiting, up to maxPiped, in one pipeline, for as long as the
// process lives.
func (b *batcher) flush() {
	batch := make([]*scriptCall, 0, maxPiped)
	cmds := make([]*redis.Cmd, 0, maxPiped)
	for c := range b.calls {
		batch = gather(b.calls, append(batch[:0], c))
		b.exec(batch, cmds[:0])
	}
}

func (b *batcher) exec(batch []*scriptCall, cmds []*redis.Cmd) {
	// Calls whose callers gave up are not made: their callers answered an error, and a
	// sender told 503 must not find its event started. The batch ends when the first of
	// its callers stops waiting, so that no call is sent again after that.
	live := batch[:0]
	end := time.Now().Add(batchWait)
	for _, c := range batch {
		err := c.ctx.Err()
		if err == nil && !c.fate.send() {
			err = context.DeadlineExceeded
		}
		if err != nil {
			c.err = err
			close(c.done)
			continue
		}
		if d, ok := c.ctx.Deadline(); ok && d.Before(end) {
			end = d
		}
		live = append(live, c)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithDeadline(context.Background(), end)
	defer cancel()
	b.execWaiting(ctx, live, cmds)
}

// ErrNotReplicated is returned for a call that Redis's primary took but too few
// replicas acknowledged in time: a failover now could lose it.
var ErrNotReplicated error = notReplicatedError{}

type notReplicatedError struct{}

func (notReplicatedError) Error() string { return "too few replicas acknowledged the write" }

// Stored tells a caller that does not import the engine (the webhook receiver) that
// the start is stored on the primary though it failed.
func (notReplicatedError) Stored() bool { return true }

// execWaiting sends the calls and a WAIT in one pipeline on one connection to the
// primary that holds their shard (WAIT waits for the writes of its own connection),
// and fails every call that took effect when fewer than b.wait replicas acknowledged
// them. On a cluster whose slot moved (a failover), it finds the new primary and tries
// again: a start is idempotent.
func (b *batcher) execWaiting(ctx context.Context, live []*scriptCall, cmds []*redis.Cmd) {
	defer func() {
		for _, c := range live {
			c.err = unanswered(c.err)
			close(c.done)
		}
	}()
	for attempt := 0; ; attempt++ {
		node, err := b.primary(ctx, live[0].keys[0])
		if err != nil {
			for _, c := range live {
				c.err = err // the attempt before may have reached Redis: maybe stored
				if attempt == 0 {
					c.err = notSent{err}
				}
			}
			return
		}
		// Eval, not EvalSha: the script's source travels with each call, but a primary
		// that lost its scripts (a replica just promoted) runs it all the same.
		pipe := node.Pipeline()
		cmds = cmds[:0]
		for _, c := range live {
			cmds = append(cmds, b.script.Eval(ctx, pipe, c.keys, c.args...))
		}
		wait := pipe.Do(ctx, "WAIT", b.wait, b.waitTimeout.Milliseconds())
		_, _ = pipe.Exec(ctx)
		cc, cluster := b.rdb.(*redis.ClusterClient)
		moved := false
		for i, c := range live {
			c.res, c.err = cmds[i].Result()
			moved = moved || c.err != nil && (isMoved(c.err) || cluster && !isReply(c.err))
		}
		if moved && attempt < 3 {
			for _, c := range live {
				c.mayHaveRun = c.mayHaveRun || !wroteNothing(c.err)
			}
			if cluster {
				// The slot moved, or its primary is gone (killed, and its replica
				// promoted). ReloadState only schedules a reload, and the next attempt
				// would go to the same node: ForEachMaster reloads the slots first.
				_ = cc.ForEachMaster(ctx, func(context.Context, *redis.Client) error { return nil })
			}
			continue
		}
		triedBefore(live)
		acked, err := wait.Int64()
		switch {
		case err == nil && acked < int64(b.wait):
			err = fmt.Errorf("%w: %d of %d within %s", ErrNotReplicated, acked, b.wait, b.waitTimeout)
		case err != nil: // the calls with a reply are stored all the same
			err = fmt.Errorf("%w: WAIT: %w", ErrNotReplicated, err)
		}
		if err != nil {
			for _, c := range live {
				if c.err == nil { // its reply kept: what the primary stored
					c.err = fmt.Errorf("the primary stored it, but: %w", err)
				}
			}
		}
		return
	}
}

// wroteNothing reports whether err, a call's error on one attempt, proves that attempt
// wrote nothing: Redis sent it elsewhere (MOVED, ASK, TRYAGAIN, CLUSTERDOWN), or
// refused it as it refuses only a script that wrote nothing (redisRefusal).
func wroteNothing(err error) bool {
	if err == nil || !isReply(err) {
		return false
	}
	_, none := redisRefusal(err)
	return none || isMoved(err)
}

// triedBefore fails with ErrOutcomeUnknown the calls that Redis refused on the last
// attempt as it refuses only a script that wrote nothing (OOM, READONLY, MISCONF,
// NOREPLICAS, an ACL's NOPERM) but that an attempt before may have stored: answered
// then (the batch went again for another of its calls) or not at all. The refusal
// proves nothing of that attempt, which may have reached another node, or the
// primary before a failover, while this one met a replica or a node that does not
// hold the run.
func triedBefore(live []*scriptCall) {
	for _, c := range live {
		if _, none := redisRefusal(c.err); none && c.mayHaveRun {
			c.err = fmt.Errorf("%w: an earlier try may have stored it (%w)", ErrOutcomeUnknown, c.err)
		}
	}
}

// notSent is the error of a call that was never sent: no node to send it to.
type notSent struct{ err error }

func (e notSent) Error() string { return e.err.Error() }
func (e notSent) Unwrap() error { return e.err }

// primary returns a client of the primary holding key: on a cluster, the node's own,
// whose pipeline goes on one connection; otherwise the client itself.
func (b *batcher) primary(ctx context.Context, key string) (redis.Cmdable, error) {
	if cc, ok := b.rdb.(*redis.ClusterClient); ok {
		return cc.MasterForKey(ctx, key)
	}
	return b.rdb, nil
}

// isReply reports whether err is an error reply of Redis, not a failure to reach it.
func isReply(err error) bool {
	var reply redis.Error
	return errors.As(err, &reply)
}

func isMoved(err error) bool {
	return redis.HasErrorPrefix(err, "MOVED") || redis.HasErrorPrefix(err, "ASK") ||
		redis.HasErrorPrefix(err, "TRYAGAIN") || redis.HasErrorPrefix(err, "CLUSTERDOWN") ||
		redis.HasErrorPrefix(err, "READONLY")
}
