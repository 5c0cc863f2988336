package engine

import (
	"sync"
	"sync/atomic"
)

// StopReport is what a pool's Stop did with the steps leased to it: those whose
// attempt ended meanwhile (its job settled: succeeded, failed, or queued again for a
// retry or a limit), those it handed back to the queue unfinished, for another worker,
// and those it could neither hand back nor know recorded (Redis failed), which another
// worker runs once their lease expires, unless Redis recorded them all the same. A job
// counts once, however many units it chained.
type StopReport struct {
	Ended      int
	HandedBack int
	Leased     int
}

// Stopped is what Stop did with the steps in progress; zero until Stop has returned.
func (p *Pool) Stopped() StopReport {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.report
}

// jobCount is a WaitGroup of the jobs leased to a pool, and of the starts that may
// lease it one (take), that counts the jobs that end once Stop has begun.
type jobCount struct {
	wg       sync.WaitGroup
	counting atomic.Bool  // Stop has begun
	ended    atomic.Int64 // jobs that ended since, handed back or not
}

func (c *jobCount) Add(n int) { c.wg.Add(n) }

// Done says a job ended.
func (c *jobCount) Done() {
	if c.counting.Load() {
		c.ended.Add(1)
	}
	c.wg.Done()
}

// noJob says a start that take let lease its first job to the pool leased none.
func (c *jobCount) noJob() { c.wg.Done() }

func (c *jobCount) Wait() { c.wg.Wait() }

// handedBack counts a job that Stop handed back to the queue, or failed to (err): it
// then runs again once its lease expires. Its Done follows.
func (p *Pool) handedBack(err error) {
	if err != nil {
		p.leftLeased.Add(1)
	} else {
		p.handedBackN.Add(1)
	}
}

// unrecorded counts a job whose outcome's write Redis did not answer, once Stop has
// begun: unless Redis made the write all the same, it runs again once its lease
// expires, as one not handed back does. Its Done follows.
func (p *Pool) unrecorded() {
	if p.running.counting.Load() {
		p.leftLeased.Add(1)
	}
}

// keepReport keeps what Stop did with the steps, for Stopped, and returns it.
func (p *Pool) keepReport() StopReport {
	handed, leased := p.handedBackN.Load(), p.leftLeased.Load()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.report = StopReport{HandedBack: int(handed), Leased: int(leased),
		Ended: int(max(p.running.ended.Load()-handed-leased, 0))}
	return p.report
}
