package main

import "sync"

// intake counts the webhook requests being handled, so that a shutdown can wait for
// them (their runs get queued) while it answers every new one 503.
type intake struct {
	mu       sync.Mutex
	n        int
	draining bool
	idle     chan struct{} // closed once draining and no request is left
}

// enter admits a request, or reports false once draining began.
func (in *intake) enter() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.draining {
		return false
	}
	in.n++
	return true
}

// leave ends a request admitted by enter.
func (in *intake) leave() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.n--
	if in.draining && in.n == 0 && in.idle != nil {
		close(in.idle)
		in.idle = nil
	}
}

// drain admits no more requests; the channel closes when those admitted have ended.
func (in *intake) drain() <-chan struct{} {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.draining = true
	ch := make(chan struct{})
	if in.n == 0 {
		close(ch)
	} else {
		in.idle = ch
	}
	return ch
}
