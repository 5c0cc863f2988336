package triggers

import (
	"sync/atomic"
	"time"
)

// logThrottle lets a log line through once a second at most, and counts the lines it
// held back, for the next line to say: an outage, an overload or a flood of forged
// requests would otherwise repeat one line for every request. Metrics count every
// request still.
type logThrottle struct {
	now        func() time.Time // nil: time.Now
	last       atomic.Int64     // when a line was last let through, Unix seconds
	suppressed atomic.Int64     // lines held back since
}

// allow reports whether to log a line now, and how many were held back before it.
func (l *logThrottle) allow() (ok bool, suppressed int64) {
	now := time.Now
	if l.now != nil {
		now = l.now
	}
	sec, last := now().Unix(), l.last.Load()
	if sec > last && l.last.CompareAndSwap(last, sec) {
		return true, l.suppressed.Swap(0)
	}
	l.suppressed.Add(1)
	return false, 0
}
