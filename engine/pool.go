package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookflow/hookflow/internal/logthrottle"
)

// Pool executes queued jobs with at most a fixed number at once. One fetcher per shard
// leases jobs in batches, as many as there are idle workers, and blocks on Redis while
// there is nothing to do (this file). Each leased job runs on a goroutine of its own,
// one that executed a job before when one is idle (workers.go), and a worker that
// settles a unit goes on with the next unit the planner gave it, leased in the same
// commit (execute.go). While a unit runs, the heartbeat extends its lease
// (heartbeat.go).
type Pool struct {
	e     *Engine
	slots chan struct{} // a token per busy worker

	fetchers  []*loop         // one per shard: they lease jobs
	fetchCtx  context.Context // cancelled by Stop: no more leasing, and no chaining
	stopFetch context.CancelFunc
	work      context.Context // cancelled when Stop gives up waiting for steps
	abortWork context.CancelFunc

	held    heldJobs
	workers workers // the goroutines that execute jobs
	loops   []*loop // the heartbeat, the history trim and the cap on runs kept
	// promised counts the starts of this process waiting for Redis that take let lease
	// their first job to it.
	promised atomic.Int32
	running  jobCount
	// errLog throttles the error lines of the loops and workers: each message once per
	// errEvery at most, so that a Redis that does not answer logs a few lines, not one
	// for every try.
	errLog logthrottle.Throttle
	// handedBackN and leftLeased count the jobs Stop handed back to the queue, and
	// those it failed to (stopreport.go).
	handedBackN, leftLeased atomic.Int64

	// mu orders take against Stop: once stopping is set, no worker is taken for a run
	// started here, and running only goes down.
	mu       sync.Mutex
	stopping bool
	report   StopReport // what Stop did with the steps in progress

	stopOnce sync.Once
	stopErr  error
}

// logError writes an error line of the loops and workers, throttled by errLog.
func (p *Pool) logError(msg string, args ...any) {
	p.errLog.Log(p.e.log, slog.LevelError, msg, args...)
}

// errEvery is how often the pool writes an error line of one message at most.
const errEvery = 5 * time.Second

// maxBatch bounds how many jobs one lease call takes.
const maxBatch = 64

// NewPool returns a pool of at most workers concurrent steps. Start starts it.
func (e *Engine) NewPool(workers int) *Pool {
	if workers <= 0 {
		workers = 1
	}
	p := &Pool{e: e, slots: make(chan struct{}, workers)}
	p.errLog.Every = errEvery
	p.held.jobs = map[*job]context.CancelCauseFunc{}
	p.fetchCtx, p.stopFetch = context.WithCancel(context.Background())
	p.work, p.abortWork = context.WithCancel(context.Background())
	return p
}

// Start starts leasing and executing steps.
func (p *Pool) Start() {
	for _, sh := range p.e.q.shards {
		p.fetchers = append(p.fetchers, startLoop(func(ctx context.Context) { p.fetchLoop(ctx, sh) }))
	}
	p.loops = append(p.loops, startLoop(p.heartbeat), startLoop(p.trimHistory))
	if p.e.q.keep > 0 {
		p.loops = append(p.loops, startLoop(p.keepRuns))
	}
	p.e.local.CompareAndSwap(nil, p)
}

