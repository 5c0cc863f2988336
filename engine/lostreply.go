package engine

import (
	"context"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// leasedByLost is the job that c leased to its worker when Redis ran c but its reply
// was lost (the connection cut on the way back), and the commit sent again found its
// job gone: the next unit, which the lost reply would have handed over. It is the job
// that holds c's token: a commit leases the job it makes for its worker with the
// committing job's token (lib.lua's lease tokens), and no other job holds it, so a job
// found with it proves c stored, and is this worker's to run. A lease taken back
// meanwhile (expired, and found so by a worker's lease call), or a cancel, took the
// token off: then there is none, and nil is returned,
// as it is when c leased nothing (it ended its run, queued what follows, or was not
// stored).
func (q *queue) leasedByLost(ctx context.Context, c commit) (*job, error) {
	p := c.plan
	switch {
	case straight(c):
		return q.leasedAs(ctx, c, p.Start[0])
	case last(c):
		return nil, nil
	}
	switch chainOf(c) {
	case "first":
		return q.leasedAs(ctx, c, p.Start[0])
	case "todo":
		return q.leasedItem(ctx, c, p.Next)
	}
	return nil, nil
}

// leasedAs is u's job when it holds c's token, else nil. It holds it for a whole lease
// from now, in the same script call that finds the token (heartbeat.lua), as a job
// leased at once would be held: the lost reply's lease may have expired while the
// commit was sent again, and another worker's lease call would take the job back,
// and run it too, once this worker started it.
func (q *queue) leasedAs(ctx context.Context, c commit, u unit) (*job, error) {
	sh := c.job.shard
	id := u.jobID(c.runID)
	if c.job.token == "" {
		return nil, nil
	}
	held, err := heartbeatScript.Run(ctx, q.rdb, []string{sh.job(id), sh.leases()}, id, c.job.token, q.leaseFor.Milliseconds()).Int64()
	if err != nil || beat(held) != beatHeld {
		return nil, err
	}
	s, err := q.rdb.HGet(ctx, sh.job(id), "attempt").Result()
	if err != nil && err != redis.Nil {
		return nil, err
	}
	attempt := 1 // what the scripts give a job they lease to the committing worker
	if s != "" {
		if attempt, err = strconv.Atoi(s); err != nil {
			return nil, err
		}
	}
	return &job{shard: sh, id: id, unit: u, token: c.job.token, attempt: attempt}, nil
}

// leasedItem is the item of the for_each step each that c took from the step's todo
// list and leased to its worker, when it holds c's token, else nil. Which item that
// was is not in c (the todo list's head, when c ran): it is among the leased items of
// the step (at most its max_parallel), found by a scan of the shard's leases. That
// scan is paid once for a reply lost, rather than a write on every commit.
func (q *queue) leasedItem(ctx context.Context, c commit, each string) (*job, error) {
	sh := c.job.shard
	prefix := c.runID + ":" + each + ":"
	var cursor uint64
	for {
		page, next, err := q.rdb.ZScan(ctx, sh.leases(), cursor, "", 256).Result()
		if err != nil {
			return nil, err
		}
		for i := 0; i < len(page); i += 2 { // member, score
			rest, ok := strings.CutPrefix(page[i], prefix)
			if !ok {
				continue
			}
			idx, err := strconv.Atoi(rest)
			if err != nil || idx < 0 || strconv.Itoa(idx) != rest {
				continue // the step's join, or another run's (a child's id holds ':')
			}
			j, err := q.leasedAs(ctx, c, unit{step: each, part: partItem, item: idx})
			if err != nil {
				return nil, err
			}
			if j == nil {
				continue
			}
			// Its key and value, as complete.lua's reply gives them.
			kv, err := q.rdb.HMGet(ctx, sh.items(c.runID, each), "k:"+rest, "v:"+rest, "map").Result()
			if err != nil {
				return nil, err
			}
			j.key, _ = kv[0].(string)
			j.value, _ = kv[1].(string)
			j.listed, _ = kv[2].(string)
			return j, nil
		}
		if cursor = next; cursor == 0 {
			return nil, nil
		}
	}
}
