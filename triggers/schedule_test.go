package triggers

import (
	"strings"
	"testing"
	"time"
)

func loadSchedule(t *testing.T, attrs string) (*Schedule, string) {
	t.Helper()
	src := "workflow \"w\" {\n  trigger \"schedule\" {\n" + attrs + "\n  }\n}"
	set, diags := loadHooks("s.hcl", src)
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

func TestScheduleErrors(t *testing.T) {
	for attrs, want := range map[string]string{
		``:                                       "schedule needs cron or every",
		"cron = \"@daily\"\nevery = \"1h\"":      "Both cron and every are set",
		`cron = "61 * * * *"`:                    `Invalid cron spec "61 * * * *"`,
		`cron = "* * * *"`:                       "Expected exactly 5 fields",
		`cron = "0 0 30 2 *"`:                    "never fires",
		`cron = "CRON_TZ=UTC 0 9 * * *"`:         "Set the time zone with timezone",
		"cron = \"@daily\"\ntimezone = \"Mars\"": `Unknown time zone "Mars"`,
		`every = "100ms"`:                        "at most once a second",
		`every = "often"`:                        `Invalid duration "often"`,
	} {
		if _, diags := loadSchedule(t, attrs); !strings.Contains(diags, want) {
			t.Errorf("%q: %s, want %q", attrs, diags, want)
		}
	}
}
