package engine

import (
	"context"
	"strconv"
	"time"
)

// trimEvery is how often each pool trims the run history indexes. Every pool does it,
// no process is special; trimming twice is harmless.
const trimEvery = 5 * time.Minute

func (p *Pool) trimLoop() {
	defer p.beating.Done()
	t := time.NewTicker(trimEvery)
	defer t.Stop()
	for {
		select {
		case <-p.stopBeat:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if err := p.e.q.trim(ctx); err != nil {
				p.errLog.log(p.e.log, "trimming the run history failed", "err", err)
			}
			cancel()
		}
	}
}

// trim drops the runs past the retention from the history indexes of every shard. Their
// hashes have expired already.
func (q *queue) trim(ctx context.Context) error {
	now, err := q.rdb.Time(ctx).Result()
	if err != nil {
		return err
	}
	before := "(" + strconv.FormatInt(now.Add(-q.retention).UnixMilli(), 10)
	for _, sh := range q.shards {
		iter := q.rdb.Scan(ctx, 0, sh.runs()+"*", 1000).Iterator()
		for iter.Next(ctx) {
			if err := q.rdb.ZRemRangeByScore(ctx, iter.Val(), "-inf", before).Err(); err != nil {
				return err
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
	}
	return nil
}
