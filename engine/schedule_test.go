package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
)

// TestStartTick: the run of a tick starts once, and a start repeated (its answer was
// lost) gets the same run; an earlier tick is skipped; a tick past Redis's clock is
// refused; LastTick reads back the last tick started.
func TestStartTick(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		e, set, _ := running(t, b, chainSrc, 2)
		wf, ctx := set.Workflow("chain"), context.Background()
		last, err := e.LastTick(ctx, wf, "every 1s")
		if err != nil || time.Since(last).Abs() > 5*time.Second {
			t.Fatalf("a new schedule's last tick: %v, %v; want now", last, err)
		}
		now := last.Truncate(time.Second)
		tick := now.Add(time.Second)
		id, first, err := e.StartTick(ctx, wf, event(`{"name": "t"}`), "every 1s", tick)
		if err != nil || !first || id == "" {
			t.Fatalf("first start: %q %v %v", id, first, err)
		}
		again, first, err := e.StartTick(ctx, wf, event(`{"name": "t"}`), "every 1s", tick)
		if err != nil || first || again != id {
			t.Errorf("repeated start: %q %v %v, want %q", again, first, err, id)
		}
		skipped, first, err := e.StartTick(ctx, wf, event(`{"name": "t"}`), "every 1s", now)
		if err != nil || first || skipped != "" {
			t.Errorf("an earlier tick: %q %v %v, want skipped", skipped, first, err)
		}
		if last, err := e.LastTick(ctx, wf, "every 1s"); err != nil || !last.Equal(tick) {
			t.Errorf("last tick %v, %v; want %v", last, err, tick)
		}
		_, _, err = e.StartTick(ctx, wf, event(`{"name": "t"}`), "every 1s", now.Add(time.Hour))
		if err == nil || !strings.Contains(err.Error(), "ahead") {
			t.Errorf("a tick an hour ahead: %v", err)
		}
		if r := waitRun(t, e, id); r.Status != "succeeded" {
			t.Errorf("the tick's run: %+v", r)
		}
	})
}