// take says whether a run this process starts may have its first job leased to this
// process (Engine.start then asks Redis to): when a worker is idle now, fewer starts
// than workers are waiting for Redis with that promise, and the pool is not stopping.
// It takes no worker: a start's round trip to Redis does not keep one from the steps
// running meanwhile. runTaken runs the job on the next idle worker, giveBack says the
// start leased none.
func (p *Pool) take() bool {
	if len(p.slots) == cap(p.slots) || int(p.promised.Load()) >= cap(p.slots) {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopping {
		return false
	}
	p.promised.Add(1)
	p.running.Add(1)
	return true
}

// runTaken executes j, leased to this process by its run's start: at once on an idle
// worker, else on the next one, when the steps running took the idle ones meanwhile.
func (p *Pool) runTaken(j *job) {
	p.promised.Add(-1)
	select {
	case p.slots <- struct{}{}:
		p.goExecute(j)
	default:
		go p.runWhenIdle(j)
	}
}

// giveBack says a start that take let lease its first job to this process leased none.
func (p *Pool) giveBack() {
	p.promised.Add(-1)
	p.running.noJob()
}

// runWhenIdle executes j, leased to this process and counted in running, on the next
// idle worker, keeping its lease alive while it waits (a lease lost meanwhile makes its
// commit find it stale). Once Stop begins, a job still waiting is handed back unrun,
// for another process to run.
func (p *Pool) runWhenIdle(j *job) {
	p.held.hold(j, func(error) {})
	select {
	case p.slots <- struct{}{}:
		p.held.release(j)
		p.execute(j)
	case <-p.fetchCtx.Done():
		p.held.release(j)
		err := p.e.q.release(context.Background(), j, j.run["wf"])
		if err != nil {
			p.e.log.Warn("handing a step back failed; it runs again when its lease expires",
				"run", j.run["id"], "step", j.unit, "err", err)
		}
		p.handedBack(err)
		p.running.Done()
	}
}

// Stop stops leasing new steps, then waits for the steps in progress to finish until
// ctx is done; their leases are kept alive meanwhile. Steps still running then are
// cancelled and handed back to the queue, for another worker to run again. Calling
// Stop again returns the first call's result. Stopped then says how many steps
// finished and how many were handed back.
func (p *Pool) Stop(ctx context.Context) error {
	p.stopOnce.Do(func() { p.stopErr = p.stop(ctx) })
	return p.stopErr
}

func (p *Pool) stop(ctx context.Context) error {
	p.running.counting.Store(true)
	p.e.local.CompareAndSwap(p, nil)
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
	p.stopFetch()
	for _, f := range p.fetchers {
		f.cancel()
	}
	for _, sh := range p.e.q.shards {
		_ = p.e.q.wake(context.Background(), sh) // unblock our fetcher's wait on Redis
	}
	for _, f := range p.fetchers {
		f.wait()
	}
	done := make(chan struct{})
	go func() { p.running.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		p.abortWork()
		<-done
		err = fmt.Errorf("stopping workers: %w; steps still running were handed back to the queue", ctx.Err())
	}
	for _, l := range p.loops {
		l.stop()
	}
	p.stopWorkers()
	if n := p.keepReport().Leased; n == 1 {
		err = errors.Join(err, errors.New("1 step was neither handed back nor known to be recorded, Redis failing: unless it was recorded, it runs again once its lease expires"))
	} else if n > 1 {
		err = errors.Join(err, fmt.Errorf("%d steps were neither handed back nor known to be recorded, Redis failing: those not recorded run again once their lease expires", n))
	}
	p.errLog.Flush() // the errors held back come before the process's last line
	return err
}

// fetchLoop leases the shard's jobs while workers are idle, until Stop.
func (p *Pool) fetchLoop(ctx context.Context, sh *shard) {
	backoff := time.Duration(0)
	for {
		// Wait for an idle worker and take it; lease a job for it and for this shard's
		// share of the other idle workers, without taking those: meanwhile the starts of
		// this process may take them, to lease their run's first step to it (no wake-up,
		// no lease call). Holding them through the lease's round trip sent those starts'
		// jobs through the queue, for the next lease to take.
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		idle := cap(p.slots) - len(p.slots)
		jobs, wait, err := p.e.q.lease(ctx, sh, min(maxBatch, 1+idle/len(p.e.q.shards)))
		if len(jobs) == 0 {
			<-p.slots
		} else {
			p.startLeased(jobs)
		}
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			backoff = min(max(2*backoff, 50*time.Millisecond), 2*time.Second)
			p.logError("leasing steps failed; retrying", "shard", sh.index, "err", err, "retry_in_ms", backoff.Milliseconds())
			sleep(ctx, backoff)
		case len(jobs) == 0:
			backoff = 0
			switch err := p.e.q.wait(ctx, sh, wait); {
			case err == nil || ctx.Err() != nil:
			case errors.Is(err, errWaitUnblocked): // a failover: expected, and over by the next lease
				p.e.log.Info("a Redis failover woke the wait for steps; waiting again", "shard", sh.index, "err", err)
				sleep(ctx, 100*time.Millisecond)
			default:
				p.logError("waiting for steps failed", "shard", sh.index, "err", err)
				sleep(ctx, 100*time.Millisecond)
			}
		default:
			backoff = 0
		}
	}
}

// startLeased runs the jobs a lease took: the first on the worker the fetch loop took,
// each other on the next idle worker (runWhenIdle), when starts or steps took those
// that were idle at the lease.
func (p *Pool) startLeased(jobs []*job) {
	p.running.Add(len(jobs))
	p.goExecute(jobs[0])
	for _, j := range jobs[1:] {
		go p.runWhenIdle(j)
	}
}
