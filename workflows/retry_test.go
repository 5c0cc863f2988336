package workflows

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

type hinted struct {
	retry bool
	after time.Duration
}

func (h hinted) Error() string                    { return "hinted" }
func (h hinted) RetryHint() (bool, time.Duration) { return h.retry, h.after }

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		retry bool
		after time.Duration
	}{
		{"plain error", errors.New("connection refused"), true, 0},
		{"timeout", fmt.Errorf("call: %w", context.DeadlineExceeded), true, 0},
		{"permanent", Permanent(errors.New("url: bad")), false, 0},
		{"wrapped permanent", fmt.Errorf("step: %w", Permanent(errors.New("x"))), false, 0},
		{"hint retry", fmt.Errorf("call: %w", hinted{true, 3 * time.Second}), true, 3 * time.Second},
		{"hint give up", hinted{false, 0}, false, 0},
		{"permanent wins over hint", Permanent(hinted{true, time.Second}), false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			retry, after := Retryable(tc.err)
			if retry != tc.retry || after != tc.after {
				t.Errorf("Retryable = %v, %s; want %v, %s", retry, after, tc.retry, tc.after)
			}
		})
	}
	if Permanent(nil) != nil {
		t.Error("Permanent(nil) is not nil")
	}
	if got := Permanent(errors.New("boom")).Error(); got != "boom" {
		t.Errorf("Permanent changes the message: %q", got)
	}
}
