package triggers

import (
	"time"

	"github.com/robfig/cron/v3"
)

// cronNext returns the first time after t whose wall clock in loc matches sched, or
// the zero time when none comes within the library's five years.
//
// cron's own Next steps through the hours of a day by adding an hour. Across a change
// of the UTC offset by less than an hour (Australia/Lord_Howe's clocks move by half an
// hour) that lands at half past, and the search passes over the rest of the day: a
// spec at 09:00 skipped the day clocks changed. Its answer is right up to the first
// change after t, and again from a whole hour of the wall clock after each change, so
// the search starts again there, and at the change itself for the times in the part
// of an hour before that whole hour; the earliest answer is the next time. Across
// such a change its minutes can also run on into an hour the spec does not name
// (01:59 and a minute is 02:30), so an answer whose wall clock the spec does not
// match is passed over.
func cronNext(sched cron.Schedule, loc *time.Location, t time.Time) time.Time {
	t = t.In(loc)
	next := libNext(sched, t)
	if offset(t.Add(-time.Hour)) != offset(t) {
		// The hour of the wall clock that t is in began before a change: cron starts
		// its search at the beginning of the hour, before the change.
		next = earliest(next, nextFrom(sched, wholeHour(t), t))
	}
	for from := t; !next.IsZero(); {
		change := zoneChange(from, next)
		if change.IsZero() {
			return next
		}
		next = earliest(next, nextFrom(sched, change, t), nextFrom(sched, wholeHour(change), t))
		from = change
	}
	return next
}

// nextFrom returns the first time at or after from that sched fires, when from is
// after t; else the zero time, as t's own search covers it.
func nextFrom(sched cron.Schedule, from, t time.Time) time.Time {
	if !from.After(t) {
		return time.Time{}
	}
	return libNext(sched, from.Add(-time.Nanosecond))
}

// libNext returns cron's next time after t whose wall clock sched matches.
func libNext(sched cron.Schedule, t time.Time) time.Time {
	n := sched.Next(t)
	for !n.IsZero() && !matches(sched, n) {
		n = sched.Next(n)
	}
	return n
}

// matches reports whether the wall clock of t, in its location, is one of sched's.
func matches(sched cron.Schedule, t time.Time) bool {
	spec, ok := sched.(*cron.SpecSchedule)
	if !ok {
		return true
	}
	in := func(field uint64, n int) bool { return field&(1<<uint(n)) != 0 }
	// cron's rule for the days: when the day of the month or of the week is *, both
	// must match; when neither is, either may.
	const star = 1 << 63
	day := in(spec.Dom, t.Day()) && in(spec.Dow, int(t.Weekday()))
	if spec.Dom&star == 0 && spec.Dow&star == 0 {
		day = in(spec.Dom, t.Day()) || in(spec.Dow, int(t.Weekday()))
	}
	return day && in(spec.Month, int(t.Month())) && in(spec.Hour, t.Hour()) && in(spec.Minute, t.Minute()) &&
		in(spec.Second, t.Second())
}

// earliest returns the earliest of times that is not the zero time.
func earliest(times ...time.Time) time.Time {
	var first time.Time
	for _, t := range times {
		if !t.IsZero() && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	return first
}

// wholeHour returns the first time at or after t at which the wall clock shows a
// whole hour, when the UTC offset does not change before it.
func wholeHour(t time.Time) time.Time {
	w := wallClock(t)
	return t.Add(w.Truncate(time.Hour).Add(time.Hour).Sub(w) % time.Hour)
}

// offset is t's offset from UTC in its location, in seconds.
func offset(t time.Time) int {
	_, o := t.Zone()
	return o
}

// zoneChange returns the first time after from, and not after to, at which the UTC
// offset of from's location changes, or the zero time when it does not. It looks a
// day at a time: no zone changes its offset twice in a day.
func zoneChange(from, to time.Time) time.Time {
	changed := func(t time.Time) bool { return offset(t) != offset(from) }
	// Offsets change at whole seconds: the search is over them.
	lo, end := from.Truncate(time.Second), to.Truncate(time.Second)
	for lo.Before(end) {
		hi := lo.Add(24 * time.Hour)
		if hi.After(end) {
			hi = end
		}
		if !changed(hi) {
			lo = hi
			continue
		}
		for hi.Sub(lo) > time.Second {
			mid := lo.Add((hi.Sub(lo) / 2).Truncate(time.Second))
			if changed(mid) {
				hi = mid
			} else {
				lo = mid
			}
		}
		return hi
	}
	return time.Time{}
}
