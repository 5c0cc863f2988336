package engine

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"
)

// pipeliner sends the script calls of concurrent workers (their commits) in pipelined
// round trips, as a batcher does for starts: while one batch is with Redis, the next
// gathers, and a call alone goes at once. With many workers committing at once, a
// commit then costs a share of a round trip's system calls, in hookflow and in Redis.
// Each shard has its own, so that a batch goes to one Redis Cluster node.
type pipeliner struct {
	rdb   redis.UniversalClient
	calls chan *pipedCall
	start sync.Once
}

// pipedCall is one call: an EVALSHA command, made whole, and the script it runs, to be
// loaded again if Redis lost it.
type pipedCall struct {
	cmd    *redis.Cmd
	script *redis.Script
	done   chan struct{}
}

func newPipeliner(rdb redis.UniversalClient) *pipeliner {
	return &pipeliner{rdb: rdb, calls: make(chan *pipedCall, maxWaiting)}
}

// evalsha runs cmd (evalsha, the script's hash, the key count, keys and arguments) in
// the next batch and returns it done. cmd's arguments must stay as they are until it
// returns. When too many calls wait already, it runs alone. A batch ends within
// batchWait, whatever ctx says: a commit sent is waited for.
func (p *pipeliner) evalsha(ctx context.Context, s *redis.Script, args []any) *redis.Cmd {
	p.start.Do(func() {
		for range batchFlushers {
			go p.flush()
		}
	})
	c := &pipedCall{cmd: redis.NewCmd(ctx, args...), script: s, done: make(chan struct{})}
	select {
	case p.calls <- c:
	default:
		return evalsha(ctx, p.rdb, s, args)
	}
	<-c.done
	return c.cmd
}

// flush sends the calls waiting, up to maxStartBatch, in one pipeline, for as long as
// the process lives.
func (p *pipeliner) flush() {
	batch := make([]*pipedCall, 0, maxStartBatch)
	for c := range p.calls {
		batch = gather(p.calls, append(batch[:0], c))
		p.exec(batch)
	}
}

// gather adds to batch the calls waiting in calls, without waiting for more, until
// batch holds maxStartBatch.
func gather[T any](calls <-chan T, batch []T) []T {
	for len(batch) < maxStartBatch {
		select {
		case c := <-calls:
			batch = append(batch, c)
		default:
			return batch
		}
	}
	return batch
}

func (p *pipeliner) exec(batch []*pipedCall) {
	ctx, cancel := context.WithTimeout(context.Background(), batchWait)
	defer cancel()
	if len(batch) == 1 {
		c := batch[0]
		c.cmd = evalsha(ctx, p.rdb, c.script, c.cmd.Args())
		close(c.done)
		return
	}
	pipe := p.rdb.Pipeline()
	for _, c := range batch {
		_ = pipe.Process(ctx, c.cmd)
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
	for _, c := range batch {
		if err := c.cmd.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			// Redis lost its scripts (a restart, SCRIPT FLUSH): evalsha loads it again.
			c.cmd = evalsha(ctx, p.rdb, c.script, c.cmd.Args())
		}
		close(c.done)
	}
}
