package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// Pool executes queued steps with at most a fixed number at once. One fetcher per
// shard leases jobs in batches, as many as there are idle workers, and blocks on Redis
// while there is nothing to do. A run's steps are chained: a worker that finishes a step
// leases the next one of the same run in the same commit, and goes on with it.
//
// While a step runs, a heartbeat extends its lease every third of the lease; a step
// whose lease was lost (taken back after it expired) is cancelled, since another worker
// now runs it. A worker that dies stops heartbeating, and the first worker to lease
// after the lease expires takes its job back.
type Pool struct {
	e     *Engine
	slots chan struct{} // a token per busy worker

	fetch     context.Context // cancelled by Stop: no more leasing
	stopFetch context.CancelFunc
	work      context.Context // cancelled when Stop gives up waiting for steps
	abortWork context.CancelFunc
	stopBeat  chan struct{}

	mu   sync.Mutex
	held map[*job]context.CancelCauseFunc // leased jobs whose steps are running

	fetchers sync.WaitGroup
	running  sync.WaitGroup
	beating  sync.WaitGroup
	errLog   rateLimit
	stopOnce sync.Once
	stopErr  error
}

// errLeaseLost cancels a step whose lease was taken back: another worker runs it now.
var errLeaseLost = errors.New("lease lost: the step's lease expired and another worker took it")

// resumeAttempts bounds how many times a step is tried again when its run cannot be
// resumed for a reason that may pass (Redis failing to give the version's source).
const resumeAttempts = 10

// maxBatch bounds how many jobs one lease call takes.
const maxBatch = 64

// NewPool returns a pool of at most workers concurrent steps. Start starts it.
func (e *Engine) NewPool(workers int) *Pool {
	if workers <= 0 {
		workers = 1
	}
	p := &Pool{e: e, slots: make(chan struct{}, workers), stopBeat: make(chan struct{}),
		held: map[*job]context.CancelCauseFunc{}}
	p.fetch, p.stopFetch = context.WithCancel(context.Background())
	p.work, p.abortWork = context.WithCancel(context.Background())
	return p
}

// Start starts leasing and executing steps.
func (p *Pool) Start() {
	for _, sh := range p.e.q.shards {
		p.fetchers.Add(1)
		go p.fetchLoop(sh)
	}
	p.beating.Add(2)
	go p.heartbeatLoop()
	go p.trimLoop()
}

// Stop stops leasing new steps, then waits for the steps in progress to finish until
// ctx is done; their leases are kept alive meanwhile. Steps still running then are
// cancelled and handed back to the queue, for another worker to run again. Calling
// Stop again returns the first call's result.
func (p *Pool) Stop(ctx context.Context) error {
	p.stopOnce.Do(func() { p.stopErr = p.stop(ctx) })
	return p.stopErr
}

func (p *Pool) stop(ctx context.Context) error {
	p.stopFetch()
	for _, sh := range p.e.q.shards {
		_ = p.e.q.wake(context.Background(), sh) // unblock our fetcher's wait
	}
	p.fetchers.Wait()
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
	close(p.stopBeat)
	p.beating.Wait()
	return err
}

func (p *Pool) hold(j *job, cancel context.CancelCauseFunc) {
	p.mu.Lock()
	p.held[j] = cancel
	p.mu.Unlock()
}

func (p *Pool) unhold(j *job) {
	p.mu.Lock()
	delete(p.held, j)
	p.mu.Unlock()
}

// heartbeatLoop extends the leases of running steps every third of the lease.
func (p *Pool) heartbeatLoop() {
	defer p.beating.Done()
	t := time.NewTicker(p.e.q.leaseFor / 3)
	defer t.Stop()
	for {
		select {
		case <-p.stopBeat:
			return
		case <-t.C:
			p.beat()
		}
	}
}

