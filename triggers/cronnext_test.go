package triggers

import (
	"testing"
	"time"
)

// TestScheduleHalfHourZoneChange: in Australia/Lord_Howe, whose clocks move by half an
// hour, a spec at fixed hours fires on the day clocks change too, at both changes; a
// time that does not exist that day is skipped, and one that comes twice fires once.
func TestScheduleHalfHourZoneChange(t *testing.T) {
	lh, err := time.LoadLocation("Australia/Lord_Howe")
	if err != nil {
		t.Fatal(err)
	}
	at := func(month time.Month, day, hour, minute int, offset string) time.Time {
		t.Helper()
		s := time.Date(2026, month, day, hour, minute, 0, 0, time.UTC).Format("2006-01-02T15:04:05") + offset
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// Clocks go back from 02:00 (+11:00) to 01:30 (+10:30) on 5 April 2026, and
	// forward from 02:00 (+10:30) to 02:30 (+11:00) on 4 October.
	for _, c := range []struct {
		name, spec string
		from       time.Time
		want       []time.Time
	}{
		{"daily at 9, back", "0 9 * * *", at(4, 4, 0, 0, "+11:00"),
			[]time.Time{at(4, 4, 9, 0, "+11:00"), at(4, 5, 9, 0, "+10:30"), at(4, 6, 9, 0, "+10:30")}},
		{"daily at 9, forward", "0 9 * * *", at(10, 3, 0, 0, "+10:30"),
			[]time.Time{at(10, 3, 9, 0, "+10:30"), at(10, 4, 9, 0, "+11:00"), at(10, 5, 9, 0, "+11:00")}},
		{"midnight, back", "0 0 * * *", at(4, 4, 12, 0, "+11:00"),
			[]time.Time{at(4, 5, 0, 0, "+11:00"), at(4, 6, 0, 0, "+10:30"), at(4, 7, 0, 0, "+10:30")}},
		{"midnight, forward", "0 0 * * *", at(10, 3, 12, 0, "+10:30"),
			[]time.Time{at(10, 4, 0, 0, "+10:30"), at(10, 5, 0, 0, "+11:00"), at(10, 6, 0, 0, "+11:00")}},
		{"weekdays at 9, forward", "0 9 * * MON-FRI", at(10, 2, 12, 0, "+10:30"),
			[]time.Time{at(10, 5, 9, 0, "+11:00"), at(10, 6, 9, 0, "+11:00")}},
		{"the day of the change only", "0 9 5 4 *", at(3, 1, 0, 0, "+11:00"),
			[]time.Time{at(4, 5, 9, 0, "+10:30")}},
		{"in the half hour that comes twice: once", "45 1 * * *", at(4, 4, 12, 0, "+11:00"),
			[]time.Time{at(4, 5, 1, 45, "+11:00"), at(4, 6, 1, 45, "+10:30")}},
		{"after the half hour that comes twice", "15 2 * * *", at(4, 4, 12, 0, "+11:00"),
			[]time.Time{at(4, 5, 2, 15, "+10:30"), at(4, 6, 2, 15, "+10:30")}},
		{"in the half hour that does not exist: skipped", "15 2 * * *", at(10, 3, 0, 0, "+10:30"),
			[]time.Time{at(10, 3, 2, 15, "+10:30"), at(10, 5, 2, 15, "+11:00")}},
		{"after the half hour that does not exist", "45 2 * * *", at(10, 3, 12, 0, "+10:30"),
			[]time.Time{at(10, 4, 2, 45, "+11:00")}},
		{"every half hour, back: both times", "*/30 * * * *", at(4, 5, 1, 0, "+11:00"),
			[]time.Time{at(4, 5, 1, 30, "+11:00"), at(4, 5, 1, 30, "+10:30"), at(4, 5, 2, 0, "+10:30")}},
		{"every half hour, forward", "*/30 * * * *", at(10, 4, 1, 0, "+10:30"),
			[]time.Time{at(10, 4, 1, 30, "+10:30"), at(10, 4, 2, 30, "+11:00"), at(10, 4, 3, 0, "+11:00")}},
		{"from just after the change back", "0 9 * * *", at(4, 5, 1, 40, "+10:30"),
			[]time.Time{at(4, 5, 9, 0, "+10:30")}},
		{"from just after the change forward", "0 9 * * *", at(10, 4, 2, 40, "+11:00"),
			[]time.Time{at(10, 4, 9, 0, "+11:00")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, diags := loadSchedule(t, "cron = \""+c.spec+"\"\ntimezone = \"Australia/Lord_Howe\"")
			if s == nil {
				t.Fatal(diags)
			}
			for n, want := range c.want {
				got := s.Next(c.from)
				if !got.Equal(want) {
					t.Fatalf("tick %d after %v: %v, want %v", n+1, c.from.In(lh), got.In(lh), want.In(lh))
				}
				c.from = got
			}
		})
	}
}

// TestScheduleZoneChangesMatchTheWallClock: around each change of the UTC offset in a
// year, in zones whose clocks move by an hour, half an hour or two hours, every tick of
// a spec is the first time after the one before whose wall clock the spec matches,
// minute by minute; at fixed hours, a time that comes twice fires the first time only.
func TestScheduleZoneChangesMatchTheWallClock(t *testing.T) {
	specs := []string{"0 9 * * *", "0 0 * * *", "30 1 * * *", "15 2 * * *", "45 2 * * *", "30 * * * *",
		"*/20 * * * *", "0 */3 * * *", "10 0-3 * * SUN", "0 9 * * MON-FRI", "5 4 1,5,15 * *"}
	for _, zone := range []string{"Australia/Lord_Howe", "Europe/Berlin", "America/New_York", "Antarctica/Troll",
		"America/Santiago", "Asia/Kolkata"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		for _, change := range zoneChanges(loc, 2026) {
			for _, spec := range specs {
				s, diags := loadSchedule(t, "cron = \""+spec+"\"\ntimezone = \""+zone+"\"")
				if s == nil {
					t.Fatal(diags)
				}
				from, until := change.Add(-3*24*time.Hour), change.Add(3*24*time.Hour)
				for tick := s.Next(from); tick.Before(until); from, tick = tick, s.Next(tick) {
					if want := firstMatch(s, from); !tick.Equal(want) {
						t.Fatalf("%s %q after %v: %v, want %v", zone, spec, from.In(loc), tick.In(loc), want.In(loc))
					}
				}
			}
		}
	}
}

// zoneChanges returns the times in year at which loc's UTC offset changes.
func zoneChanges(loc *time.Location, year int) []time.Time {
	var changes []time.Time
	from := time.Date(year, 1, 1, 0, 0, 0, 0, loc)
	for c := zoneChange(from, from.AddDate(1, 0, 0)); !c.IsZero(); c = zoneChange(c, from.AddDate(1, 0, 0)) {
		changes = append(changes, c)
	}
	return changes
}

// firstMatch returns the first whole minute after t whose wall clock s's spec matches,
// found a minute at a time.
func firstMatch(s *Schedule, t time.Time) time.Time {
	for m := t.Truncate(time.Minute).Add(time.Minute); ; m = m.Add(time.Minute) {
		if w := m.In(s.Location); matches(s.Cron, w) && !(s.fixedHours && repeated(w)) {
			return w
		}
	}
}

// zoneChange finds the first change of the UTC offset after a time, not a later one,
// and none where there is none.
func TestZoneChangeFindsTheFirst(t *testing.T) {
	lh, _ := time.LoadLocation("Australia/Lord_Howe")
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, lh)
	got := zoneChange(from, from.AddDate(2, 0, 0))
	if want := time.Date(2026, 4, 4, 15, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("first change after %v: %v, want %v", from, got.UTC(), want)
	}
	if c := zoneChange(from, from.AddDate(0, 1, 0)); !c.IsZero() {
		t.Errorf("a change in March: %v", c)
	}
}
