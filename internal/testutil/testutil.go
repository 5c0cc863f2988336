// Package testutil holds what tests across the repository share: waiting for a
// condition instead of sleeping for a time.
package testutil

import (
	"testing"
	"time"
)

// maxPoll is the longest pause between two looks at a condition.
const maxPoll = 50 * time.Millisecond

// Eventually calls cond until it reports true, and fails t with what when it has not
// within the given time. It looks again after 1ms, then waits twice as long each
// time, up to 50ms: a condition met at once costs nothing, and one that takes seconds
// is looked at 20 times a second. cond runs on the test's goroutine; it may call
// t.Fatal.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	wait := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(wait) // polling: the condition has nothing to select on
		wait = min(2*wait, maxPoll)
	}
}
