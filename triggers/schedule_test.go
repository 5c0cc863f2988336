package triggers

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

func loadSchedule(t *testing.T, attrs string) (*Schedule, string) {
	t.Helper()
	return loadScheduleAt(t, attrs, time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
}

// loadScheduleAt loads a schedule of attrs as a process whose clock reads now does.
func loadScheduleAt(t *testing.T, attrs string, now time.Time) (*Schedule, string) {
	t.Helper()
	src := "workflow \"w\" {\n  trigger \"schedule\" {\n" + attrs + "\n  }\n}"
	k := workflows.NewKinds()
	DefaultAt(func() time.Time { return now }).Register(k)
	set, diags := workflows.Load([]workflows.Source{{Name: "s.hcl", Data: []byte(src)}}, k)
	if set == nil {
		return nil, diags.Error()
	}
	return set.Workflow("w").Triggers[0].Config.(*Schedule), diags.Error()
}

func TestSchedule(t *testing.T) {
	s, diags := loadSchedule(t, "cron = \"0 9 * * MON-FRI\"\ntimezone = \"Europe/Paris\"")
	if s == nil {
		t.Fatal(diags)
	}
	// Saturday 2026-11-21 12:00 UTC: the next weekday 09:00 in Paris is Monday 08:00 UTC.
	if next := s.Next(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)); !next.Equal(time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("next %v", next.UTC())
	}
	if diags != "no diagnostics" {
		t.Errorf("diagnostics: %s", diags)
	}
	s, _ = loadSchedule(t, `every = "15m"`)
	if next := s.Next(time.Date(2026, 11, 21, 12, 7, 0, 0, time.UTC)); !next.Equal(time.Date(2026, 11, 21, 12, 15, 0, 0, time.UTC)) {
		t.Errorf("every: next %v", next)
	}
}

// A tick's event.body.schedule is the schedule as the file writes it, the interval's
// form too, and so is what serve logs of it as it starts; its Key, which names it in
// Redis, keeps the form it always had.
func TestScheduleTickEventSchedule(t *testing.T) {
	at := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		attrs, body, key string
	}{
		{`every = "1h"`, "every 1h", "every 1h0m0s"},
		{`every = "10m"`, "every 10m", "every 10m0s"},
		{`every = "1d"`, "every 1d", "every 24h0m0s"},
		{`every = "90s"`, "every 1m30s", "every 1m30s"},
		{"every = \"1h\"\ntimezone = \"Europe/Paris\"", "every 1h", "every 1h0m0s"}, // the same ticks as in UTC
		{"cron = \"0 9 * * MON-FRI\"\ntimezone = \"Europe/Paris\"", "cron 0 9 * * MON-FRI Europe/Paris", "cron 0 9 * * MON-FRI Europe/Paris"},
	} {
		t.Run(c.attrs, func(t *testing.T) {
			s, diags := loadSchedule(t, c.attrs)
			if s == nil {
				t.Fatal(diags)
			}
			ev := s.TickEvent(at, false, at)
			if got := ev.Body.(map[string]any)["schedule"]; got != c.body {
				t.Errorf("event.body.schedule %q, want %q", got, c.body)
			}
			if !strings.Contains(ev.Raw, `"schedule":"`+c.body+`"`) {
				t.Errorf("raw body %s lacks the schedule %q", ev.Raw, c.body)
			}
			if got := s.Key(); got != c.key {
				t.Errorf("key %q, want %q", got, c.key)
			}
			_, attrs := s.Announce(&workflows.Workflow{Name: "w"}, "")
			if got := fmt.Sprint(attrs[:4]); got != "[workflow w schedule "+c.body+"]" {
				t.Errorf("serve logs %s, want the schedule as the tick's event gives it, %q", got, c.body)
			}
		})
	}
}