func (p *Pool) beat() {
	p.mu.Lock()
	jobs := make([]*job, 0, len(p.held))
	for j := range p.held {
		jobs = append(jobs, j)
	}
	p.mu.Unlock()
	if len(jobs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.e.q.leaseFor/3)
	defer cancel()
	held, err := p.e.q.heartbeat(ctx, jobs)
	if err != nil {
		p.errLog.log(p.e.log, "extending leases failed; steps may run twice if this lasts", "err", err)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, j := range jobs {
		if cancel, ok := p.held[j]; ok && !held[i] {
			cancel(errLeaseLost)
		}
	}
}

func (p *Pool) fetchLoop(sh *shard) {
	defer p.fetchers.Done()
	backoff := time.Duration(0)
	for {
		// Wait for one idle worker, then take every other idle one too.
		select {
		case p.slots <- struct{}{}:
		case <-p.fetch.Done():
			return
		}
		n := 1
	more:
		for n < maxBatch {
			select {
			case p.slots <- struct{}{}:
				n++
			default:
				break more
			}
		}
		jobs, wait, err := p.e.q.lease(p.fetch, sh, n)
		for range n - len(jobs) {
			<-p.slots
		}
		for _, j := range jobs {
			p.running.Add(1)
			go p.execute(j)
		}
		switch {
		case p.fetch.Err() != nil:
			return
		case err != nil:
			backoff = min(max(2*backoff, 50*time.Millisecond), 2*time.Second)
			p.errLog.log(p.e.log, "leasing steps failed; retrying", "shard", sh.index, "err", err, "retry_in", backoff)
			sleep(p.fetch, backoff)
		case len(jobs) == 0:
			backoff = 0
			if err := p.e.q.wait(p.fetch, sh, wait); err != nil && p.fetch.Err() == nil {
				p.errLog.log(p.e.log, "waiting for steps failed", "shard", sh.index, "err", err)
				sleep(p.fetch, 100*time.Millisecond)
			}
		default:
			backoff = 0
		}
	}
}

// execute runs a leased job and, chained, the rest of its run.
func (p *Pool) execute(j *job) {
	defer func() {
		<-p.slots
		p.running.Done()
	}()
	r, err := p.e.resume(p.work, j)
	if retry, _ := workflows.Retryable(err); err != nil && retry && j.attempt < resumeAttempts {
		// Redis failed us (reading the version's source): try the step again later,
		// waiting longer each time, as a failed attempt.
		wait := min(time.Second<<(j.attempt-1), time.Minute)
		p.errLog.log(p.e.log, "resuming a run failed; trying its step again later", "run", r.id, "step", j.step,
			"retry_in", wait, "err", err)
		p.retry(r, j, outcome{status: "failed", err: err}, wait)
		return
	}
	if err != nil {
		// The run cannot go on here; record why rather than leave it queued forever. It
		// is dead-lettered, to be replayed once the cause is fixed.
		p.commit(r, j, commit{result: resultJSON("failed", j.attempt, nil, err), runStatus: "failed",
			runError: fmt.Sprintf("step %s: %v", j.step, err), dead: true})
		return
	}
	for {
		step, idx := r.wf.Step(j.step)
		ctx, cancel := context.WithCancelCause(p.work)
		p.hold(j, cancel)
		o := p.runStep(ctx, r, step, j.attempt)
		switch {
		case p.work.Err() != nil && o.status == "failed":
			// Stop gave up waiting and cancelled the step: hand it back rather than
			// record a failure that is only ours. (A step that succeeded is committed.)
			if err := p.e.q.release(context.Background(), j, r.workflow); err != nil {
				p.e.log.Warn("handing a step back failed; it runs again when its lease expires",
					"run", r.id, "step", step.Name, "err", err)
			}
			p.unhold(j)
			cancel(nil)
			return
		case errors.Is(context.Cause(ctx), errLeaseLost):
			p.e.log.Warn("step abandoned: its lease was lost and another worker runs it", "run", r.id, "step", step.Name)
			p.unhold(j)
			cancel(nil)
			return
		}
		var c commit
		if w, ok := o.output.(*workflows.Wait); ok {
			o.output = w.Value()
			c.wait = w.For
		}
		wait, again := retryWait(step, j.attempt, o) // before redaction drops the error's type
		p.observe(r, step, o, again)
		// A secret that came back in the output or an error is recorded as [redacted],
		// and later steps see the record, whichever worker runs them.
		secrets := r.wf.Secrets
		o.output = secrets.Value(o.output)
		if o.err != nil {
			o.err = errors.New(secrets.String(o.err.Error()))
		}
		if again {
			p.retry(r, j, o, wait)
			p.unhold(j)
			cancel(nil)
			return
		}
		c.result = resultJSON(o.status, j.attempt, o.output, o.err)
		c.duration = o.duration
		switch {
		case o.status == "failed" && step.OnError == workflows.FailRun:
			c.runStatus, c.runError = "failed", fmt.Sprintf("step %s: %v", step.Name, o.err)
			c.dead = true
		case idx+1 < len(r.wf.Steps):
			c.next = r.wf.Steps[idx+1].Name
			c.chain = p.fetch.Err() == nil // while stopping, leave the rest to other workers
		default:
			c.runStatus = "succeeded"
		}
		token, ok := p.commit(r, j, c) // the heartbeat keeps the lease while this retries
		p.unhold(j)
		cancel(nil)
		if !ok || token == "" {
			return
		}
		r.env.Steps[step.Name] = stepValue(o.status, o.output, o.err)
		j = &job{shard: j.shard, id: jobID(r.id, c.next), step: c.next, token: token, attempt: 1}
	}
}

// commit writes a step's outcome and reports the next job's token when it was chained.
func (p *Pool) commit(r *runState, j *job, c commit) (string, bool) {
	c.job, c.runID, c.workflow = j, r.id, r.workflow
	var token string
	ok := p.persist(r, j, func() (err error) {
		token, err = p.e.q.complete(context.Background(), c)
		return err
	})
	if ok && (c.next == "" || answers(r.wf, j.step)) {
		p.e.waiters.wake(r.id) // a caller waiting for the run may have its answer
	}
	if ok && c.next == "" {
		p.e.metrics.runFinished(r.workflow, c.runStatus)
		took := time.Since(r.created).Milliseconds() // since it started, replays included
		if c.runStatus == "failed" {
			p.e.log.Warn("run finished", "run", r.id, "workflow", r.workflow, "status", c.runStatus, "duration_ms", took, "error", c.runError)
		} else {
			p.e.log.Info("run finished", "run", r.id, "workflow", r.workflow, "status", c.runStatus, "duration_ms", took)
		}
	}
	return token, ok
}

// observe records how long an attempt of a step took, unless it was skipped.
func (p *Pool) observe(r *runState, step *workflows.Step, o outcome, again bool) {
	outcome := o.status
	switch {
	case outcome == "skipped":
		return
	case again:
		outcome = "retrying"
	}
	p.e.metrics.stepDone(r.workflow, step.Name, step.Kind, outcome, o.duration)
}

// answers reports whether step of wf answers a caller waiting for its run. wf is nil
// for a run whose version could not be loaded.
func answers(wf *workflows.Workflow, step string) bool {
	if wf == nil {
		return false
	}
	s, _ := wf.Step(step)
	return s != nil && s.Answers()
}

// retry records a failed attempt and queues the step again after wait.
func (p *Pool) retry(r *runState, j *job, o outcome, wait time.Duration) {
	result := resultJSON("retrying", j.attempt, o.output, o.err)
	if p.persist(r, j, func() error {
		return p.e.q.retry(context.Background(), j, r.id, r.workflow, result, o.duration, wait)
	}) {
		p.e.log.Info("step failed; retrying", "run", r.id, "workflow", r.workflow, "step", j.step,
			"attempt", j.attempt, "retry_in", wait.Round(time.Millisecond), "error", o.err)
	}
}

// persist runs a write of a leased job's outcome. A Redis error is retried for a few
// seconds, while the heartbeat keeps the lease; if it persists, the lease expires and
// the step runs again. A write refused because the lease was lost reports false too.
func (p *Pool) persist(r *runState, j *job, write func() error) bool {
	var err error
	for wait := 100 * time.Millisecond; ; wait *= 2 {
		err = write()
		if err == nil || errors.Is(err, errStaleLease) || wait > 2*time.Second {
			break
		}
		time.Sleep(wait)
	}
	switch {
	case errors.Is(err, errStaleLease):
		p.e.log.Warn("step result discarded: its lease was lost", "run", r.id, "step", j.step)
		return false
	case err != nil:
		p.errLog.log(p.e.log, "recording step result failed; the step will run again when its lease expires",
			"run", r.id, "step", j.step, "err", err)
		return false
	}
	return true
}

// outcome is the result of one attempt of one step.
type outcome struct {
	status   string // succeeded, failed or skipped
	output   any
	err      error
	duration time.Duration
}

func (p *Pool) runStep(ctx context.Context, r *runState, step *workflows.Step, attempt int) (o outcome) {
	start := time.Now()
	defer func() {
		if v := recover(); v != nil {
			p.e.log.Error("step panicked", "run", r.id, "step", step.Name, "panic", v, "stack", string(debug.Stack()))
			o = outcome{status: "failed", err: workflows.Permanent(fmt.Errorf("internal error: %v", v))}
		}
		o.duration = time.Since(start)
	}()
	if step.If != nil {
		ok, err := step.If.Eval(r.env)
		if err != nil {
			return outcome{status: "failed", err: workflows.Permanent(fmt.Errorf("if: %w", err))}
		}
		if !ok {
			return outcome{status: "skipped"}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, step.Timeout)
	defer cancel()
	out, err := step.Action.Do(ctx, &workflows.Call{Env: r.env, RunID: r.id, Workflow: r.workflow,
		Step: step.Name, Attempt: attempt, Secrets: r.wf.Secrets})
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("timed out after %s: %w", step.Timeout, err)
		}
		return outcome{status: "failed", output: out, err: err}
	}
	return outcome{status: "succeeded", output: out}
}

