package triggers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// An API that answers a poll 429 Too Many Requests or 503 Service Unavailable with a
// Retry-After asks every process not to poll before that time, not only the one that
// got it: the time is kept in Redis with the poll's status, and each process's tick
// polls only after it (see Poller.waiting). A tick before it is skipped, and is no
// failure. The Retry-After of a 429 to a poll with an api is its api's limits' to
// hold (every call of the api waits for it, up to a retry's max), as for its steps:
// the tick waits its turn there and polls.

// maxPollWait bounds the wait a Retry-After asks of a poll: a daily quota's answer
// (Retry-After: 86400) holds the poll an hour, the longest a failing poll waits.
const maxPollWait = time.Hour

// pollWaits is what a poll's wait for its API needs of the engine.
type pollWaits interface {
	// HoldPoll keeps until, before which no process polls the poll trigger.
	HoldPoll(ctx context.Context, wf *workflows.Workflow, poll string, until time.Time) error
	// PollHeldUntil returns the time HoldPoll kept; zero for none.
	PollHeldUntil(ctx context.Context, wf *workflows.Workflow, poll string) (time.Time, error)
}

// statusAnswer is the error of an answer whose status the request did not expect,
// with how long its Retry-After asked to wait (actions.StatusError).
type statusAnswer interface {
	error
	StatusCode() int
	RetryHint() (retry bool, after time.Duration)
}

// askedToWait returns how long the API asked the poll to wait with the error it
// failed with, at most maxPollWait: the Retry-After (seconds, or an HTTP date) of a
// 503, or of a 429 to a poll without an api; 0 for any other.
func askedToWait(poll *Poll, err error) time.Duration {
	var a statusAnswer
	if !errors.As(err, &a) {
		return 0
	}
	switch a.StatusCode() {
	case http.StatusServiceUnavailable:
	case http.StatusTooManyRequests:
		if poll.api != "" {
			return 0
		}
	default:
		return 0
	}
	_, after := a.RetryHint()
	return min(after, maxPollWait)
}

// keepWait keeps, for every process, the wait the API asked of a poll that failed
// with err, and has this process wait it out too. It is kept before the poll frees
// its lock: the next poll, in any process, finds it.
func (p *Poller) keepWait(ctx context.Context, wf *workflows.Workflow, poll *Poll, st *streak, err error) {
	wait := askedToWait(poll, err)
	if wait <= 0 {
		return
	}
	until := p.now().Add(wait).Truncate(time.Millisecond) // as Redis keeps it: waiting compares them
	if herr := p.polls.HoldPoll(ctx, wf, poll.Key(), until); herr != nil {
		p.log.Warn("poll: cannot keep the time its API asked it to wait until, for the other processes: they may ask "+
			"before it", "workflow", wf.Name, "until", until.UTC().Format(time.RFC3339), "err", herr)
	}
	st.retryAt = later(st.retryAt, until)
	st.waitLogged = until
	p.log.Info("poll: its API asked it to wait (Retry-After): no process polls it before the time kept, up to an hour "+
		"ahead; the ticks before it are skipped", "workflow", wf.Name, "until", until.UTC().Format(time.RFC3339))
}

// waiting reports whether the poll is to wait still, as its API asked; the first tick
// of this process that finds so logs it.
func (p *Poller) waiting(ctx context.Context, wf *workflows.Workflow, poll *Poll, st *streak) (bool, error) {
	until, err := p.polls.PollHeldUntil(ctx, wf, poll.Key())
	if err != nil {
		return false, fmt.Errorf("reading the time its API asked it to wait until: %w", err)
	}
	if !p.now().Before(until) {
		return false, nil
	}
	if !until.Equal(st.waitLogged) {
		st.waitLogged = until
		p.log.Info("poll: a tick is skipped, as its API asked an earlier poll to wait (Retry-After); no process polls "+
			"it before the time kept (logged once per wait)", "workflow", wf.Name,
			"until", until.UTC().Format(time.RFC3339))
	}
	return true, nil
}

// later returns the later of two times.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
