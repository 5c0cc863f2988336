package engine

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// batcher runs the calls of one script for concurrent callers in pipelined round trips:
// while one batch is with Redis, the next gathers. Under load, a webhook's start then
// costs a share of a round trip's system calls, in hookflow and in Redis, instead of a
// whole one; alone, it goes at once.
type batcher struct {
	rdb    redis.UniversalClient
	script *redis.Script
	calls  chan *scriptCall
	start  sync.Once
}

// scriptCall is one call of a batcher's script.
type scriptCall struct {
	keys []string
	args []any
	res  any
	err  error
	done chan struct{}
}

const (
	batchFlushers = 2   // batches with Redis at once
	maxStartBatch = 128 // calls in one round trip, at most
	batchTimeout  = 10 * time.Second
)

func newBatcher(rdb redis.UniversalClient, script *redis.Script) *batcher {
	return &batcher{rdb: rdb, script: script, calls: make(chan *scriptCall, maxStartBatch*batchFlushers)}
}

// run calls the script and returns its result. When ctx ends first, run returns its
// error; the call may still be made.
func (b *batcher) run(ctx context.Context, keys []string, args ...any) (any, error) {
	b.start.Do(func() {
		for range batchFlushers {
			go b.flush()
		}
	})
	c := &scriptCall{keys: keys, args: args, done: make(chan struct{})}
	select {
	case b.calls <- c:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case <-c.done:
		return c.res, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// flush sends the calls waiting, up to maxStartBatch, in one pipeline, for as long as the
// process lives.
func (b *batcher) flush() {
	batch := make([]*scriptCall, 0, maxStartBatch)
	cmds := make([]*redis.Cmd, 0, maxStartBatch)
	for c := range b.calls {
		batch = append(batch[:0], c)
	gather:
		for len(batch) < maxStartBatch {
			select {
			case c := <-b.calls:
				batch = append(batch, c)
			default:
				break gather
			}
		}
		b.exec(batch, cmds[:0])
	}
}

func (b *batcher) exec(batch []*scriptCall, cmds []*redis.Cmd) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	if len(batch) == 1 {
		c := batch[0]
		c.res, c.err = b.script.Run(ctx, b.rdb, c.keys, c.args...).Result()
		close(c.done)
		return
	}
	pipe := b.rdb.Pipeline()
	for _, c := range batch {
		cmds = append(cmds, b.script.EvalSha(ctx, pipe, c.keys, c.args...))
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
	for i, c := range batch {
		c.res, c.err = cmds[i].Result()
		if c.err != nil && strings.HasPrefix(c.err.Error(), "NOSCRIPT") {
			// Redis lost its scripts (a restart, SCRIPT FLUSH): Run loads it again.
			c.res, c.err = b.script.Run(ctx, b.rdb, c.keys, c.args...).Result()
		}
		close(c.done)
	}
}
