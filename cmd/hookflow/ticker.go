package main

import (
	"sync"
	"time"
)

// everyTick calls fn with the time of each tick, every d, on a goroutine of its own,
// until stop. Once stop returns, fn is not running and is not called again.
func everyTick(d time.Duration, fn func(now time.Time)) (stop func()) {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				fn(now)
			}
		}
	}()
	return sync.OnceFunc(func() {
		close(done)
		<-stopped
	})
}
