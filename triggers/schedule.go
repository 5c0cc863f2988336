package triggers

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // time zones work on hosts without a zoneinfo database

	"github.com/hashicorp/hcl/v2"
	"github.com/robfig/cron/v3"

	"github.com/hookflow/hookflow/workflows"
)

// Schedule is a compiled trigger "schedule": a cron spec or an interval.
type Schedule struct {
	Cron     cron.Schedule // nil when Every is set
	Spec     string
	Every    time.Duration
	Location *time.Location
	// fixedHours: the spec names the hours it fires at (not * in the hour field), so
	// it fires once at a wall-clock time even when clocks go back and the time comes
	// twice.
	fixedHours bool
}

// Next returns the first time after t that the schedule fires, or the zero time when
// a cron spec has no date left. It is always after t.
func (s *Schedule) Next(t time.Time) time.Time {
	if s.Cron != nil {
		// At fixed hours, a time that comes twice when clocks go back fires the first
		// time only.
		return cronNext(s.Cron, s.Location, t, s.fixedHours)
	}
	// Ticks fall on multiples of the interval since the Unix epoch.
	every := s.Every.Milliseconds()
	return time.UnixMilli((t.UnixMilli()/every + 1) * every).In(t.Location())
}

// longestGap returns the longest time between two ticks of a cron schedule, over
// its ticks from a fixed time: a week and a day of them at least, so that a spec for
// weekdays has its weekend however often it ticks, or 1,000 when those cover more,
// up to two years (and at most gapTicks).
func (s *Schedule) longestGap() time.Duration {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, s.Location)
	var gap time.Duration
	for t, i := s.Next(from), 0; !t.IsZero() && (i < 1000 || t.Sub(from) < 8*24*time.Hour) && i < gapTicks &&
		t.Sub(from) < 2*366*24*time.Hour; i++ {
		n := s.Next(t)
		if !n.After(t) { // zero: no date left; and Next goes forward, but a loop never trusts it to
			break
		}
		gap, t = max(gap, n.Sub(t)), n
	}
	return gap
}

// gapTicks bounds the ticks longestGap looks at: a week and a day of a spec that ticks
// every minute is 11,520.
const gapTicks = 20000

// fixedHours reports whether a cron schedule fires at some hours of the day only, not
// every hour.
func fixedHours(sched cron.Schedule) bool {
	spec, ok := sched.(*cron.SpecSchedule)
	const allHours = 1<<24 - 1
	return ok && spec.Hour&allHours != allHours
}

// Key names the schedule's ticks in Redis: the last one started, and the run of each.
// It is what makes the ticks: a cron spec and its time zone, or an interval, whose
// ticks are the same instants in any zone (a timezone only gives scheduled_at its
// offset). Processes that serve the schedule with another timezone, as in a rolling
// deploy that changes it, start one run a tick between them.
func (s *Schedule) Key() string {
	if s.Cron == nil {
		return "every " + s.Every.String()
	}
	return "cron " + s.Spec + " " + s.Location.String()
}

// specKey names the schedule as its file gives it: cron or every, and timezone. A
// schedule whose specKey is not among those of its workflow in use before (on a
// reload, or in Redis's record at a start) is a new one, with no past to catch up on.
// An interval's names its zone when it has one other than UTC; without one it is
// its Key, as it was before intervals named their zone here.
func (s *Schedule) specKey() string {
	if s.Cron == nil && s.Location.String() != "UTC" {
		return s.Key() + " " + s.Location.String()
	}
	return s.Key()
}

// lateAfter is how long after its time a tick counts as a catch-up.
const lateAfter = 30 * time.Second

