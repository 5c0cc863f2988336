package engine

import (
	"context"
	"errors"
	"sync"
)

// errLeaseLost cancels a step whose lease was taken back: another worker runs it now.
var errLeaseLost = errors.New("lease lost: the step's lease expired and another worker took it")

// heldJobs are the leased jobs whose units are running in this pool, each with the
// cancel of its unit's context.
type heldJobs struct {
	mu   sync.Mutex
	jobs map[*job]context.CancelCauseFunc
}

func (h *heldJobs) hold(j *job, cancel context.CancelCauseFunc) {
	h.mu.Lock()
	h.jobs[j] = cancel
	h.mu.Unlock()
}

func (h *heldJobs) release(j *job) {
	h.mu.Lock()
	delete(h.jobs, j)
	h.mu.Unlock()
}

// heartbeat extends the leases of running units every third of the lease, until ctx
// ends. A unit whose lease was taken back (it expired: Redis was out of reach for
// longer than the lease) is cancelled, since another worker now runs it. A worker that
// dies stops heartbeating, and the first worker to lease after the lease expires takes
// its job back. A unit whose run was cancelled is cancelled.
func (p *Pool) heartbeat(ctx context.Context) {
	every(ctx, p.e.q.leaseFor/3, func(context.Context) { p.beat() })
}

func (p *Pool) beat() {
	p.held.mu.Lock()
	jobs := make([]*job, 0, len(p.held.jobs))
	for j := range p.held.jobs {
		jobs = append(jobs, j)
	}
	p.held.mu.Unlock()
	if len(jobs) == 0 {
		return
	}
	// Not the loop's context: the last beats while Stop waits for steps must go out.
	ctx, cancel := context.WithTimeout(context.Background(), p.e.q.leaseFor/3)
	defer cancel()
	held, err := p.e.q.heartbeat(ctx, jobs)
	if err != nil {
		p.logError("extending leases failed; steps may run twice if this lasts", "err", err)
		return
	}
	p.held.mu.Lock()
	defer p.held.mu.Unlock()
	for i, j := range jobs {
		cancel, ok := p.held.jobs[j]
		switch {
		case !ok:
		case held[i] == beatCancelled:
			cancel(errRunCancelled)
		case held[i] == beatLost:
			cancel(errLeaseLost)
		}
	}
}
