package triggers

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

func TestScheduleDue(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	every10m, _ := loadSchedule(t, `every = "10m"`)
	everySecond, _ := loadSchedule(t, `every = "1s"`)
	hourlyParis, _ := loadSchedule(t, "cron = \"0 * * * *\"\ntimezone = \"Europe/Paris\"")
	monthly, _ := loadSchedule(t, `cron = "0 0 1 * *"`)
	tests := []struct {
		name      string
		s         *Schedule
		last, now string
		want      string // "" for no tick due
		late      bool
	}{
		{"before the next tick", every10m, "2026-11-22T12:00:00Z", "2026-11-22T12:09:59Z", "", false},
		{"on time", every10m, "2026-11-22T12:00:00Z", "2026-11-22T12:10:00Z", "2026-11-22T12:10:00Z", false},
		{"a little late", every10m, "2026-11-22T12:00:00Z", "2026-11-22T12:10:20Z", "2026-11-22T12:10:00Z", false},
		{"late", every10m, "2026-11-22T12:00:00Z", "2026-11-22T12:10:45Z", "2026-11-22T12:10:00Z", true},
		{"missed ticks: the latest only", every10m, "2026-11-22T12:00:00Z", "2026-11-22T15:07:00Z", "2026-11-22T15:00:00Z", true},
		{"a week of seconds", everySecond, "2026-11-15T12:00:00Z", "2026-11-22T12:00:00.5Z", "2026-11-22T12:00:00Z", true},
		{"hourly in Paris", hourlyParis, "2026-11-21T09:00:00Z", "2026-11-22T10:30:00Z", "2026-11-22T10:00:00Z", true},
		{"monthly", monthly, "2026-08-01T00:00:00Z", "2026-11-22T10:30:00Z", "2026-11-01T00:00:00Z", true},
		{"a tick never fires twice", every10m, "2026-11-22T12:10:00Z", "2026-11-22T12:10:00Z", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tick, late := tt.s.Due(at(tt.last), at(tt.now))
			want := time.Time{}
			if tt.want != "" {
				want = at(tt.want)
			}
			if !tick.Equal(want) || late != tt.late {
				t.Errorf("Due = %v, late %v; want %v, late %v", tick.UTC(), late, want, tt.late)
			}
		})
	}
}

const tickSrc = `
workflow "tick" {
  trigger "schedule" {
    every = "1s"
  }
}
`

// scheduled lists the runs of a workflow by the tick they were started for.
func scheduled(t *testing.T, e *engine.Engine, workflow string) map[string][]bool {
	t.Helper()
	page, err := e.Runs(context.Background(), engine.RunFilter{Workflow: workflow, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]bool{}
	for _, r := range page.Runs {
		run, err := e.Run(context.Background(), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		body := run.Event.Body.(map[string]any)
		at := body["scheduled_at"].(string)
		out[at] = append(out[at], body["catch_up"].(bool))
	}
	return out
}

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

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestScheduleFiresOncePerTick: two processes (engines on their own connections)
// serving the same schedule start one run per tick between them.
func TestScheduleFiresOncePerTick(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		set, diags := loadHooks("tick.hcl", tickSrc)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		e1, e2 := newEngine(t, b), newEngine(t, b)
		runs := together(t, set, e1, NewScheduler(e1, quietLog), NewScheduler(e2, quietLog))
		if len(runs) > 4 {
			t.Errorf("%d ticks fired in 3.5s, want 3 or 4: %v", len(runs), runs)
		}
		for at, fired := range runs {
			if fired[0] {
				t.Errorf("tick %s fired as a catch-up", at)
			}
		}
	})
}

// TestScheduleCatchesUpOnce: a schedule that missed ticks while no process ran it
// starts one run, for the latest, marked as a catch-up; a new schedule catches up on
// nothing.
func TestScheduleCatchesUpOnce(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		src := `
workflow "missed" {
  trigger "schedule" {
    every = "10m"
  }
}
workflow "fresh" {
  trigger "schedule" {
    every = "10m"
  }
}
`
		set, diags := loadHooks("missed.hcl", src)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		e := newEngine(t, b)
		sch := set.Workflow("missed").Triggers[0].Config.(*Schedule)
		// The schedule last fired two hours ago, then no process ran it.
		twoHoursAgo := time.Now().Add(-2 * time.Hour).Truncate(10 * time.Minute)
		old := &Scheduler{ticks: e, log: quietLog, now: func() time.Time { return twoHoursAgo }}
		if err := old.fire(set.Workflow("missed"), sch, twoHoursAgo, false); err != nil {
			t.Fatal(err)
		}
		s := NewScheduler(e, quietLog)
		s.Use(set)
		waitFor(t, func() bool { return len(scheduled(t, e, "missed")) > 1 })
		time.Sleep(200 * time.Millisecond) // time for a second run, were there one
		s.Use(set)                         // a reload reads the tick back: no run again
		time.Sleep(200 * time.Millisecond)
		s.Stop()

		runs := scheduled(t, e, "missed")
		want := time.Now().Truncate(10 * time.Minute).UTC().Format(time.RFC3339)
		if len(runs) != 2 || len(runs[want]) != 1 || !runs[want][0] {
			t.Errorf("runs %v, want the one two hours ago and one catch-up run for %s", runs, want)
		}
		if fresh := scheduled(t, e, "fresh"); len(fresh) != 0 {
			t.Errorf("a new schedule caught up: %v", fresh)
		}
	})
}

// TestScheduleWithWrongClocks: a process whose clock is behind fires no tick twice,
// and one whose clock is ahead is refused its ticks rather than take them early.
func TestScheduleWithWrongClocks(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		set, diags := loadHooks("tick.hcl", tickSrc)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		e1, e2, e3 := newEngine(t, b), newEngine(t, b), newEngine(t, b)
		wf := set.Workflow("tick")
		sch := wf.Triggers[0].Config.(*Schedule)
		ahead := &Scheduler{ticks: e3, log: quietLog, now: func() time.Time { return time.Now().Add(24 * time.Hour) }}
		if err := ahead.fire(wf, sch, time.Now().Add(24*time.Hour).Truncate(time.Second), false); err == nil || !strings.Contains(err.Error(), "ahead") {
			t.Errorf("a tick a day ahead: %v, want it refused", err)
		}
		right, behind := NewScheduler(e1, quietLog), NewScheduler(e2, quietLog)
		behind.now = func() time.Time { return time.Now().Add(-90 * time.Second) }
		together(t, set, e1, right, behind)
	})
}

// together runs schedulers on set for 3.5s, checks that its every-second schedule
// fired at least 3 ticks and each once, and returns the runs by tick.
func together(t *testing.T, set *workflows.Set, e *engine.Engine, schedulers ...*Scheduler) map[string][]bool {
	t.Helper()
	for _, s := range schedulers {
		s.Use(set)
	}
	time.Sleep(3500 * time.Millisecond)
	for _, s := range schedulers {
		s.Stop()
	}
	runs := scheduled(t, e, "tick")
	if len(runs) < 3 {
		t.Errorf("%d ticks fired in 3.5s: %v", len(runs), runs)
	}
	for at, fired := range runs {
		if len(fired) != 1 {
			t.Errorf("tick %s started %d runs", at, len(fired))
		}
	}
	return runs
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var _ Ticks = (*engine.Engine)(nil)
