package engine

import (
	"context"
	"time"
)

// loop is a background loop with the lifecycle every loop of the engine shares (the
// fetchers, the heartbeat, the history trim): started with its own goroutine and a
// context, stopped by cancelling that context and waiting for the goroutine to return.
// Stop never sends on a channel, so it cannot block on a loop that is busy.
type loop struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startLoop runs fn in a goroutine until stop.
func startLoop(fn func(ctx context.Context)) *loop {
	ctx, cancel := context.WithCancel(context.Background())
	l := &loop{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		fn(ctx)
	}()
	return l
}

// stop cancels the loop's context and waits for it to return.
func (l *loop) stop() {
	l.cancel()
	l.wait()
}

// wait waits for the loop to return, once its context is cancelled.
func (l *loop) wait() { <-l.done }

// every calls fn every d until ctx ends.
func every(ctx context.Context, d time.Duration, fn func(ctx context.Context)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}

// sleep waits for d or until ctx ends, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
