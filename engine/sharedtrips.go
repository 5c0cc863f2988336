package engine

import "sync"

// sharedTrips sends the calls of concurrent callers to Redis in pipelined round trips,
// each made on a caller's own goroutine. A caller that finds fewer than batchFlushers
// round trips under way makes one itself, taking the calls waiting along; one that finds
// them all under way waits, and is either answered by the next round trip or made to
// send it. Alone, a call goes at once and comes back to its caller with no goroutine
// woken on the way (a flushing goroutine cost each start and each commit two wake-ups,
// which at a moderate rate were much of a run's CPU and latency); under load, many
// calls share a round trip's system calls, in hookflow and in Redis.
type sharedTrips[C caller] struct {
	send func([]C) // makes one round trip with the calls and sets their results

	mu       sync.Mutex
	underway int // round trips being made, at most batchFlushers
	waiting  []C // at most maxWaiting
}

// caller is a call of sharedTrips: it holds the turn its caller waits on.
type caller interface{ callTurn() *turn }

// turn tells a waiting caller what became of its call: answered (false) or to lead
// the next round trip (true).
type turn struct{ wake chan bool }

func newTurn() turn                { return turn{wake: make(chan bool, 1)} }
func (t *turn) callTurn() *turn    { return t }
func (t *turn) answer(lead bool)   { t.wake <- lead }
func (t *turn) await() (lead bool) { return <-t.wake }

// do makes c in a round trip and returns once it is answered. It reports false, having
// made nothing, when maxWaiting calls wait already.
func (r *sharedTrips[C]) do(c C) bool {
	r.mu.Lock()
	if r.underway < batchFlushers {
		r.underway++
	} else {
		if len(r.waiting) >= maxWaiting {
			r.mu.Unlock()
			return false
		}
		r.waiting = append(r.waiting, c)
		r.mu.Unlock()
		if !c.callTurn().await() {
			return true
		}
		r.mu.Lock()
	}
	n := min(len(r.waiting), maxStartBatch-1)
	batch := append(make([]C, 0, n+1), c)
	batch = append(batch, r.waiting[:n]...)
	r.waiting = shift(r.waiting, n)
	r.mu.Unlock()

	r.send(batch)
	for _, o := range batch[1:] {
		o.callTurn().answer(false)
	}

	// Hand the lead on to the first call waiting, if any; it makes the next round trip
	// with those behind it, while this caller goes on with its answer.
	r.mu.Lock()
	if len(r.waiting) == 0 {
		r.underway--
	} else {
		next := r.waiting[0]
		r.waiting = shift(r.waiting, 1)
		next.callTurn().answer(true)
	}
	r.mu.Unlock()
	return true
}

// shift drops the first n of s, keeping its array.
func shift[C any](s []C, n int) []C {
	var zero C
	m := copy(s, s[n:])
	for i := m; i < len(s); i++ {
		s[i] = zero
	}
	return s[:m]
}
