package engine

import (
	"context"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
)

// TestPollState: a tick is claimed once and an earlier one not at all; a poll's
// cursor is read back; a key marked seen starts no run, and one that started a run
// keeps it.
func TestPollState(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		e, set, _ := running(t, b, chainSrc, 2)
		wf, ctx := set.Workflow("chain"), context.Background()
		const sched = "poll every 1m0s abc"
		last, err := e.LastTick(ctx, wf, sched)
		if err != nil {
			t.Fatal(err)
		}
		tick := last.Truncate(time.Minute)
		if ok, err := e.ClaimTick(ctx, wf, sched, tick.Add(time.Minute)); !ok || err != nil {
			t.Fatalf("claim: %v %v", ok, err)
		}
		if ok, err := e.ClaimTick(ctx, wf, sched, tick.Add(time.Minute)); ok || err != nil {
			t.Errorf("the same tick claimed again: %v %v", ok, err)
		}
		if ok, err := e.ClaimTick(ctx, wf, sched, tick); ok || err != nil {
			t.Errorf("an earlier tick claimed: %v %v", ok, err)
		}
		if _, err := e.ClaimTick(ctx, wf, sched, tick.Add(time.Hour)); err == nil {
			t.Error("a tick an hour past Redis's clock was claimed")
		}

		if c, found, err := e.PollCursor(ctx, wf, sched); c != nil || found || err != nil {
			t.Errorf("a new poll's cursor: %v %v %v", c, found, err)
		}
		if err := e.SavePoll(ctx, wf, sched, map[string]any{"since": "2026-01-01"}); err != nil {
			t.Fatal(err)
		}
		if c, found, err := e.PollCursor(ctx, wf, sched); !found || err != nil || c.(map[string]any)["since"] != "2026-01-01" {
			t.Errorf("cursor read back: %v %v %v", c, found, err)
		}

		started, first, err := e.StartOnce(ctx, wf, event(`{"name": "a"}`), "poll:a", time.Hour)
		if !first || err != nil {
			t.Fatal(first, err)
		}
		if err := e.MarkSeen(ctx, wf, []string{"poll:a", "poll:b"}, time.Hour); err != nil {
			t.Fatal(err)
		}
		if id, first, err := e.StartOnce(ctx, wf, event(`{"name": "a"}`), "poll:a", time.Hour); first || err != nil || id != started {
			t.Errorf("a key that started a run, marked seen: %q %v %v, want its run %q", id, first, err, started)
		}
		if _, first, err := e.StartOnce(ctx, wf, event(`{"name": "b"}`), "poll:b", time.Hour); first || err != nil {
			t.Errorf("a key marked seen started a run: %v %v", first, err)
		}
	})
}
