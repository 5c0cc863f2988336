package triggers

import (
	"time"

	"github.com/robfig/cron/v3"
)

// cronNext returns the first time after t at which the wall clock of loc shows a time
// sched matches, or the zero time when none comes within cronYears. With once, a
// wall-clock time that comes twice (clocks went back) matches the first time only.
//
// cron's own Next walks the fields of a date in loc with time.Date and Add, which
// across a change of the UTC offset lands elsewhere than it meant to: in a zone whose
// clocks move by half an hour it passed over the rest of the day, and in
// Pacific/Chatham, whose clocks go back from 03:45 to 02:45, it answered t itself or
// never returned. So it is asked only of wall-clock times, in UTC, where no offset
// changes: the search goes through the periods of loc in which the offset is the same
// (time.ZoneBounds), from t's. In each, the wall clock runs on without a jump, so the
// first time it matches there is cron's next wall-clock time after the period's first
// (or after t's, in t's period), taken at the period's offset, when that instant is
// still in the period. A time that does not exist (clocks went forward) is in no
// period and is skipped. Every step moves forward, to a later wall-clock time or a
// later period, and the steps are bounded: the answer is after t, and it comes.
func cronNext(sched cron.Schedule, loc *time.Location, t time.Time, once bool) time.Time {
	from := t.In(loc)
	wall := wallClock(from) // the answer's wall clock is after it
	limit := from.AddDate(cronYears, 0, 0)
	for range cronSteps {
		_, end := from.ZoneBounds() // zero: the offset does not change again
		w := sched.Next(wall)
		if w.IsZero() || !w.After(wall) {
			return time.Time{} // no date matches within cron's five years
		}
		at := w.Add(-offsetOf(from)).In(loc)
		switch {
		case !end.IsZero() && !at.Before(end):
			// The period ends before its wall clock shows w: go on from the next
			// period's first instant, which may match too.
			if end.After(limit) {
				return time.Time{}
			}
			from = end.In(loc)
			wall = wallClock(from).Add(-time.Nanosecond)
		case at.After(limit):
			return time.Time{}
		case once && cameBefore(at):
			wall = w // fired already, before clocks went back
		default:
			return at
		}
	}
	return time.Time{}
}

// cronYears bounds the search for a cron spec's next time, as cron's own does.
const cronYears = 5

// cronSteps bounds the steps of cronNext: a period of the zone each (a few a year), or a
// matching time that came before (at most those of a day, 1,440 for a spec at fixed
// hours with * minutes, for each change of a year). It is not reached.
const cronSteps = 100_000

// wallClock is t's date and time of day as a clock on the wall shows them, in UTC,
// where no offset changes.
func wallClock(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// offsetOf is t's offset from UTC in its location.
func offsetOf(t time.Time) time.Duration {
	_, o := t.Zone()
	return time.Duration(o) * time.Second
}

// cameBefore reports whether the wall clock of t's location showed t's wall-clock time
// at an earlier instant: t is in the part of a day that comes twice when clocks go
// back, the second time. The earlier instant is in one of the periods of the zone
// before t's, at that period's offset; an offset changes by less than two days.
func cameBefore(t time.Time) bool {
	w := wallClock(t)
	start, _ := t.ZoneBounds()
	for range 16 {
		if start.IsZero() || t.Sub(start) > 48*time.Hour {
			return false
		}
		prev := start.Add(-time.Nanosecond)
		prevStart, _ := prev.ZoneBounds()
		if at := w.Add(-offsetOf(prev)); at.Before(start) && (prevStart.IsZero() || !at.Before(prevStart)) {
			return true
		}
		start = prevStart
	}
	return false
}
