package triggers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hookflow/hookflow/internal/id"
	"github.com/hookflow/hookflow/workflows"
)

// A poll holds a lock in Redis while it runs, so that one poll of a poll trigger runs
// at a time across processes. Each tick is claimed by one process, but a poll may
// outlive its interval (a slow API, a wait for the api's limits, a Retry-After): the
// next tick's poll, in another process, would ask the API for the same, with the same
// cursor. It finds the lock held instead, and skips its tick. The lock lasts
// pollLockTTL and is kept every pollLockKeep while the poll runs: a process that dies
// mid-poll holds it that long at most.
const (
	pollLockTTL  = 15 * time.Second
	pollLockKeep = 5 * time.Second
)

// pollLocks is what a poll's lock needs of the engine.
type pollLocks interface {
	// LockPoll takes the lock of a poll trigger for holder, for ttl, or with keep keeps
	// the one holder has; false: another holder has it, or holder's hold is over.
	LockPoll(ctx context.Context, wf *workflows.Workflow, poll, holder string, ttl time.Duration, keep bool) (bool, error)
	// UnlockPoll frees the lock of a poll trigger if holder has it.
	UnlockPoll(ctx context.Context, wf *workflows.Workflow, poll, holder string) error
}

// errLockLost stops a poll whose lock could not be kept: another poll of the trigger
// may hold it now.
var errLockLost = errors.New("the poll lost its lock in Redis, which lets one poll of the trigger run at a time: " +
	"another process may poll now")

// hold takes the lock of a poll about to run, and keeps it until release, which frees
// it. held is false when another poll of the trigger holds it. The poll runs in the
// context returned, which is cancelled, with errLockLost as its cause, when the lock
// cannot be kept: when another holder has it, or when Redis did not answer for as long
// as a hold lasts.
func (p *Poller) hold(ctx context.Context, wf *workflows.Workflow, poll *Poll) (_ context.Context, release func(), held bool, err error) {
	holder := id.New()
	if held, err = p.polls.LockPoll(ctx, wf, poll.Key(), holder, p.lockTTL, false); err != nil {
		return ctx, func() {}, false, fmt.Errorf("taking the poll's lock: %w", err)
	}
	if !held {
		return ctx, func() {}, false, nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(p.lockKeep)
		defer t.Stop()
		kept := time.Now()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			ok, err := p.polls.LockPoll(ctx, wf, poll.Key(), holder, p.lockTTL, true)
			switch {
			case err == nil && ok:
				kept = time.Now()
			case err == nil, time.Since(kept) >= p.lockTTL:
				cancel(errLockLost)
				return
			}
		}
	})
	return ctx, func() {
		close(stop)
		wg.Wait()
		cancel(nil)
		// Freed even when the poll was cancelled: the next poll need not wait out
		// the hold.
		fctx, done := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer done()
		if err := p.polls.UnlockPoll(fctx, wf, poll.Key(), holder); err != nil {
			p.log.Warn("poll: cannot free its lock; the next poll waits until it expires", "workflow", wf.Name,
				"expires_in_ms", p.lockTTL.Milliseconds(), "err", err)
		}
	}, true, nil
}