// TestScheduleSpecKey: what makes a schedule new is its cron or every and its
// timezone; an interval with no timezone, or UTC, is named as it always was, so that a
// process of a newer build takes it for the one an older build ran.
func TestScheduleSpecKey(t *testing.T) {
	for attrs, want := range map[string]string{
		`every = "1h"`:                                      "every 1h0m0s",
		"every = \"1h\"\ntimezone = \"UTC\"":                "every 1h0m0s",
		"every = \"1h\"\ntimezone = \"Europe/Paris\"":       "every 1h0m0s Europe/Paris",
		"every = \"1h\"\ntimezone = \"Asia/Tokyo\"":         "every 1h0m0s Asia/Tokyo",
		"cron = \"0 9 * * *\"\ntimezone = \"Europe/Paris\"": "cron 0 9 * * * Europe/Paris",
		`cron = "0 9 * * *"`:                                "cron 0 9 * * * UTC",
	} {
		s, diags := loadSchedule(t, attrs)
		if s == nil {
			t.Fatal(diags)
		}
		if got := s.specKey(); got != want {
			t.Errorf("%q: specKey %q, want %q", attrs, got, want)
		}
	}
}

// TestScheduleTickEventFraction: a tick's scheduled_at has its fraction of a second
// when it has one, and none when it falls on a whole second.
func TestScheduleTickEventFraction(t *testing.T) {
	s, diags := loadSchedule(t, `every = "1500ms"`)
	if s == nil {
		t.Fatal(diags)
	}
	from := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	for _, want := range []string{"2026-11-23T08:00:01.5Z", "2026-11-23T08:00:03Z", "2026-11-23T08:00:04.5Z"} {
		from = s.Next(from)
		if got := s.TickEvent(from, false, from).Body.(map[string]any)["scheduled_at"]; got != want {
			t.Errorf("scheduled_at %v, want %s", got, want)
		}
	}
}

// TestScheduleDaylightSaving: when clocks go back, a schedule at fixed hours fires
// once at the repeated time; an hourly one fires every hour, the repeated one too.
func TestScheduleDaylightSaving(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	daily, _ := loadSchedule(t, "cron = \"30 1 * * *\"\ntimezone = \"America/New_York\"")
	first := time.Date(2025, 11, 2, 1, 30, 0, 0, ny) // 01:30 EDT, before clocks go back at 02:00
	if next := daily.Next(first); !next.Equal(time.Date(2025, 11, 3, 1, 30, 0, 0, ny)) {
		t.Errorf("daily after %v: %v, want the next day", first, next)
	}
	// A process that last fired the day before, back in the repeated hour, finds the
	// day's tick fired already.
	if tick, _ := daily.Due(first.Add(-24*time.Hour), time.Date(2025, 11, 2, 2, 10, 0, 0, ny)); !tick.Equal(first) {
		t.Errorf("catching up in the repeated hour: %v, want %v", tick, first)
	}
	for _, spec := range []string{"30 * * * *", "30 0-23 * * *", "30 0/1 * * *"} {
		hourly, _ := loadSchedule(t, "cron = \""+spec+"\"\ntimezone = \"America/New_York\"")
		if next := hourly.Next(first); next.Sub(first) != time.Hour {
			t.Errorf("%s after %v: %v, want an hour later (01:30 EST)", spec, first, next)
		}
	}
}

