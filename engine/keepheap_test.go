package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// The cap halves the finished runs held while the live heap is more than the budget
// over what it was at the start, holds between half the budget and the budget, and
// doubles back up to the full cap under half; it weighs a heap only once per
// collection, and never goes under 1.
func TestHeapCapWeighs(t *testing.T) {
	const base = 1000
	var live, cycles uint64 = base, 7
	c := newHeapCap(100, 2000, func() (uint64, uint64) { return live, cycles })
	held, asked := 0, 0
	// weigh weighs a heap of l bytes over the base, with h runs held.
	weigh := func(l uint64, h, want int, what string) {
		t.Helper()
		live, held, cycles = base+l, h, cycles+1
		if _, got, _, err := c.weigh(func() (int, error) { asked++; return held, nil }); err != nil || got != want || c.keep() != want {
			t.Fatalf("%s: the cap is %d (%v), want %d", what, got, err, want)
		}
	}
	weigh(10, 0, 2000, "under half the budget, at the full cap")
	if asked != 0 {
		t.Errorf("the runs held were counted %d times under the budget", asked)
	}
	weigh(150, 120, 60, "over the budget with 120 runs held")
	weigh(150, 60, 30, "still over")
	cycles-- // no collection since: the same heap
	weigh(150, 30, 30, "the same heap weighed again")
	weigh(80, 30, 30, "between half the budget and the budget")
	weigh(500, 1, 1, "over with 1 run held")
	weigh(500, 0, 1, "over with none held")
	weigh(40, 1, 2, "under half")
	for range 10 {
		weigh(40, 0, min(c.keep()*2, 2000), "under half again")
	}
	weigh(40, 0, 2000, "back at the full cap")

	live = 0
	failing := newHeapCap(100, 50, func() (uint64, uint64) { return live, cycles })
	live, cycles = 200, cycles+1
	if _, after, _, err := failing.weigh(func() (int, error) { return 0, errors.New("down") }); err == nil || after != 50 {
		t.Errorf("with the runs held unread: cap %d, %v; want it unchanged and the error", after, err)
	}
}

// Runs whose events are 1 MiB each, far fewer than the cap on their count, are dropped
// until the finished runs kept hold no more than the heap's budget: the cap counts runs,
// the budget their bytes.
func TestKeepHeapBoundsLargeRuns(t *testing.T) {
	b := redistest.Mini(t)
	ctx := context.Background()
	const budget, runs = 16 << 20, 60
	pad := strings.Repeat("A", 1<<20)
	set := loadSet(t, &recorder{}, `
workflow "big" {
  step "probe" "only" {
    value = "{{ event.body.n }}"
  }
}`)
	runtime.GC() // the budget counts from the heap live now: not from what others left to collect
	capped := New(b.Client, Options{Logger: quiet, KeepRuns: 2000, KeepHeap: budget, RedisMode: RedisEmbedded})
	capped.q.keepGrace = 0
	capped.Use(set)
	startPool(t, capped, 4)
	for n := range runs {
		id, err := capped.Start(ctx, set.Workflow("big"), event(fmt.Sprintf(`{"n": %d, "pad": %q}`, n, pad)))
		if err != nil {
			t.Fatal(err)
		}
		waitRun(t, capped, id)
	}
	held := 0
	testutil.Eventually(t, 30*time.Second, fmt.Sprintf("the finished runs kept hold at most %d MiB", budget>>20), func() bool {
		runtime.GC() // a collection for the cap to weigh, as the runs' own garbage makes
		var err error
		if held, err = capped.q.finishedHeld(ctx); err != nil {
			t.Fatal(err)
		}
		return held<<20 <= budget
	})
	if held == 0 {
		t.Error("every run was dropped: the newest is kept")
	}
}