// runState is what a worker knows of a run while it executes its steps.
type runState struct {
	id       string
	workflow string
	created  time.Time // when the run was started
	wf       *workflows.Workflow
	env      *workflows.Env
}

// resume rebuilds a run's state from the run hash that came with its leased job.
func (e *Engine) resume(ctx context.Context, j *job) (*runState, error) {
	r := &runState{id: j.run["id"], workflow: j.run["wf"], created: msTime(j.run["created"])}
	var err error
	r.wf, err = e.versions.get(ctx, r.workflow, j.run["ver"])
	if err != nil {
		return r, err
	}
	if s, _ := r.wf.Step(j.step); s == nil {
		return r, workflows.Permanent(fmt.Errorf("workflow %s version %s has no step %s", r.workflow, j.run["ver"], j.step))
	}
	ev, err := workflows.DecodeEvent([]byte(j.run["event"]))
	if err != nil {
		return r, workflows.Permanent(err)
	}
	results, err := stepResults(j.run)
	if err != nil {
		return r, workflows.Permanent(err)
	}
	steps := make(map[string]any, len(results))
	for name, res := range results {
		if name == j.step {
			continue // an earlier attempt of this step
		}
		out, err := res.output()
		if err != nil {
			return r, workflows.Permanent(fmt.Errorf("step %s output: %w", name, err))
		}
		var stepErr error
		if res.Error != "" {
			stepErr = errors.New(res.Error)
		}
		steps[name] = stepValue(res.Status, out, stepErr)
	}
	r.env = &workflows.Env{
		Event: ev.Value(),
		Steps: steps,
		Vars:  r.wf.Vars,
		Run:   map[string]any{"id": r.id, "workflow": r.workflow, "version": r.wf.Version},
	}
	return r, nil
}

