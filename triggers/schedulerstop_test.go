package triggers

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

// ctxTicks is memTicks failing once its caller's context is done, as Redis's client
// does.
type ctxTicks struct{ *memTicks }

func (c ctxTicks) UseSchedules(ctx context.Context, wf *workflows.Workflow, schedules []string) (map[string]bool, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	return c.memTicks.UseSchedules(ctx, wf, schedules)
}

func (c ctxTicks) LastTick(ctx context.Context, wf *workflows.Workflow, schedule string) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	return c.memTicks.LastTick(ctx, wf, schedule)
}

// A scheduler stopped while it reads or records its schedules (a serve stopped as it
// starts) stops quietly: the reads its stop cancelled did not fail, and are not tried
// again.
func TestASchedulerStoppedAsItStartsWarnsOfNothing(t *testing.T) {
	var logs testutil.LogBuffer
	s := NewScheduler(ctxTicks{newMemTicks()}, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	wf := &workflows.Workflow{Name: "w"}
	s.noneInUse(ctx, []*workflows.Workflow{wf})
	sch, _ := loadSchedule(t, `every = "10m"`)
	s.run(ctx, wf, sch, false, &specsInUse{specs: []string{sch.Key()}})
	if out := logs.String(); out != "" {
		t.Errorf("a stopped scheduler logged:\n%s", out)
	}
}
