package workflows

import (
	"fmt"
	"time"
)

// Throttled is the error of a step that did not start because a limit shared by every
// process holds it back: its api's rate_limit or concurrency, or a Retry-After one of
// its calls got. Nothing was sent (for a page of a paginated step after the first:
// nothing more; the pages read are kept, see PageStore). The engine queues the step
// again, due After, holding no worker meanwhile and counting no attempt.
type Throttled struct {
	API    string
	Reason string // "rate_limit", "concurrency" or "retry_after"
	After  time.Duration
}

func (e *Throttled) Error() string {
	return fmt.Sprintf("api %q: held back by its %s for %s", e.API, e.Reason, FormatDuration(e.After.Round(time.Millisecond)))
}

// RetryHint: another try may pass once the wait is over.
func (e *Throttled) RetryHint() (bool, time.Duration) { return true, e.After }
