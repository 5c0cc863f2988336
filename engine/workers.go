package engine

import "sync"

// workers keeps the goroutines that executed jobs for the next jobs. A job run on a new
// goroutine grows its stack on its way down to the step, copying it each time (3% of
// the CPU of a relay, measured), where a goroutine that ran a step before has the stack
// already. The goroutine idle the shortest time takes the next job: the garbage
// collector shrinks the stacks of goroutines idle for long, and the ones that stay busy
// keep theirs. There are about as many as the pool's workers, as each executes with a
// worker's slot (one that gave its slot back may not be idle yet when the next job
// comes, and the job gets a new goroutine).
type workers struct {
	mu      sync.Mutex
	idle    []chan *job // a stack: the last one idle is the first to go
	stopped bool
}

// goExecute executes j on an idle goroutine, or on a new one.
func (p *Pool) goExecute(j *job) {
	ws := &p.workers
	ws.mu.Lock()
	if n := len(ws.idle); n > 0 {
		c := ws.idle[n-1]
		ws.idle = ws.idle[:n-1]
		ws.mu.Unlock()
		c <- j
		return
	}
	ws.mu.Unlock()
	go p.worker(j)
}

// worker executes j, then the jobs goExecute hands it, until the pool stops.
func (p *Pool) worker(j *job) {
	ws := &p.workers
	next := make(chan *job, 1)
	for {
		p.execute(j)
		ws.mu.Lock()
		if ws.stopped {
			ws.mu.Unlock()
			return
		}
		ws.idle = append(ws.idle, next)
		ws.mu.Unlock()
		j = nil // idle, it holds on to no job's run
		if j = <-next; j == nil {
			return
		}
	}
}

// stopWorkers ends the idle goroutines, and each busy one once its job is done.
func (p *Pool) stopWorkers() {
	ws := &p.workers
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.stopped = true
	for _, c := range ws.idle {
		close(c)
	}
	ws.idle = nil
}
