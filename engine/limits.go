package engine

import (
	"context"
	"time"
)

// useLimitsTimeout bounds how long putting a set's concurrency limits in force may
// take: a Redis that does not answer leaves them to the next start of each workflow,
// which writes its limit too.
const useLimitsTimeout = 10 * time.Second

// useLimits puts in force the concurrency limits of the named workflows in use, as
// their versions were just put in use: a limit raised (or lifted) by a reload lets the
// runs waiting in line start at once, rather than at the next run's start. Each
// workflow's limit is read when it is written, so a reload that comes while an
// earlier one's limits are being written has its own written last.
func (e *Engine) useLimits(names []string) {
	e.limitsMu.Lock()
	defer e.limitsMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), useLimitsTimeout)
	defer cancel()
	for _, name := range names {
		v := e.versions.currentOf(name)
		if v == nil {
			continue // gone from the set in use since
		}
		sh := e.q.shardFor(name)
		wk := sh.of(name)
		keys := []string{wk.ready, sh.due(), sh.wake(), wk.inflight, wk.pending, wk.limit}
		if err := limitScript.Run(ctx, e.q.rdb, keys, sh.prefix, name, v.wf.Concurrency).Err(); err != nil {
			e.log.Warn("could not put a concurrency limit in force: the next run's start will", "workflow", name,
				"concurrency", v.wf.Concurrency, "err", err)
			if ctx.Err() != nil {
				return
			}
		}
	}
}
