package engine

import (
	"context"
	"fmt"
	"time"
)

// Options.KeepRuns caps the finished runs the history keeps: past it, the oldest are
// dropped long before their retention, with all their keys (scripts/keep.lua). A Redis
// that holds everything in memory (the embedded one) keeps a bounded number of runs
// this way, however many come.
const (
	// keepEvery is how often each pool drops the finished runs past the cap: every
	// pool does it, no process is special, and dropping twice is harmless.
	keepEvery = time.Second
	// keepEveryPressed is how often the rounds come while the live heap is over its
	// budget (Options.KeepHeap): the runs that finished since the last round, and those
	// in their grace, are what no cap drops, so large runs pouring in hold that much
	// past the budget; rounds four times as often hold a quarter of it instead of all.
	keepEveryPressed = keepEvery / 4
	// keepBatch is how many runs one call looks at, so one call holds Redis briefly;
	// keepCalls bounds the calls of one round. A round that had more to do goes on
	// from where it stopped at the next, so that a long stretch of runs that cannot be
	// dropped (waiting, say) does not hide the finished ones after it.
	keepBatch = 200
	keepCalls = 64
	// keepGrace is how long a run is kept at least after it finished, for a caller
	// waiting for its end to read it (Await reads it again within awaitPoll, and at
	// once when its own process ran the last step). The history index orders runs by
	// their start, so a long run that just ended is among the first past the cap.
	keepGrace = 2 * time.Second
	// keepGraceEmbedded is keepGrace with the embedded Redis. No other process reaches
	// it, so the process that ran a run's last step is the one whose caller waits, and
	// wakes it at once; five reads of awaitPoll fit in it all the same. It is shorter
	// because runs in their grace do not count down the cap, and the embedded Redis
	// keeps them in this process's heap: at 2,700 relays a second, a grace of 2s held
	// 5,500 runs past a cap of 2,000, and the collector ran twice as often to keep the
	// heap under its limit (docs/performance.md). A run is held for up to keepEvery
	// past its grace, too, until the next round of the cap.
	keepGraceEmbedded = 500 * time.Millisecond
	// childGrace is that for a child run: its parent's workflow step reads its end,
	// woken by it or within a minute (childPoll), and would start it again if it
	// found none.
	childGrace = 10 * time.Minute
)

// keepRuns drops the finished runs past the cap every keepEvery, until ctx ends. With
// a budget of live heap (Options.KeepHeap), it weighs the cap every keepEveryPressed,
// and drops as often while the cap is under KeepRuns.
func (p *Pool) keepRuns(ctx context.Context) {
	from := make([]int64, len(p.e.q.shards)) // where each shard's round goes on
	tick := keepEvery
	if p.e.q.heap != nil {
		tick = keepEveryPressed
	}
	var last time.Time
	every(ctx, tick, func(ctx context.Context) {
		if p.e.q.heap != nil && p.weighHeap(ctx) == p.e.q.keep && time.Since(last) < keepEvery-tick/2 {
			return // under the budget: a round every keepEvery, as without one
		}
		last = time.Now()
		for i, sh := range p.e.q.shards {
			next, err := p.e.q.dropRuns(ctx, sh, from[i])
			if err != nil && ctx.Err() == nil {
				p.logError("dropping the finished runs past --keep-runs failed", "err", err)
			}
			from[i] = next
		}
	})
}

// dropRuns drops a shard's oldest finished runs past the cap, looking from rank from
// on, in calls of keepBatch runs, until it is under the cap, it has looked at every run,
// or it made keepCalls calls. It returns the rank the next round goes on from.
func (q *queue) dropRuns(ctx context.Context, sh *shard, from int64) (int64, error) {
	if q.keep <= 0 {
		return 0, nil // no cap
	}
	keep := q.keep
	if q.heap != nil {
		keep = q.heap.keep()
	}
	for range keepCalls {
		res, err := keepScript.Run(ctx, q.rdb, []string{sh.runs(), sh.open(), sh.dead(), sh.workflows()}, sh.prefix, keep, from,
			q.keepBatch, q.keepGrace.Milliseconds(), q.childGrace.Milliseconds(), q.tombGrace.Milliseconds()).Int64Slice()
		if err != nil {
			return from, err
		}
		if len(res) != 4 {
			return 0, fmt.Errorf("keep: unexpected reply %v", res)
		}
		next, over, ended := res[1], res[2], res[3] == 1
		if over <= 0 || ended {
			return 0, nil // under the cap, or every run looked at: the next round starts at the oldest
		}
		from = next
	}
	return from, nil
}
