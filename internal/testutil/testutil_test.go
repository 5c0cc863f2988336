package testutil

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// fakeTB records a Fatalf instead of ending the test; Fatalf stops the goroutine as
// testing.T's does.
type fakeTB struct {
	testing.TB
	failed string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	panic(f)
}

func run(tb *fakeTB, f func()) {
	defer func() {
		if r := recover(); r != nil && r != tb {
			panic(r)
		}
	}()
	f()
}

func TestEventually(t *testing.T) {
	t.Run("met at once", func(t *testing.T) {
		calls := 0
		Eventually(t, time.Second, "true", func() bool { calls++; return true })
		if calls != 1 {
			t.Errorf("cond called %d times", calls)
		}
	})
	t.Run("met later", func(t *testing.T) {
		var n atomic.Int32
		go func() {
			time.Sleep(20 * time.Millisecond)
			n.Store(1)
		}()
		Eventually(t, 10*time.Second, "n is set", func() bool { return n.Load() == 1 })
	})
	t.Run("never met", func(t *testing.T) {
		tb := &fakeTB{}
		calls := 0
		run(tb, func() {
			Eventually(tb, 30*time.Millisecond, "the thing happens", func() bool { calls++; return false })
		})
		if tb.failed != "the thing happens: not within 30ms" {
			t.Errorf("failed with %q", tb.failed)
		}
		if calls < 3 {
			t.Errorf("cond called %d times in 30ms", calls)
		}
	})
}