func TestScheduleErrors(t *testing.T) {
	for attrs, want := range map[string]string{
		``:                                            "A schedule needs cron or every",
		"cron = \"@daily\"\nevery = \"1h\"":           "Both cron and every are set",
		`cron = "61 * * * *"`:                         `Invalid cron spec "61 * * * *"`,
		`cron = "* * * *"`:                            "Expected exactly 5 fields",
		`cron = "0 0 30 2 *"`:                         "never fires",
		`cron = "CRON_TZ=UTC 0 9 * * *"`:              "Set the time zone with timezone",
		"cron = \"@daily\"\ntimezone = \"Mars\"":      `Unknown time zone "Mars"`,
		"cron = \"@daily\"\ntimezone = \"\"":          `s.hcl:4,12-14: Unknown time zone ""`,
		"cron = \"@daily\"\ntimezone = \"Local\"":     `Unknown time zone "Local"`,
		`cron = "0 0 * * 7"`:                          "Sunday is 0 (or SUN), not 7.",
		`cron = "0 0 * * 5-7"`:                        "Sunday is 0 (or SUN), not 7.",
		`cron = "@every 90s"`:                         `Write an interval as every = "90s"`,
		`every = "100ms"`:                             "A schedule fires at most once a second",
		`every = "often"`:                             `Invalid duration "often"`,
		"every = \"1d\"\ntimezone = \"Asia/Tokyo\"":   `at 00:00 on UTC's clock, and at 09:00 on Asia/Tokyo's`,
		"every = \"1h\"\ntimezone = \"Asia/Kolkata\"": `timezone does not move the ticks of every`,
	} {
		if _, diags := loadSchedule(t, attrs); !strings.Contains(diags, want) {
			t.Errorf("%q: %s, want %q", attrs, diags, want)
		}
	}
	// A timezone whose ticks of every fall on the same times of its clock as on UTC's is
	// no mistake: it gives scheduled_at its offset, and nothing is said.
	for _, attrs := range []string{"every = \"10m\"\ntimezone = \"Europe/Paris\"", "every = \"1h\"\ntimezone = \"America/New_York\""} {
		if s, diags := loadSchedule(t, attrs); s == nil || diags != "no diagnostics" {
			t.Errorf("%q: %s", attrs, diags)
		}
	}
	// A timezone with every that moves nothing is a mistake, but the schedule is right
	// as it is.
	if s, diags := loadSchedule(t, "every = \"1d\"\ntimezone = \"Asia/Tokyo\""); s == nil || s.Every != 24*time.Hour {
		t.Errorf("every with a timezone: %v, %s", s, diags)
	}
}

// A timezone set with every is warned of where it leaves the ticks elsewhere on its
// clock than on UTC's, in winter or in summer, shown on a day they are: London is
// UTC in January, an hour ahead in July.
func TestScheduleTimezoneWithEvery(t *testing.T) {
	const why = "The ticks of every fall on multiples of it since the Unix epoch, whatever the time zone: with "
	for attrs, want := range map[string]string{
		"every = \"1d\"\ntimezone = \"Europe/London\"": why + `every = "1d", on 1 July, the day's first tick is at 00:00 on UTC's clock, and at 01:00 on Europe/London's.`,
		"every = \"7m\"\ntimezone = \"Europe/London\"": why + `every = "7m", on 1 July, the day's first tick is at 00:05 on UTC's clock, and at 00:02 on Europe/London's.`,
		"every = \"1d\"\ntimezone = \"Europe/Paris\"":  why + `every = "1d", on 1 January, the day's first tick is at 00:00 on UTC's clock, and at 01:00 on Europe/Paris's.`,
		"every = \"1h\"\ntimezone = \"Asia/Kolkata\"":  why + `every = "1h", on 1 January, the day's first tick is at 00:00 on UTC's clock, and at 00:30 on Asia/Kolkata's.`,
		"every = \"7d\"\ntimezone = \"Europe/Paris\"":  why + `every = "7d", the tick at 00:00 UTC on 1 January is at 01:00 in Europe/Paris.`,
		"every = \"10m\"\ntimezone = \"Europe/Paris\"": "",
	} {
		t.Run(attrs, func(t *testing.T) {
			k := workflows.NewKinds()
			DefaultAt(func() time.Time { return time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC) }).Register(k)
			src := "workflow \"w\" {\n  trigger \"schedule\" {\n" + attrs + "\n  }\n}"
			_, diags := workflows.Load([]workflows.Source{{Name: "s.hcl", Data: []byte(src)}}, k)
			var got []string
			for _, d := range diags {
				got = append(got, d.Detail)
			}
			if want == "" && len(got) > 0 || want != "" && (len(got) != 1 || got[0] != want+
				" timezone only gives event.body.scheduled_at its offset. For a time of day in the zone, write cron = \"0 9 * * *\" with the timezone.") {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
	// The offsets are those of the clock's year: São Paulo kept summer time until 2019.
	const sp = "every = \"3h\"\ntimezone = \"America/Sao_Paulo\""
	if _, diags := loadScheduleAt(t, sp, time.Date(2019, 3, 1, 0, 0, 0, 0, time.UTC)); !strings.Contains(diags, "on 1 January, the day's first tick is at 00:00 on UTC's clock, and at 01:00 on America/Sao_Paulo's") {
		t.Errorf("in 2019: %s", diags)
	}
	if _, diags := loadScheduleAt(t, sp, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)); diags != "no diagnostics" {
		t.Errorf("in 2026: %s", diags)
	}
}

// TestScheduleDayFields: a day field is restricted unless it is *, */1 or ?; two
// restricted day fields fire on a day either matches, and */2 is restricted.
func TestScheduleDayFields(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC) } // 2 March 2026 is a Monday
	for spec, want := range map[string][]time.Time{
		"0 0 */2 * MON": {day(2), day(3), day(5), day(7), day(9), day(11)},
		"0 0 13 * FRI":  {day(6), day(13), day(20), day(27)},
		"0 0 ? * MON":   {day(2), day(9), day(16)},
		"0 0 */2 * *":   {day(3), day(5), day(7)},
		"0 0 */2 * ?":   {day(3), day(5), day(7)},
		"0 0 */1 * MON": {day(2), day(9)},
	} {
		s, diags := loadSchedule(t, `cron = "`+spec+`"`)
		if s == nil {
			t.Fatal(diags)
		}
		for from, i := day(1), 0; i < len(want); i++ {
			if from = s.Next(from); !from.Equal(want[i]) {
				t.Errorf("%q: tick %d %v, want %v", spec, i+1, from, want[i])
				break
			}
		}
	}
}

