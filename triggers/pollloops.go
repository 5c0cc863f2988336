package triggers

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// The lifecycle of the poll triggers of the set in use: a loop per trigger, which
// polls at its ticks. A reload keeps the loop of each poll trigger it leaves
// unchanged (the same workflow, version and key), and a poll under way goes on: a
// reload that adds a webhook does not stop the polls. It stops the loops of the
// triggers it drops or changes (their workflow's version), whose polls under way are
// cancelled, as a Stop cancels every poll: a poll cancelled so is no failure (see
// Poller.tick), and the next poll, in any process, reads what it would have.

// streakKey names a poll trigger across reloads: its workflow, its key (what it asks),
// and n, its rank among the workflow's poll triggers of that key.
type streakKey struct {
	workflow, poll string
	n              int
}

// pollTarget is what a poll loop polls: a poll trigger of the set in use.
type pollTarget struct {
	wf   *workflows.Workflow
	poll *Poll
}

// pollLoop is the loop of one poll trigger, from the set that brings it to the set
// that changes or drops it.
type pollLoop struct {
	cancel  context.CancelFunc
	done    chan struct{} // closed when run returns
	version string        // its workflow's
	// target is the trigger of the set in use, which a reload that keeps the loop
	// replaces: its next tick polls with it.
	target atomic.Pointer[pollTarget]
}

// pollsOf returns the poll triggers of set by streakKey, in the set's order.
func pollsOf(set *workflows.Set) ([]streakKey, map[streakKey]*pollTarget) {
	var keys []streakKey
	targets := map[streakKey]*pollTarget{}
	for _, wf := range set.Workflows() {
		for _, t := range wf.Triggers {
			poll, ok := t.Config.(*Poll)
			if !ok {
				continue
			}
			k := streakKey{workflow: wf.Name, poll: poll.Key()}
			for targets[k] != nil {
				k.n++
			}
			keys, targets[k] = append(keys, k), &pollTarget{wf: wf, poll: poll}
		}
	}
	return keys, targets
}

// Use takes set in place of the set before it. The loop of each poll trigger of set
// that the set before had unchanged goes on; the others are stopped, then started
// anew. Each poll trigger of set that was in the previous one goes on with its streak
// (see keepStreaks).
func (p *Poller) Use(set *workflows.Set) {
	p.using.Lock()
	defer p.using.Unlock()
	keys, targets := pollsOf(set)
	p.mu.Lock()
	var stopped []*pollLoop
	for k, lp := range p.running {
		if t := targets[k]; t == nil || t.wf.Version != lp.version {
			lp.cancel()
			stopped = append(stopped, lp)
			delete(p.running, k)
		}
	}
	p.mu.Unlock()
	for _, lp := range stopped {
		<-lp.done // first: no poll of a trigger that changed is left to change its streak
	}
	p.keepStreaks(set)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.running == nil {
		p.running = map[streakKey]*pollLoop{}
	}
	for _, k := range keys {
		t := targets[k]
		if lp := p.running[k]; lp != nil {
			lp.target.Store(t)
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		lp := &pollLoop{cancel: cancel, done: make(chan struct{}), version: t.wf.Version}
		lp.target.Store(t)
		st := p.inUse[t.poll]
		p.running[k] = lp
		go p.run(ctx, lp, st)
	}
}

// Stop stops every poll: a poll under way is cancelled, which is no failure, and the
// next poll, in any process, reads what it would have.
func (p *Poller) Stop() {
	p.using.Lock()
	defer p.using.Unlock()
	p.mu.Lock()
	running := p.running
	p.running = nil
	p.mu.Unlock()
	for _, lp := range running {
		lp.cancel()
	}
	for _, lp := range running {
		<-lp.done
	}
}

// keepStreaks gives each poll trigger of set the streak it had in the set before: a
// reload builds every poll anew, and a poll whose failures, or cut polls, go on after
// it is still in the same run of them. So it logs no second warning for it, and the
// good poll that ends it says so (poll succeeds again, poll read its whole list
// again): the documented way out of a poll failing at max_pages is to raise max_pages,
// a reload. A poll whose workflow changed no longer waits out its failures: it polls
// at its next tick, as the change may be its fix. A poll trigger that is gone, or now
// asks for other items (another key), forgets its streak. The streak of a poll whose
// loop the reload keeps is left as it is: its loop is using it.
func (p *Poller) keepStreaks(set *workflows.Set) {
	keys, targets := pollsOf(set)
	p.mu.Lock()
	defer p.mu.Unlock()
	kept := map[streakKey]*streak{}
	p.inUse = map[*Poll]*streak{}
	for _, k := range keys {
		t := targets[k]
		st := p.streaks[k]
		switch {
		case st == nil:
			st = &streak{version: t.wf.Version}
		case st.version != t.wf.Version:
			st.retryAt, st.version = time.Time{}, t.wf.Version
		}
		kept[k], p.inUse[t.poll] = st, st
	}
	p.streaks = kept
}

// streakOf returns the streak of a poll of the set in use.
func (p *Poller) streakOf(poll *Poll) *streak {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st := p.inUse[poll]; st != nil {
		return st
	}
	return &streak{}
}

// run is the loop of one poll trigger: it polls at each of its ticks, with the
// trigger of the set in use, until ctx is cancelled.
func (p *Poller) run(ctx context.Context, lp *pollLoop, st *streak) {
	defer close(lp.done)
	t := lp.target.Load()
	retry := newBackoff()
	var last time.Time
	for {
		var err error
		if last, err = t.poll.LastTick(ctx, p.polls, t.wf); err == nil {
			break
		}
		p.log.Warn("poll: cannot read its last tick; retrying", "workflow", t.wf.Name, "err", err)
		if !sleepCtx(ctx, retry.next()) {
			return
		}
	}
	if now := p.now(); last.After(now.Add(maxSkew)) {
		last = now
	}
	for {
		t = lp.target.Load()
		now := p.now()
		tick, _ := t.poll.Schedule.Due(last, now)
		if tick.IsZero() || now.Before(st.retryAt) {
			wait := maxSleep
			if next := t.poll.Schedule.Next(now); !next.IsZero() {
				wait = min(next.Sub(now), maxSleep)
			}
			if now.Before(st.retryAt) {
				wait = min(st.retryAt.Sub(now), maxSleep)
			}
			if !sleepCtx(ctx, wait) {
				return
			}
			continue
		}
		p.tick(ctx, t.wf, t.poll, st, tick)
		last = tick
	}
}
