package triggers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hookflow/hookflow/internal/testutil"
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

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// The scheduler's tests run in a synctest bubble, on memTicks: the seconds they wait
// for ticks pass at once (testutil.Eventually's too, on the bubble's clock). The
// bubble's clock starts at midnight, on a tick of every schedule here.

// TestScheduleFiresOncePerTick: two processes serving the same schedule start one run
// per tick between them.
func TestScheduleFiresOncePerTick(t *testing.T) {
	set, diags := loadHooks("tick.hcl", tickSrc)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	synctest.Test(t, func(t *testing.T) {
		ticks := newMemTicks()
		runs := together(t, set, ticks, NewScheduler(ticks, quietLog), NewScheduler(ticks, quietLog))
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
// starts one run, for the latest, marked as a catch-up, and logs "schedule fired" at
// INFO with its scheduled_at and catch_up; a new schedule catches up on nothing.
func TestScheduleCatchesUpOnce(t *testing.T) {
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
	synctest.Test(t, func(t *testing.T) {
		time.Sleep(7 * time.Minute) // between two ticks, as a process starts
		ticks := newMemTicks()
		sch := set.Workflow("missed").Triggers[0].Config.(*Schedule)
		// The schedule last fired two hours ago, then no process ran it.
		twoHoursAgo := time.Now().Add(-2 * time.Hour).Truncate(10 * time.Minute)
		old := &Scheduler{ticks: ticks, log: quietLog, now: func() time.Time { return twoHoursAgo }}
		if err := old.fire(set.Workflow("missed"), sch, twoHoursAgo, false); err != nil {
			t.Fatal(err)
		}
		var logs testutil.LogBuffer
		s := NewScheduler(ticks, slog.New(slog.NewJSONHandler(&logs, nil)))
		s.Use(set)
		testutil.Eventually(t, 10*time.Second, "the catch-up run", func() bool { return len(ticks.scheduled("missed")) > 1 })
		time.Sleep(200 * time.Millisecond) // time for a second run, were there one
		s.Use(set)                         // a reload reads the tick back: no run again
		time.Sleep(200 * time.Millisecond)
		s.Stop()

		runs := ticks.scheduled("missed")
		want := time.Now().Truncate(10 * time.Minute).UTC().Format(time.RFC3339)
		if len(runs) != 2 || len(runs[want]) != 1 || !runs[want][0] {
			t.Errorf("runs %v, want the one two hours ago and one catch-up run for %s", runs, want)
		}
		if fresh := ticks.scheduled("fresh"); len(fresh) != 0 {
			t.Errorf("a new schedule caught up: %v", fresh)
		}
		fired := logs.Lines(`"msg":"schedule fired"`)
		if len(fired) != 1 {
			t.Fatalf("%d lines say the schedule fired, want the catch-up's:\n%s", len(fired), logs.String())
		}
		var line map[string]any
		if err := json.Unmarshal([]byte(fired[0]), &line); err != nil {
			t.Fatal(err)
		}
		if line["level"] != "INFO" || line["workflow"] != "missed" || line["scheduled_at"] != want ||
			line["catch_up"] != true || line["run"] == "" || line["run"] == nil {
			t.Errorf("schedule fired: %s", fired[0])
		}
	})
}

// backSets are workflow "back" with a schedule every 10m, with one every 7m, and
// with no schedule.
func backSets(t *testing.T) (every10m, every7m, unscheduled *workflows.Set) {
	t.Helper()
	load := func(trigger string) *workflows.Set {
		set, diags := loadHooks("back.hcl", "workflow \"back\" {\n"+trigger+"\n}\n")
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		return set
	}
	return load(`trigger "schedule" { every = "10m" }`), load(`trigger "schedule" { every = "7m" }`),
		load(`trigger "webhook" { path = "/back" }`)
}

// TestScheduleAddedBackCatchesUpOnNothing: a schedule a reload adds back (its file
// put back, its spec changed back) is new to the files in use: it fires first at its
// next tick, though Redis remembers a last tick of it from before.
func TestScheduleAddedBackCatchesUpOnNothing(t *testing.T) {
	set, other, _ := backSets(t)
	synctest.Test(t, func(t *testing.T) {
		time.Sleep(7 * time.Minute)
		ticks := newMemTicks()
		sch := set.Workflow("back").Triggers[0].Config.(*Schedule)
		twoHoursAgo := time.Now().Add(-2 * time.Hour).Truncate(10 * time.Minute)
		old := &Scheduler{ticks: ticks, log: quietLog, now: func() time.Time { return twoHoursAgo }}
		if err := old.fire(set.Workflow("back"), sch, twoHoursAgo, false); err != nil {
			t.Fatal(err)
		}
		s := NewScheduler(ticks, quietLog)
		s.Use(other) // the 7m spec in use: the 10m one is not
		time.Sleep(time.Second)
		s.Use(set) // changed back to 10m
		time.Sleep(time.Second)
		// A process that starts now, with the files as they are, agrees.
		started := NewScheduler(ticks, quietLog)
		started.Use(set)
		time.Sleep(time.Second)
		if runs := ticks.scheduled("back"); len(runs) != 1 {
			t.Errorf("runs %v: the spec changed back caught up on the ticks it missed", runs)
		}
		time.Sleep(3 * time.Minute) // past its next tick
		s.Stop()
		started.Stop()
		want := time.Now().Truncate(10 * time.Minute).UTC().Format(time.RFC3339)
		if runs := ticks.scheduled("back"); len(runs) != 2 || len(runs[want]) != 1 || runs[want][0] {
			t.Errorf("runs %v, want the one two hours ago and %s, not a catch-up", runs, want)
		}
	})
}

// TestScheduleChangedBackWhileDownCatchesUpOnNothing: a spec changed, then changed
// back, while no process ran it catches up on nothing when a process starts with it,
// though Redis remembers a last tick of it; a spec left as it was catches up on the
// tick it missed, as after any downtime.
func TestScheduleChangedBackWhileDownCatchesUpOnNothing(t *testing.T) {
	set, other, unscheduled := backSets(t)
	synctest.Test(t, func(t *testing.T) {
		ticks := newMemTicks()
		runFor := func(set *workflows.Set, d time.Duration) {
			s := NewScheduler(ticks, quietLog)
			s.Use(set)
			time.Sleep(d)
			s.Stop()
		}
		runFor(set, 11*time.Minute) // fires one tick
		time.Sleep(2 * time.Hour)
		runFor(set, time.Second) // back with the same spec: one catch-up
		catchUps := func() (n int) {
			for _, late := range ticks.scheduled("back") {
				for _, l := range late {
					if l {
						n++
					}
				}
			}
			return n
		}
		if runs := ticks.scheduled("back"); len(runs) != 2 || catchUps() != 1 {
			t.Fatalf("runs %v, want one tick and one catch-up after the downtime", runs)
		}
		runFor(other, time.Second) // the spec changed: a process ran it
		time.Sleep(2 * time.Hour)
		runFor(set, time.Second) // changed back while down
		if runs := ticks.scheduled("back"); len(runs) != 2 {
			t.Errorf("runs %v: the spec changed back while down caught up on the ticks it missed", runs)
		}
		runFor(set, 10*time.Minute) // its next tick fires, not as a catch-up
		if runs := ticks.scheduled("back"); len(runs) != 3 || catchUps() != 1 {
			t.Errorf("runs %v, want its next tick, not a catch-up", runs)
		}
		// The schedule taken out by a reload, then put back while down.
		s := NewScheduler(ticks, quietLog)
		s.Use(set)
		time.Sleep(time.Second)
		s.Use(unscheduled)
		time.Sleep(time.Second)
		s.Stop()
		time.Sleep(2 * time.Hour)
		runFor(set, time.Second)
		if runs := ticks.scheduled("back"); len(runs) != 3 {
			t.Errorf("runs %v: the schedule taken out by a reload and put back while down caught up", runs)
		}
		// The same, its file read without it by a process that started.
		runFor(unscheduled, time.Second)
		time.Sleep(2 * time.Hour)
		runFor(set, time.Second)
		if runs := ticks.scheduled("back"); len(runs) != 3 {
			t.Errorf("runs %v: the schedule left out at a start and put back while down caught up", runs)
		}
	})
}

// noneDown is memTicks whose record of no schedule in use cannot be written until up.
type noneDown struct {
	*memTicks
	up time.Time
}

func (d noneDown) UseSchedules(ctx context.Context, wf *workflows.Workflow, schedules []string) (map[string]bool, bool, error) {
	if len(schedules) == 0 && time.Now().Before(d.up) {
		return nil, false, errors.New("redis: connection refused")
	}
	return d.memTicks.UseSchedules(ctx, wf, schedules)
}

// TestScheduleNoneRecordedAcrossReloads: a reload that takes a workflow's schedule out
// records that none is in use even when Redis comes back only after another reload:
// put back while no process runs, the schedule catches up on nothing.
func TestScheduleNoneRecordedAcrossReloads(t *testing.T) {
	set, _, unscheduled := backSets(t)
	synctest.Test(t, func(t *testing.T) {
		mem := newMemTicks()
		ticks := noneDown{mem, time.Now().Add(30 * time.Minute)}
		s := NewScheduler(ticks, quietLog)
		s.Use(set)
		time.Sleep(11 * time.Minute) // fires one tick, its spec recorded
		s.Use(unscheduled)           // Redis cannot take the record of none
		time.Sleep(time.Minute)
		s.Use(unscheduled) // another reload, Redis still down
		time.Sleep(40 * time.Minute)
		s.Stop()
		time.Sleep(2 * time.Hour)
		back := NewScheduler(mem, quietLog)
		back.Use(set)
		time.Sleep(time.Second)
		back.Stop()
		if runs := mem.scheduled("back"); len(runs) != 1 {
			t.Errorf("runs %v: the schedule put back while down caught up", runs)
		}
	})
}

// TestScheduleWithWrongClocks: a process whose clock is behind fires no tick twice,
// and one whose clock is ahead is refused its ticks rather than take them early.
func TestScheduleWithWrongClocks(t *testing.T) {
	set, diags := loadHooks("tick.hcl", tickSrc)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	synctest.Test(t, func(t *testing.T) {
		ticks := newMemTicks()
		wf := set.Workflow("tick")
		sch := wf.Triggers[0].Config.(*Schedule)
		ahead := &Scheduler{ticks: ticks, log: quietLog, now: func() time.Time { return time.Now().Add(24 * time.Hour) }}
		if err := ahead.fire(wf, sch, time.Now().Add(24*time.Hour).Truncate(time.Second), false); err == nil || !strings.Contains(err.Error(), "ahead") {
			t.Errorf("a tick a day ahead: %v, want it refused", err)
		}
		right, behind := NewScheduler(ticks, quietLog), NewScheduler(ticks, quietLog)
		behind.now = func() time.Time { return time.Now().Add(-90 * time.Second) }
		together(t, set, ticks, right, behind)
	})
}

// together runs schedulers on set for 3.5s, checks that its every-second schedule
// fired at least 3 ticks and each once, and returns the runs by tick.
func together(t *testing.T, set *workflows.Set, ticks *memTicks, schedulers ...*Scheduler) map[string][]bool {
	t.Helper()
	for _, s := range schedulers {
		s.Use(set)
	}
	time.Sleep(3500 * time.Millisecond)
	for _, s := range schedulers {
		s.Stop()
	}
	runs := ticks.scheduled("tick")
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

// downTicks is memTicks with a Redis that cannot be reached until up.
type downTicks struct {
	*memTicks
	up time.Time
}

func (d downTicks) StartTick(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event, schedule string, tick time.Time) (string, bool, error) {
	if time.Now().Before(d.up) {
		return "", false, errors.New("redis: connection refused")
	}
	return d.memTicks.StartTick(ctx, wf, ev, schedule, tick)
}

// TestScheduleAfterAnOutage: ticks that cannot start while Redis cannot be reached are
// tried again with backoff, and at the next tick at the latest, which fires instead
// once Redis is back: a long outage's backoff does not hold the schedule back past it.
func TestScheduleAfterAnOutage(t *testing.T) {
	src := `
workflow "tick" {
  trigger "schedule" {
    every = "3s"
  }
}
`
	set, diags := loadHooks("tick.hcl", src)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	synctest.Test(t, func(t *testing.T) {
		ticks := newMemTicks()
		up := time.Now().Add(40 * time.Second)
		s := NewScheduler(downTicks{ticks, up}, quietLog)
		s.Use(set)
		time.Sleep(40*time.Second + 3500*time.Millisecond) // back at 40s; the next tick is at 42s
		s.Stop()
		runs := ticks.scheduled("tick")
		want := up.Add(2 * time.Second).UTC().Format(time.RFC3339)
		if len(runs) != 1 || len(runs[want]) != 1 {
			t.Errorf("runs %v, want one, for the first tick after Redis came back (%s)", runs, want)
		}
	})
}

// busyTicks is memTicks refusing starts, as the engine does past --max-queued, until up.
type busyTicks struct {
	*memTicks
	up time.Time
}

func (b busyTicks) StartTick(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event, schedule string, tick time.Time) (string, bool, error) {
	if time.Now().Before(b.up) {
		return "", false, busyErr{}
	}
	return b.memTicks.StartTick(ctx, wf, ev, schedule, tick)
}

// TestScheduleTickRefusedIsTriedAgain: a tick whose start is refused (too many runs
// waiting) is tried again with backoff, and starts its run once the starts are taken
// again, before the next tick; the log says so.
func TestScheduleTickRefusedIsTriedAgain(t *testing.T) {
	set, diags := loadHooks("hourly.hcl", `
workflow "hourly" {
  trigger "schedule" {
    every = "1h"
  }
}
`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	synctest.Test(t, func(t *testing.T) {
		var logged strings.Builder
		ticks := newMemTicks()
		tick := time.Now().Truncate(time.Hour).Add(time.Hour)
		s := NewScheduler(busyTicks{ticks, tick.Add(10 * time.Second)}, slog.New(slog.NewTextHandler(&logged, nil)))
		s.Use(set)
		time.Sleep(time.Until(tick.Add(20 * time.Second)))
		s.Stop()
		runs := ticks.scheduled("hourly")
		if at := tick.UTC().Format(time.RFC3339); len(runs) != 1 || len(runs[at]) != 1 {
			t.Errorf("runs %v, want one for the tick at %s, started once the starts were taken again", runs, at)
		}
		if want := "schedule: cannot start its run; trying the tick again with backoff, or the next tick instead if it comes first"; !strings.Contains(logged.String(), want) {
			t.Errorf("log %s, want %q", logged.String(), want)
		}
	})
}

// TestScheduleAcrossAQuarterToChange: a schedule at 03:00 in Pacific/Chatham, whose
// clocks go back from 03:45 to 02:45, fires on the day clocks change, at the first
// 03:00, and on the days after; it stops when asked.
func TestScheduleAcrossAQuarterToChange(t *testing.T) {
	set, diags := loadHooks("chat.hcl", "workflow \"chat\" {\n  trigger \"schedule\" {\n    cron = \"0 3 * * *\"\n"+
		"    timezone = \"Pacific/Chatham\"\n  }\n}\n")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	done := make(chan map[string][]bool, 1)
	go synctest.Test(t, func(t *testing.T) {
		// The bubble's clock, moved to noon on 3 April 2027 in Chatham.
		shift := time.Date(2027, 4, 2, 22, 15, 0, 0, time.UTC).Sub(time.Now())
		ticks := newMemTicks()
		s := NewScheduler(laterTicks{ticks, shift}, quietLog)
		s.now = func() time.Time { return time.Now().Add(shift) }
		s.Use(set)
		time.Sleep(3 * 24 * time.Hour)
		s.Stop()
		done <- ticks.scheduled("chat")
	})
	select {
	case runs := <-done:
		want := map[string][]bool{"2027-04-04T03:00:00+13:45": {false}, "2027-04-05T03:00:00+12:45": {false},
			"2027-04-06T03:00:00+12:45": {false}}
		if fmt.Sprint(runs) != fmt.Sprint(want) {
			t.Errorf("runs %v, want %v", runs, want)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the scheduler did not stop within 20s")
	}
}

// laterTicks is memTicks on a clock shift later than the bubble's.
type laterTicks struct {
	*memTicks
	shift time.Duration
}

func (l laterTicks) LastTick(ctx context.Context, wf *workflows.Workflow, schedule string) (time.Time, error) {
	last, err := l.memTicks.LastTick(ctx, wf, schedule)
	return last.Add(l.shift), err
}

func (l laterTicks) StartTick(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event, schedule string, tick time.Time) (string, bool, error) {
	return l.memTicks.StartTick(ctx, wf, ev, schedule, tick.Add(-l.shift))
}

func (l laterTicks) ClaimTick(ctx context.Context, wf *workflows.Workflow, schedule string, tick time.Time) (bool, error) {
	return l.memTicks.ClaimTick(ctx, wf, schedule, tick.Add(-l.shift))
}

// TestScheduleTimezoneOfEveryChanged: an interval whose timezone changed while no
// process ran it is a new schedule, as a changed cron or every is: it catches up on
// nothing; with the same timezone it catches up once. Its ticks, the same instants in
// any zone, keep their name in Redis: processes with either timezone start one run a
// tick between them.
func TestScheduleTimezoneOfEveryChanged(t *testing.T) {
	load := func(zone string) *workflows.Set {
		set, diags := loadHooks("tz.hcl", "workflow \"tz\" {\n  trigger \"schedule\" {\n    every = \"10m\"\n    timezone = \""+zone+"\"\n  }\n}\n")
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		return set
	}
	paris, tokyo := load("Europe/Paris"), load("Asia/Tokyo")
	synctest.Test(t, func(t *testing.T) {
		ticks := newMemTicks()
		runFor := func(set *workflows.Set, d time.Duration) {
			s := NewScheduler(ticks, quietLog)
			s.Use(set)
			time.Sleep(d)
			s.Stop()
		}
		runFor(paris, 11*time.Minute) // fires one tick
		time.Sleep(2 * time.Hour)
		runFor(paris, time.Second) // back with the same timezone: one catch-up
		if runs := ticks.scheduled("tz"); len(runs) != 2 {
			t.Fatalf("runs %v, want one tick and one catch-up after the downtime", runs)
		}
		time.Sleep(2 * time.Hour)
		runFor(tokyo, time.Second) // the timezone changed while down
		if runs := ticks.scheduled("tz"); len(runs) != 2 {
			t.Errorf("runs %v: the schedule whose timezone changed caught up on the ticks it missed", runs)
		}
		// Both timezones served at once: one run a tick.
		a, b := NewScheduler(ticks, quietLog), NewScheduler(ticks, quietLog)
		a.Use(paris)
		b.Use(tokyo)
		time.Sleep(30 * time.Minute)
		a.Stop()
		b.Stop()
		if runs := ticks.scheduled("tz"); len(runs) != 5 {
			t.Errorf("runs %v, want three more, one a tick", runs)
		}
	})
}