// stepValue is what later steps read as steps.NAME: the step's output, plus its status
// and error where the output has no field of that name.
func stepValue(status string, output any, err error) map[string]any {
	m, _ := output.(map[string]any)
	v := make(map[string]any, len(m)+2)
	for k, x := range m {
		v[k] = x
	}
	if output != nil && m == nil {
		v["value"] = output
	}
	if _, ok := v["status"]; !ok {
		v["status"] = status
	}
	if _, ok := v["error"]; !ok && err != nil {
		v["error"] = err.Error()
	}
	return v
}

// resultJSON encodes a step's record. It always has a status field, which the commit
// script relies on.
func resultJSON(status string, attempt int, output any, err error) []byte {
	res := map[string]any{"status": status, "attempt": attempt}
	if output != nil {
		res["output"] = output
	}
	if err != nil {
		res["error"] = err.Error()
	}
	data, mErr := json.Marshal(res)
	if mErr != nil {
		delete(res, "output")
		res["error"] = fmt.Sprintf("output cannot be recorded: %v", mErr)
		data, _ = json.Marshal(res)
	}
	return data
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// rateLimit keeps a failing loop from flooding the log: at most one line per interval.
type rateLimit struct {
	mu   sync.Mutex
	last time.Time
}

func (r *rateLimit) log(l *slog.Logger, msg string, args ...any) {
	r.mu.Lock()
	now := time.Now()
	ok := now.Sub(r.last) >= 5*time.Second
	if ok {
		r.last = now
	}
	r.mu.Unlock()
	if ok {
		l.Error(msg, args...)
	}
}
