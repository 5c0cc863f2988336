package engine

import (
	"math/rand/v2"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// retryWait reports whether a failed attempt of step gets another, and after how long:
// the step has a retry policy with attempts left, and the failure is one another
// attempt may fix (workflows.Retryable).
func retryWait(step *workflows.Step, attempt int, o outcome) (time.Duration, bool) {
	if o.status != StatusFailed || step.Retry == nil || attempt >= step.Retry.Attempts {
		return 0, false
	}
	retry, asked := workflows.Retryable(o.err)
	if !retry {
		return 0, false
	}
	return backoff(step.Retry, attempt, asked, rand.Int64N), true
}

// backoff is the wait after the attempt-th attempt failed. Exponential waits use full
// jitter: a random wait up to initial doubled after each attempt, capped at max, so
// that runs failing together do not retry together. Constant waits are initial. A wait
// the other side asked for (Retry-After) is honoured, up to max.
func backoff(r *workflows.Retry, attempt int, asked time.Duration, random func(n int64) int64) time.Duration {
	d := r.Initial
	if r.Exponential {
		for i := 1; i < attempt && d < r.Max; i++ {
			d *= 2
		}
		d = time.Duration(random(int64(min(d, r.Max)) + 1))
	}
	return min(max(d, asked), r.Max)
}