// TestScheduleUnsupportedCronForms: a spec in a form of other crons (L, W, #, seconds
// or a year) is an error at the spec that says the form is not supported, rather than
// that a number did not parse.
func TestScheduleUnsupportedCronForms(t *testing.T) {
	for spec, want := range map[string]string{
		"0 0 L * *":     "L: L (the last day) and W (the nearest weekday) are not supported",
		"0 0 LW * *":    "LW: L (the last day) and W (the nearest weekday) are not supported",
		"0 0 1,15W * *": "15W: L (the last day) and W (the nearest weekday) are not supported",
		"0 0 * * 5L":    "5L: L (the last day) and W (the nearest weekday) are not supported",
		"0 0 * * 5#3":   "5#3: # (the nth weekday of the month) is not supported",
		"0 0 9 * * *":   "A spec of 6 fields (with seconds, or a year) is not supported",
		"0 0 9 * * ? *": "A spec of 7 fields (with seconds, or a year) is not supported",
	} {
		_, diags := loadSchedule(t, `cron = "`+spec+`"`)
		if !strings.Contains(diags, want) || !strings.HasPrefix(diags, "s.hcl:3,8-") || strings.Contains(diags, "strconv") {
			t.Errorf("%q: %s, want %q at the spec", spec, diags, want)
		}
	}
	// The names of months and days that hold an L or a W are no such form.
	if s, diags := loadSchedule(t, `cron = "0 9 * JUL WED"`); s == nil || diags != "no diagnostics" {
		t.Errorf("JUL WED: %s", diags)
	}
}

// TestScheduleLocalEvent: hookflow run's event for a workflow with only a schedule is
// its latest tick, a time the spec fires, not the moment of the run.
func TestScheduleLocalEvent(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 17, 5, 0, time.UTC)
	for attrs, want := range map[string]string{
		`every = "1h"`: "2026-11-21T12:00:00Z",
		"cron = \"0 9 * * *\"\ntimezone = \"Europe/Paris\"": "2026-11-21T09:00:00+01:00",
		"every = \"1d\"\ntimezone = \"Europe/Paris\"":       "2026-11-21T01:00:00+01:00", // midnight UTC, in the zone
	} {
		s, diags := loadSchedule(t, attrs)
		if s == nil {
			t.Fatal(diags)
		}
		ev := &workflows.Event{ReceivedAt: now}
		if !s.LocalEvent(ev, false) {
			t.Fatalf("%s: no event made", attrs)
		}
		if got := ev.Body.(map[string]any)["scheduled_at"]; got != want {
			t.Errorf("%s: scheduled_at %v, want %s", attrs, got, want)
		}
	}
}
