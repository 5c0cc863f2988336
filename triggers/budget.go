package triggers

import "sync/atomic"

// DefaultBodyBudget is how many bytes of webhook bodies may be held in memory at once
// by default: 32 requests at the default max_body, thousands of usual ones.
const DefaultBodyBudget = 32 << 20

// budget is a count of bytes in use against a maximum, taken and given back by
// requests without waiting.
type budget struct {
	max  int64
	used atomic.Int64
}

// take reserves n bytes, or reports false when that would pass the maximum. A request
// alone may always take what it needs, so that a maximum below max_body refuses none.
func (b *budget) take(n int64) bool {
	if used := b.used.Add(n); used > b.max && used != n {
		b.used.Add(-n)
		return false
	}
	return true
}

// give returns n bytes taken.
func (b *budget) give(n int64) { b.used.Add(-n) }
