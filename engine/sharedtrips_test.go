package engine

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

type testCall struct {
	in, out int
	turn
}

// TestSharedTrips: many callers at once each get their own call's answer; no more than
// batchFlushers round trips are under way at once, none larger than maxStartBatch, and
// calls share them; a caller alone goes in a round trip of its own.
func TestSharedTrips(t *testing.T) {
	var underway, most, shared atomic.Int32
	release := make(chan struct{})
	var r sharedTrips[*testCall]
	r.send = func(batch []*testCall) {
		n := underway.Add(1)
		defer underway.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		if len(batch) > maxStartBatch {
			t.Errorf("a round trip of %d calls", len(batch))
		}
		if len(batch) > 1 {
			shared.Add(1)
		}
		<-release
		for _, c := range batch {
			c.out = 2 * c.in
		}
	}

	const callers = 600
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &testCall{in: i, turn: newTurn()}
			if !r.do(c) {
				t.Errorf("call %d refused", i)
			} else if c.out != 2*i {
				t.Errorf("call %d answered %d", i, c.out)
			}
		}()
	}
	waitFor(&r, func() bool { return len(r.waiting) >= 100 })
	close(release) // round trips end at once from here on, some while callers queue
	wg.Wait()
	if most.Load() > batchFlushers {
		t.Errorf("%d round trips under way at once, want at most %d", most.Load(), batchFlushers)
	}
	if shared.Load() == 0 {
		t.Error("no round trip carried more than one call")
	}
	if r.underway != 0 || len(r.waiting) != 0 {
		t.Errorf("after: %d under way, %d waiting", r.underway, len(r.waiting))
	}

	var sizes []int
	r.send = func(batch []*testCall) { sizes = append(sizes, len(batch)) }
	if c := (&testCall{in: 1, turn: newTurn()}); !r.do(c) || len(sizes) != 1 || sizes[0] != 1 {
		t.Errorf("a call alone: round trips %v", sizes)
	}
}

// TestSharedTripsBacklog: with every round trip stuck and maxWaiting calls waiting, the
// next call is refused, unmade; the waiting ones are answered once Redis answers.
func TestSharedTripsBacklog(t *testing.T) {
	release := make(chan struct{})
	var sent atomic.Int32
	var r sharedTrips[*testCall]
	r.send = func(batch []*testCall) {
		<-release
		sent.Add(int32(len(batch)))
	}
	var wg sync.WaitGroup
	for range batchFlushers + maxWaiting {
		wg.Add(1)
		go func() { defer wg.Done(); r.do(&testCall{turn: newTurn()}) }()
	}
	waitFor(&r, func() bool { return r.underway == batchFlushers && len(r.waiting) == maxWaiting })
	if r.do(&testCall{turn: newTurn()}) {
		t.Error("a call past maxWaiting was taken")
	}
	close(release)
	wg.Wait()
	if n := sent.Load(); n != batchFlushers+maxWaiting {
		t.Errorf("%d calls made, want %d", n, batchFlushers+maxWaiting)
	}
}

// waitFor waits until ok, called with r's lock held, holds.
func waitFor(r *sharedTrips[*testCall], ok func() bool) {
	for {
		r.mu.Lock()
		done := ok()
		r.mu.Unlock()
		if done {
			return
		}
		runtime.Gosched()
	}
}
