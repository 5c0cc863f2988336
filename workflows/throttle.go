package workflows

import (
	"errors"
	"fmt"
	"time"
)

// Throttled is the error of a step that did not start because a limit shared by every
// process holds it back: its api's rate_limit or concurrency, or a Retry-After one of
// its calls got; or because what its api shares in Redis (those limits, its OAuth2
// token) could not be read, Redis not answering (Reason "redis", Err saying why).
// Nothing was sent (for a page of a paginated step after the first: nothing more; the
// pages read are kept, see PageStore). The engine queues the step again, due After,
// holding no worker meanwhile and counting no attempt.
type Throttled struct {
	API    string
	Reason string // "rate_limit", "concurrency", "retry_after" or "redis"
	After  time.Duration
	Err    error // for "redis": what reading Redis failed with
}

func (e *Throttled) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("held back for %s: %v", FormatDuration(e.After.Round(time.Millisecond)), e.Err)
	}
	return fmt.Sprintf("api %q: held back by its %s for %s", e.API, e.Reason, FormatDuration(e.After.Round(time.Millisecond)))
}

func (e *Throttled) Unwrap() error { return e.Err }

// RetryHint: another try may pass once the wait is over.
func (e *Throttled) RetryHint() (bool, time.Duration) { return true, e.After }

// ErrPastDeadline is what a call's wait for its api's limits fails with when the turn
// they give it would come past its context's deadline: the wait is given up before
// that deadline. A caller that tells a deadline of its own from its other failures (a
// poll cut by its time, which starts the items of the pages it read) tells it by this,
// not by context.DeadlineExceeded, which a network timeout matches too.
var ErrPastDeadline = errors.New("the turn its api's limits give it would come past its deadline")
