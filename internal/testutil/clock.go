package testutil

import (
	"slices"
	"sync"
	"time"
)

// Clock is a clock the test moves, and the timers set on it run as it passes them:
// code that takes a clock (logthrottle.Clock) is tested without sleeps.
type Clock struct {
	mu     sync.Mutex
	at     time.Time
	timers []clockTimer
}

type clockTimer struct {
	at time.Time
	f  func()
}

// NewClock returns a clock at a fixed time.
func NewClock() *Clock {
	return &Clock{at: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)}
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

// AfterFunc calls f when the clock has been moved d past now, on the goroutine that
// moves it.
func (c *Clock) AfterFunc(d time.Duration, f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timers = append(c.timers, clockTimer{at: c.at.Add(d), f: f})
}

// Pending is how many timers have not run yet.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// Advance moves the clock by d, running each timer due, in the order they are due, at
// its time.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.at.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		next := -1
		for i, tm := range c.timers {
			if !tm.at.After(end) && (next < 0 || tm.at.Before(c.timers[next].at)) {
				next = i
			}
		}
		if next < 0 {
			c.at = end
			c.mu.Unlock()
			return
		}
		tm := c.timers[next]
		c.timers = slices.Delete(c.timers, next, next+1)
		if tm.at.After(c.at) {
			c.at = tm.at
		}
		c.mu.Unlock()
		tm.f()
	}
}
