package workflows

import (
	"errors"
	"time"
)

// Permanent marks err as a failure another attempt cannot fix: a value that does not
// render, an address the guard refuses, an answer the other side will give again. A
// step's retry policy gives up at once on it.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// RetryHint is implemented by errors that know whether another attempt may succeed,
// such as an HTTP answer: a 503 may pass later, a 404 will not. After is how long the
// other side asked to wait (an HTTP Retry-After), 0 when it did not say.
type RetryHint interface {
	RetryHint() (retry bool, after time.Duration)
}

// Retryable reports whether a step that failed with err may succeed on another attempt,
// and how long the other side asked to wait. Failures are retryable unless marked
// Permanent or hinted otherwise: a network error or a timeout usually passes.
func Retryable(err error) (retry bool, after time.Duration) {
	var p *permanentError
	if errors.As(err, &p) {
		return false, 0
	}
	var h RetryHint
	if errors.As(err, &h) {
		return h.RetryHint()
	}
	return true, 0
}
