package engine

import (
	"context"
	"time"
)

// trimEvery is how often each pool trims the run history indexes. Every pool does it,
// no process is special; trimming twice is harmless.
const trimEvery = 5 * time.Minute

// trimHistory trims the run history indexes and the dead letters now and then, until ctx ends.
func (p *Pool) trimHistory(ctx context.Context) {
	every(ctx, trimEvery, func(ctx context.Context) {
		if err := p.e.q.trim(ctx); err != nil && ctx.Err() == nil {
			p.logError("trimming the run history failed", "err", err)
		}
	})
}

// trim drops the runs past the retention from the history indexes of every shard, and
// the dead letters past it (so the dead-letter gauge falls), one script call per shard.
func (q *queue) trim(ctx context.Context) error {
	now, err := q.rdb.Time(ctx).Result()
	if err != nil {
		return err
	}
	before := now.Add(-q.retention).UnixMilli()
	for _, sh := range q.shards {
		if err := trimScript.Run(ctx, q.rdb, []string{sh.workflows(), sh.runs(), sh.dead()}, sh.prefix, before).Err(); err != nil {
			return err
		}
	}
	return nil
}
