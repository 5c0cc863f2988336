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

// TestScheduleChatham: in Pacific/Chatham, whose clocks go back from 03:45 (+13:45) to
// 02:45 (+12:45) and forward from 02:45 to 03:45, and whose offsets are of 45 minutes, a
// spec at fixed hours fires once at a time that comes twice (the first time), skips
// one that does not exist, and fires at the others as on any day; each tick is after
// the one before, and the search ends.
func TestScheduleChatham(t *testing.T) {
	ch, err := time.LoadLocation("Pacific/Chatham")
	if err != nil {
		t.Fatal(err)
	}
	at := func(month time.Month, day, hour, minute int, offset string) time.Time {
		t.Helper()
		s := time.Date(2027, month, day, hour, minute, 0, 0, time.UTC).Format("2006-01-02T15:04:05") + offset
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// Clocks go back on 4 April 2027 and forward on 26 September.
	for _, c := range []struct {
		name, spec string
		from       time.Time
		want       []time.Time
	}{
		{"at 03:00, back: the first 03:00", "0 3 * * *", at(4, 2, 12, 0, "+13:45"),
			[]time.Time{at(4, 3, 3, 0, "+13:45"), at(4, 4, 3, 0, "+13:45"), at(4, 5, 3, 0, "+12:45")}},
		{"at 03:00, from the first 03:00", "0 3 * * *", at(4, 4, 3, 0, "+13:45"),
			[]time.Time{at(4, 5, 3, 0, "+12:45")}},
		{"at 03:00, from between the two", "0 3 * * *", at(4, 4, 2, 50, "+12:45"),
			[]time.Time{at(4, 5, 3, 0, "+12:45")}},
		{"at 03:44, back", "44 3 * * *", at(4, 3, 12, 0, "+13:45"),
			[]time.Time{at(4, 4, 3, 44, "+13:45"), at(4, 5, 3, 44, "+12:45")}},
		{"at 03:45, back: it comes once, after the change", "45 3 * * *", at(4, 2, 12, 0, "+13:45"),
			[]time.Time{at(4, 3, 3, 45, "+13:45"), at(4, 4, 3, 45, "+12:45"), at(4, 5, 3, 45, "+12:45")}},
		{"at 03:59, back", "59 3 * * *", at(4, 3, 12, 0, "+13:45"),
			[]time.Time{at(4, 4, 3, 59, "+12:45"), at(4, 5, 3, 59, "+12:45")}},
		{"at 02:45, back: the first 02:45", "45 2 * * *", at(4, 3, 12, 0, "+13:45"),
			[]time.Time{at(4, 4, 2, 45, "+13:45"), at(4, 5, 2, 45, "+12:45")}},
		{"every 15 minutes, back: both times", "*/15 * * * *", at(4, 4, 3, 30, "+13:45"),
			[]time.Time{at(4, 4, 2, 45, "+12:45"), at(4, 4, 3, 0, "+12:45"), at(4, 4, 3, 15, "+12:45")}},
		{"hourly at :45, back", "45 * * * *", at(4, 4, 2, 0, "+13:45"),
			[]time.Time{at(4, 4, 2, 45, "+13:45"), at(4, 4, 2, 45, "+12:45"), at(4, 4, 3, 45, "+12:45")}},
		{"at 03:00, forward: skipped", "0 3 * * *", at(9, 25, 12, 0, "+12:45"),
			[]time.Time{at(9, 27, 3, 0, "+13:45")}},
		{"at 02:44, forward", "44 2 * * *", at(9, 25, 12, 0, "+12:45"),
			[]time.Time{at(9, 26, 2, 44, "+12:45"), at(9, 27, 2, 44, "+13:45")}},
		{"at 03:45, forward: at the change", "45 3 * * *", at(9, 25, 12, 0, "+12:45"),
			[]time.Time{at(9, 26, 3, 45, "+13:45"), at(9, 27, 3, 45, "+13:45")}},
		{"every 15 minutes, forward", "*/15 * * * *", at(9, 26, 2, 20, "+12:45"),
			[]time.Time{at(9, 26, 2, 30, "+12:45"), at(9, 26, 3, 45, "+13:45")}},
		{"midnight", "0 0 * * *", at(4, 3, 12, 0, "+13:45"),
			[]time.Time{at(4, 4, 0, 0, "+13:45"), at(4, 5, 0, 0, "+12:45")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, diags := loadSchedule(t, "cron = \""+c.spec+"\"\ntimezone = \"Pacific/Chatham\"")
			if s == nil {
				t.Fatal(diags)
			}
			for n, want := range c.want {
				got := within(t, func() time.Time { return s.Next(c.from) })
				if !got.Equal(want) {
					t.Fatalf("tick %d after %v: %v, want %v", n+1, c.from.In(ch), got.In(ch), want.In(ch))
				}
				c.from = got
			}
		})
	}
}

// TestScheduleChathamDue: a schedule at 03:00 in Pacific/Chatham fires on the day
// clocks go back, once, and the day after; Due comes back each time.
func TestScheduleChathamDue(t *testing.T) {
	s, diags := loadSchedule(t, "cron = \"0 3 * * *\"\ntimezone = \"Pacific/Chatham\"")
	if s == nil {
		t.Fatal(diags)
	}
	day3 := time.Date(2027, 4, 2, 13, 15, 0, 0, time.UTC) // 3 April 03:00 +13:45
	day4 := day3.Add(24 * time.Hour)                      // 4 April 03:00 +13:45, before the change
	day5 := day4.Add(25 * time.Hour)                      // 5 April 03:00 +12:45
	for _, c := range []struct {
		name      string
		last, now time.Time
		want      time.Time
	}{
		{"the day of the change", day3, day4.Add(10 * time.Minute), day4},
		{"the second 03:00: fired already", day4, day4.Add(time.Hour + 10*time.Minute), time.Time{}},
		{"the day after", day4, day5.Add(time.Minute), day5},
		{"across the change", day3, day5.Add(time.Minute), day5},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := within(t, func() time.Time { tick, _ := s.Due(c.last, c.now); return tick })
			if !got.Equal(c.want) {
				t.Errorf("Due(%v, %v) = %v, want %v", c.last.UTC(), c.now.UTC(), got.UTC(), c.want.UTC())
			}
		})
	}
}

// within returns f's answer, failing the test when f has not returned within 10 seconds.
func within(t *testing.T, f func() time.Time) time.Time {
	t.Helper()
	done := make(chan time.Time, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("no answer within 10s")
		return time.Time{}
	}
}

// TestScheduleLongestGapChatham: the longest time between two ticks of a daily spec in
// Pacific/Chatham, which a poll's seen_window is checked against as its file loads,
// is the 25 hours of the day clocks go back, or the 47 of a time that does not exist
// the day they go forward; the check comes back.
func TestScheduleLongestGapChatham(t *testing.T) {
	for spec, want := range map[string]time.Duration{"45 3 * * *": 25 * time.Hour, "30 2 * * *": 25 * time.Hour,
		"0 3 * * *": 47 * time.Hour} {
		s, diags := loadSchedule(t, "cron = \""+spec+"\"\ntimezone = \"Pacific/Chatham\"")
		if s == nil {
			t.Fatal(diags)
		}
		var gap time.Duration
		within(t, func() time.Time { gap = s.longestGap(); return time.Time{} })
		if gap != want {
			t.Errorf("%q: longest gap %v, want %v", spec, gap, want)
		}
	}
}
