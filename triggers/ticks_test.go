package triggers

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/id"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

// memTicks keeps the ticks of schedules in memory, as the engine keeps them in Redis,
// with time.Now for Redis's clock: the scheduler's tests run on it in a synctest
// bubble, where time passes at once. One memTicks shared by schedulers is one Redis
// shared by processes. TestTicksContract checks it and the engine alike.
type memTicks struct {
	mu     sync.Mutex
	last   map[string]int64              // by workflow and schedule: the last tick (ms)
	tick   map[string]string             // by workflow and schedule: "<ms> <run>" of the last started
	events map[string][]*workflows.Event // by workflow: the events of the runs started
	inUse  map[string][]string           // by workflow: its specs in use, as last recorded
}

func newMemTicks() *memTicks {
	return &memTicks{last: map[string]int64{}, tick: map[string]string{}, events: map[string][]*workflows.Event{},
		inUse: map[string][]string{}}
}

func (m *memTicks) UseSchedules(_ context.Context, wf *workflows.Workflow, schedules []string) (map[string]bool, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	was, known := m.inUse[wf.Name]
	if !known && len(schedules) == 0 {
		return nil, false, nil // no record made for a workflow that never had one
	}
	m.inUse[wf.Name] = slices.Clone(schedules)
	if !known {
		return nil, false, nil
	}
	notInUse := map[string]bool{}
	for _, s := range schedules {
		if !slices.Contains(was, s) {
			notInUse[s] = true
		}
	}
	return notInUse, true, nil
}

func (m *memTicks) LastTick(_ context.Context, wf *workflows.Workflow, schedule string) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := wf.Name + " " + schedule
	if _, ok := m.last[key]; !ok {
		m.last[key] = time.Now().UnixMilli()
	}
	return time.UnixMilli(m.last[key]), nil
}

func (m *memTicks) StartTick(_ context.Context, wf *workflows.Workflow, ev *workflows.Event, schedule string, tick time.Time) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key, ms, now := wf.Name+" "+schedule, tick.UnixMilli(), time.Now().UnixMilli()
	if ms > now+time.Minute.Milliseconds() {
		return "", false, fmt.Errorf("the tick %d is more than a minute past the clock (%d): this clock is ahead", ms, now)
	}
	if at, run, ok := strings.Cut(m.tick[key], " "); ok && at == fmt.Sprint(ms) {
		return run, false, nil
	}
	if last, ok := m.last[key]; ok && last >= ms && last <= now+time.Minute.Milliseconds() {
		return "", false, nil // a later tick started already
	}
	run := id.New()
	m.last[key], m.tick[key] = ms, fmt.Sprintf("%d %s", ms, run)
	m.events[wf.Name] = append(m.events[wf.Name], ev)
	return run, true, nil
}

func (m *memTicks) ClaimTick(_ context.Context, wf *workflows.Workflow, schedule string, tick time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key, ms := wf.Name+" "+schedule, tick.UnixMilli()
	if last, ok := m.last[key]; ok && last >= ms {
		return false, nil
	}
	m.last[key] = ms
	return true, nil
}

// scheduled lists the runs started for a workflow by the tick they were started for:
// whether each was a catch-up.
func (m *memTicks) scheduled(workflow string) map[string][]bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][]bool{}
	for _, ev := range m.events[workflow] {
		body := ev.Body.(map[string]any)
		at := body["scheduled_at"].(string)
		out[at] = append(out[at], body["catch_up"].(bool))
	}
	return out
}

// TestTicksContract: what a Scheduler relies on of Ticks holds of the engine, on both
// Redis backends, and of memTicks, which the scheduler's tests run on. open gives one
// more process on the same store.
func TestTicksContract(t *testing.T) {
	set, diags := loadHooks("tick.hcl", tickSrc)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	wf := set.Workflow("tick")
	t.Run("memTicks", func(t *testing.T) {
		m := newMemTicks()
		ticksContract(t, wf, func() Ticks { return m })
	})
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ticksContract(t, wf, func() Ticks { return newEngine(t, b) })
	})
}

