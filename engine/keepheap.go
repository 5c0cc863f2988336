package engine

import (
	"context"
	"errors"
	rtmetrics "runtime/metrics"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Options.KeepHeap bounds the finished runs kept by the memory they take, where Redis
// holds them in this process's heap (the embedded one). KeepRuns counts runs, and a run
// holds its event, up to its webhook's max_body, and its steps' outputs: 2,000 runs of
// 1 MiB bodies held 2 GB of heap. The budget is counted over the heap live when the
// engine was made (the workflows loaded, and, in a process that runs more than this
// engine, what the rest holds). Every keepEveryPressed, when a collection ran since
// the last look, the heap it left live is weighed against it: past the budget, each
// shard keeps half the finished runs it holds, at least 1; under half of it, the cap
// doubles back towards KeepRuns; in between, it holds. Small runs never come near the
// budget, and keep KeepRuns. What the cap never drops stays past the budget: the
// unfinished runs (queued, running, waiting; MaxQueued bounds them), so a backlog past
// the budget leaves the cap at 1, and the runs in their grace or finished since the
// last round, which a stream of large runs holds in proportion to its rate.

// heapCap is the cap on the finished runs of each shard under a budget of live heap.
type heapCap struct {
	base   uint64 // bytes of heap live when the engine was made
	budget uint64 // bytes of live heap over base
	full   int    // the cap without pressure: KeepRuns's share of a shard
	// read reads the heap live after the last collection, and how many collections
	// ran so far.
	read func() (live, cycles uint64)

	mu     sync.Mutex
	now    int    // the cap of each shard, 1 to full
	cycles uint64 // the collections counted when the cap was last weighed
}

// newHeapCap is a cap of full runs per shard, lowered while the heap read is more
// than budget over what it is now.
func newHeapCap(budget uint64, full int, read func() (live, cycles uint64)) *heapCap {
	base, _ := read()
	return &heapCap{base: base, budget: budget, full: full, now: full, read: read}
}

// readHeap reads the Go runtime's live heap and its count of collections.
func readHeap() (live, cycles uint64) {
	s := []rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}
	rtmetrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

// keep is the cap of each shard now.
func (c *heapCap) keep() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// weigh sets the cap for the heap live after the last collection, when a collection
// ran since it was last weighed: a heap that did not change since tells nothing new,
// and the runs dropped since are still in it until the next one. held reads the most
// finished runs a shard holds, asked only when the heap is over the budget: halving
// the cap would drop nothing while it is above them. It returns the cap before and
// after, and the live heap read.
func (c *heapCap) weigh(held func() (int, error)) (before, after int, live uint64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	before = c.now
	live, cycles := c.read()
	if cycles == c.cycles {
		return before, before, live, nil
	}
	switch {
	case live > c.base+c.budget:
		n, err := held()
		if err != nil {
			return before, before, live, err
		}
		c.now = max(min(c.now, n)/2, 1)
	case live < c.base+c.budget/2:
		c.now = min(c.now*2, c.full)
	}
	c.cycles = cycles
	return before, c.now, live, nil
}

// finishedHeld is the most finished runs one shard holds: the runs in its history
// index less its unfinished ones (runs in their grace, and runs whose hash expired,
// count too).
func (q *queue) finishedHeld(ctx context.Context) (int, error) {
	cmds := make([][2]redis.Cmder, len(q.shards))
	_, err := q.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, sh := range q.shards {
			cmds[i] = [2]redis.Cmder{pipe.ZCard(ctx, sh.runs()), pipe.Get(ctx, sh.open())}
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, err
	}
	most := 0
	for _, c := range cmds {
		open, _ := c[1].(*redis.StringCmd).Int()
		most = max(most, int(c[0].(*redis.IntCmd).Val())-max(open, 0))
	}
	return most, nil
}

// weighHeap weighs the cap against the live heap (heapCap.weigh), says when it falls
// below --keep-runs and when it is back, and returns it.
func (p *Pool) weighHeap(ctx context.Context) int {
	q := p.e.q
	before, after, live, err := q.heap.weigh(func() (int, error) { return q.finishedHeld(ctx) })
	switch {
	case err != nil && ctx.Err() == nil:
		p.logError("counting the finished runs kept failed", "err", err)
	case before == q.keep && after < q.keep:
		p.e.log.Warn("the heap is over its budget for the finished runs kept: keeping fewer than --keep-runs until it is back under",
			"live_heap_mb", live>>20, "at_start_mb", q.heap.base>>20, "budget_mb", q.heap.budget>>20, "keep_per_shard", after)
	case before < q.keep && after == q.keep:
		p.e.log.Info("the heap is back under its budget: keeping --keep-runs finished runs again", "live_heap_mb", live>>20)
	}
	return after
}
