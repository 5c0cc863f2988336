package engine

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// useLimitsTimeout bounds how long putting one workflow's concurrency limit in force
// may take: a Redis that does not answer leaves it to the next start of the workflow,
// which writes its limit too.
const useLimitsTimeout = 5 * time.Second

// limits are the workflows whose concurrency limits wait to be put in force, and
// whether a goroutine is doing so: one at a time, however many reloads come.
type limits struct {
	todo    map[string]bool
	running bool
}

// putLimits has the concurrency limits of the named workflows put in force, in the
// background: see useLimits.
func (e *Engine) putLimits(names []string) {
	e.limitsMu.Lock()
	defer e.limitsMu.Unlock()
	if e.limits.todo == nil {
		e.limits.todo = map[string]bool{}
	}
	for _, n := range names {
		e.limits.todo[n] = true
	}
	if !e.limits.running {
		e.limits.running = true
		go e.useLimits()
	}
}

// nextLimit takes a workflow whose limit waits to be put in force; ok is false when
// none waits, and the goroutine ends.
func (e *Engine) nextLimit() (name string, ok bool) {
	e.limitsMu.Lock()
	defer e.limitsMu.Unlock()
	for n := range e.limits.todo {
		delete(e.limits.todo, n)
		return n, true
	}
	e.limits.running = false
	return "", false
}

// useLimits puts in force the concurrency limits of the workflows in use that
// putLimits named, as their versions were just put in use: a limit raised (or lifted)
// by a reload lets the runs waiting in line start at once, rather than at the next
// run's start. Each workflow's limit is read when it is written, so the latest
// reload's is the one written. A call that fails ends it, leaving the rest to each
// workflow's next start: Redis is down, or the client closed as the process stops.
func (e *Engine) useLimits() {
	for {
		name, ok := e.nextLimit()
		if !ok {
			return
		}
		v := e.versions.currentOf(name)
		if v == nil {
			continue // gone from the set in use since
		}
		sh := e.q.shardFor(name)
		wk := sh.of(name)
		keys := []string{wk.ready, sh.due(), sh.wake(), wk.inflight, wk.pending, wk.limit}
		ctx, cancel := context.WithTimeout(context.Background(), useLimitsTimeout)
		err := limitScript.Run(ctx, e.q.rdb, keys, sh.prefix, name, v.wf.Concurrency).Err()
		cancel()
		if err != nil {
			// Redis fails (or the client is closed, as the process stops): the others
			// would fail alike. The next reload, or each workflow's next start, writes
			// them.
			e.limitsMu.Lock()
			dropped := len(e.limits.todo)
			e.limits.todo, e.limits.running = nil, false
			e.limitsMu.Unlock()
			if !errors.Is(err, redis.ErrClosed) {
				e.log.Warn("could not put concurrency limits in force: each workflow's next start will", "workflow", name,
					"concurrency", v.wf.Concurrency, "also_left", dropped, "err", err)
			}
			return
		}
	}
}