// Due returns the tick to fire at now, given the last one fired: the latest tick after
// last and not after now, or the zero time when the next tick is still to come. late
// says it is fired well after its time, or that earlier ticks were missed.
func (s *Schedule) Due(last, now time.Time) (tick time.Time, late bool) {
	first := s.Next(last)
	if first.IsZero() || first.After(now) { // zero: a cron spec with no date left
		return time.Time{}, false
	}
	tick = first
	// Start the search close to now, so that a schedule every second down for a week
	// does not walk through every second it missed.
	for _, back := range []time.Duration{time.Hour, 24 * time.Hour, 32 * 24 * time.Hour, 400 * 24 * time.Hour} {
		from := now.Add(-back)
		if !from.After(last) {
			break
		}
		if t := s.Next(from); !t.IsZero() && !t.After(now) {
			tick = t
			break
		}
	}
	// Each tick is after the one before (a zero one is not: no date left), so the walk
	// ends; it stops at a tick that would not move it on all the same.
	for t := s.Next(tick); t.After(tick) && !t.After(now); t = s.Next(t) {
		tick = t
	}
	return tick, !tick.Equal(first) || now.Sub(tick) > lateAfter
}

// unsupportedCron says which form of other crons (Quartz's, some Unix ones') a spec
// that does not parse uses, or "" when it uses none: the parser's own error reads
// `failed to parse int from L`, which does not say that L is not supported.
func unsupportedCron(spec string) string {
	fields := strings.Fields(spec)
	switch {
	case len(fields) == 6 || len(fields) == 7:
		return fmt.Sprintf("A spec of %d fields (with seconds, or a year) is not supported", len(fields))
	case len(fields) != 5:
		return ""
	}
	for _, f := range fields {
		for _, part := range strings.Split(f, ",") {
			switch {
			case strings.Contains(part, "#"):
				return fmt.Sprintf("%s: # (the nth weekday of the month) is not supported", part)
			case lastOrWeekday.MatchString(part):
				return fmt.Sprintf("%s: L (the last day) and W (the nearest weekday) are not supported", part)
			}
		}
	}
	return ""
}

// lastOrWeekday matches the L and W forms of a day field: L, LW, L-3, 5L, 15W.
var lastOrWeekday = regexp.MustCompile(`^(?i)(L|LW|L-\d+|\d+L|\d+W)$`)

// MinEvery is the shortest interval a schedule may have.
const MinEvery = time.Second

// scheduleKind's checks at load read the clock now: when a cron spec next fires, and
// which year's offsets a timezone has.
func scheduleKind(now func() time.Time) workflows.TriggerKind {
	return workflows.TriggerKind{
		Name:  "schedule",
		Attrs: []workflows.Attr{{Name: "cron"}, {Name: "every"}, {Name: "timezone"}},
		// A run's event is a tick of the schedule.
		EventAttrs: []string{"cron", "every", "timezone"},
		New: func(b *workflows.Block) (any, hcl.Diagnostics) {
			return newSchedule(b, now())
		},
	}
}