func ticksContract(t *testing.T, wf *workflows.Workflow, open func() Ticks) {
	ctx := context.Background()
	one, two := open(), open()
	ev := func() *workflows.Event {
		body := map[string]any{"scheduled_at": "t", "catch_up": false}
		return &workflows.Event{ID: id.New(), Trigger: "schedule", ReceivedAt: time.Now(), ContentType: "application/json",
			Raw: `{"scheduled_at": "t", "catch_up": false}`, Body: body}
	}
	last, err := one.LastTick(ctx, wf, "every 1s")
	if err != nil || time.Since(last).Abs() > 5*time.Second {
		t.Fatalf("a new schedule's last tick: %v, %v; want now", last, err)
	}
	if again, err := two.LastTick(ctx, wf, "every 1s"); err != nil || !again.Equal(last) {
		t.Errorf("another process reads the last tick %v, %v; want %v", again, err, last)
	}
	now := last.Truncate(time.Second)
	tick := now.Add(time.Second)
	run, first, err := one.StartTick(ctx, wf, ev(), "every 1s", tick)
	if err != nil || !first || run == "" {
		t.Fatalf("first start: %q %v %v", run, first, err)
	}
	for name, ticks := range map[string]Ticks{"the same process": one, "another process": two} {
		if again, first, err := ticks.StartTick(ctx, wf, ev(), "every 1s", tick); err != nil || first || again != run {
			t.Errorf("the tick started again by %s: %q %v %v, want %q", name, again, first, err, run)
		}
	}
	if skipped, first, err := two.StartTick(ctx, wf, ev(), "every 1s", now); err != nil || first || skipped != "" {
		t.Errorf("an earlier tick: %q %v %v, want skipped", skipped, first, err)
	}
	if got, err := two.LastTick(ctx, wf, "every 1s"); err != nil || !got.Equal(tick) {
		t.Errorf("last tick %v, %v; want %v", got, err, tick)
	}
	if _, _, err := one.StartTick(ctx, wf, ev(), "every 1s", now.Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "ahead") {
		t.Errorf("a tick an hour ahead: %v", err)
	}
	if next, first, err := two.StartTick(ctx, wf, ev(), "every 1s", tick.Add(time.Second)); err != nil || !first || next == "" || next == run {
		t.Errorf("the next tick: %q %v %v, want a new run", next, first, err)
	}
	// A schedule is known by its workflow and its spec.
	if other, err := one.LastTick(ctx, wf, "every 2s"); err != nil || other.Before(last) {
		t.Errorf("another schedule's last tick: %v, %v; want now", other, err)
	}
	// The specs in use, as any process last recorded them. None in use makes no record
	// where there was none.
	if notInUse, known, err := one.UseSchedules(ctx, wf, nil); err != nil || known || len(notInUse) != 0 {
		t.Errorf("no specs in use, none recorded: %v %v %v, want none known", notInUse, known, err)
	}
	if notInUse, known, err := one.UseSchedules(ctx, wf, []string{"every 1s"}); err != nil || known || len(notInUse) != 0 {
		t.Errorf("the first record of the specs in use: %v %v %v, want none known", notInUse, known, err)
	}
	both := []string{"every 1s", "every 2s"}
	if notInUse, known, err := two.UseSchedules(ctx, wf, both); err != nil || !known ||
		!maps.Equal(notInUse, map[string]bool{"every 2s": true}) {
		t.Errorf("another process's record: %v %v %v, want every 2s not in use before", notInUse, known, err)
	}
	if notInUse, known, err := one.UseSchedules(ctx, wf, both); err != nil || !known || len(notInUse) != 0 {
		t.Errorf("the same specs recorded again: %v %v %v, want all in use before", notInUse, known, err)
	}
	if _, known, err := two.UseSchedules(ctx, wf, nil); err != nil || !known {
		t.Errorf("none in use, recorded over the specs: %v %v, want them known", known, err)
	}
	if notInUse, known, err := one.UseSchedules(ctx, wf, both); err != nil || !known || len(notInUse) != 2 {
		t.Errorf("the specs back after none: %v %v %v, want both not in use before", notInUse, known, err)
	}
}

// newEngine is an engine on b with a connection of its own, as another process has.
func newEngine(t *testing.T, b *redistest.Backend) *engine.Engine {
	t.Helper()
	opts, err := redis.ParseURL(b.URL)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	return engine.New(client, engine.Options{Logger: quietLog})
}

var (
	_ Ticks = (*engine.Engine)(nil)
	_ Ticks = (*memTicks)(nil)
)