func newSchedule(b *workflows.Block, now time.Time) (*Schedule, hcl.Diagnostics) {
	s := &Schedule{}
	diags := b.OnlyOne("cron", "every")
	// A poll trigger reads its schedule from the same attributes.
	what, fires := "A schedule", "fires"
	if b.Kind == "poll" {
		what, fires = "A poll trigger", "polls"
	}
	if b.Attr("cron") == nil && b.Attr("every") == nil {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: what + " needs cron or every",
			Detail:  fmt.Sprintf(`Say when it %s: cron = "0 9 * * MON-FRI" (minute hour day month weekday) or every = "10m".`, fires),
			Subject: b.DefRange.Ptr()})
	}
	zone, d := b.ConstString("timezone", "UTC")
	diags = append(diags, d...)
	// Go loads "" as UTC and "Local" as the machine's zone: neither is a zone name.
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "Local" || zone == "" {
		diags = append(diags, b.Attr("timezone").Error(fmt.Sprintf("Unknown time zone %q", zone),
			`Use an IANA time zone name such as "Europe/Paris" or "America/New_York", or leave timezone out for UTC.`))
		loc = time.UTC
	}
	s.Location = loc
	if a := b.Attr("cron"); a != nil {
		spec, d := b.ConstString("cron", "")
		diags = append(diags, d...)
		s.Spec = spec
		switch sched, err := cron.ParseStandard(spec); {
		case d.HasErrors():
		case strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ="):
			diags = append(diags, a.Error("Time zone in the cron spec", `Set the time zone with timezone = "…", not in the spec.`))
		case strings.HasPrefix(spec, "@every"):
			diags = append(diags, a.Error("@every in a cron spec",
				fmt.Sprintf(`Write an interval as every = %q: its ticks fall on multiples of it since the Unix epoch, the same in every process.`,
					strings.TrimSpace(strings.TrimPrefix(spec, "@every")))))
		case err != nil:
			hint := ""
			if f := strings.Fields(spec); len(f) == 5 && slices.Contains(strings.FieldsFunc(f[4], func(r rune) bool { return r == ',' || r == '-' || r == '/' }), "7") {
				hint = " Sunday is 0 (or SUN), not 7."
			}
			why := err.Error()
			if u := unsupportedCron(spec); u != "" {
				why = u
			}
			diags = append(diags, a.Error(fmt.Sprintf("Invalid cron spec %q", spec),
				fmt.Sprintf("%s.%s A spec has five fields: minute hour day-of-month month day-of-week (0-6 or SUN-SAT), such as \"*/15 * * * *\"; or @hourly, @daily, @weekly, @monthly, @yearly.", why, hint)))
		case sched.Next(wallClock(now.In(loc))).IsZero(): // whether a date matches, on a clock with no changes
			diags = append(diags, a.Error(fmt.Sprintf("Cron spec %q never fires", spec), "No date matches it, such as the 30th of February."))
		default:
			s.Cron, s.fixedHours = sched, fixedHours(sched)
		}
	}
	if b.Attr("every") != nil {
		s.Every, d = b.Duration("every", 0)
		diags = append(diags, d...)
		if !d.HasErrors() && s.Every < MinEvery {
			diags = append(diags, b.Attr("every").Error("every is too short", what+" "+fires+" at most once a second."))
		}
		if tz := b.Attr("timezone"); tz != nil && !d.HasErrors() && s.Every > 0 {
			if shift := shiftedTicks(s.Every, loc, now); shift != "" {
				diags = append(diags, tz.Warning("timezone does not move the ticks of every",
					fmt.Sprintf("The ticks of every fall on multiples of it since the Unix epoch, whatever the time zone: with every = %q, %s. "+
						"timezone only gives event.body.scheduled_at its offset. For a time of day in the zone, write cron = \"0 9 * * *\" with the timezone.",
						workflows.FormatDuration(s.Every), shift)))
			}
		}
	}
	return s, diags
}

// shiftedTicks says where the ticks of every fall on the clock of loc when loc's
// offset from UTC, on 1 January or on 1 July of now's year, is not a multiple of
// every: the ticks are then elsewhere on loc's clock than on UTC's. It shows them on
// the first day of that month: "on 1 July, the day's first tick is at 00:00 on UTC's
// clock, and at 01:00 on Europe/London's" (an interval longer than a day: "the tick
// at 00:00 UTC on 3 January is at 01:00 in Europe/Paris"). It is "" when they fall
// alike, as those of every = "10m" do in any zone of whole hours.
func shiftedTicks(every time.Duration, loc *time.Location, now time.Time) string {
	for _, month := range []time.Month{time.January, time.July} {
		day := time.Date(now.Year(), month, 1, 0, 0, 0, 0, loc)
		if _, offset := day.Zone(); time.Duration(offset)*time.Second%every == 0 {
			continue
		}
		utcDay := time.Date(now.Year(), month, 1, 0, 0, 0, 0, time.UTC)
		if every > 24*time.Hour {
			tick := firstTick(every, utcDay)
			return fmt.Sprintf("the tick at %s UTC on %s is at %s in %s", clock(tick), tick.Format("2 January"), clock(tick.In(loc)), loc)
		}
		return fmt.Sprintf("on 1 %s, the day's first tick is at %s on UTC's clock, and at %s on %s's",
			month, clock(firstTick(every, utcDay)), clock(firstTick(every, day).In(loc)), loc)
	}
	return ""
}

// firstTick is the first tick of every at or after t.
func firstTick(every time.Duration, t time.Time) time.Time {
	n := t.UnixNano()
	return time.Unix(0, (n+int64(every)-1)/int64(every)*int64(every)).In(t.Location())
}

// clock is t's time of day, to the minute when its seconds are 0.
func clock(t time.Time) string {
	return strings.TrimSuffix(t.Format("15:04:05"), ":00")
}
