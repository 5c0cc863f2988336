package workflows

import (
	"math"
	"testing"
	"time"
)

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                    "0s",
		500 * time.Millisecond:               "500ms",
		1500 * time.Millisecond:              "1.5s",
		90 * time.Second:                     "1m30s",
		10 * time.Minute:                     "10m",
		time.Hour:                            "1h",
		3 * time.Hour:                        "3h",
		90 * time.Minute:                     "1h30m",
		time.Hour + 5*time.Second:            "1h5s",
		24 * time.Hour:                       "1d",
		36 * time.Hour:                       "1d12h",
		365 * 24 * time.Hour:                 "365d",
		2*24*time.Hour + 30*time.Minute:      "2d30m",
		-5 * time.Minute:                     "-5m",
		72*time.Hour + 1500*time.Millisecond: "3d1.5s",
	} {
		got := FormatDuration(d)
		if got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
		if back, err := ParseDuration(got); err == nil && back != d {
			t.Errorf("ParseDuration(%q) = %v, want %v", got, back, d)
		} else if err != nil && d >= 0 {
			t.Errorf("ParseDuration(%q): %v", got, err)
		}
	}
}

// The most negative duration, which has no positive counterpart, is written as long
// as the longest positive one (a signed timestamp far ahead of the clock gives it).
func TestFormatDurationAtTheLimits(t *testing.T) {
	if got := FormatDuration(math.MinInt64); got != "-106751d23h47m16.854775807s" {
		t.Errorf("FormatDuration(MinInt64) = %q", got)
	}
	if got := FormatDuration(math.MaxInt64); got != "106751d23h47m16.854775807s" {
		t.Errorf("FormatDuration(MaxInt64) = %q", got)
	}
}

// A duration in a message reads as the user wrote it in the file.
func TestDurationsInMessages(t *testing.T) {
	if got := WaitTimedOut(72 * time.Hour).Error(); got != "timed out after 3d: no resume came" {
		t.Errorf("wait timeout: %q", got)
	}
	if got := (&Throttled{API: "crm", Reason: "rate_limit", After: 2 * time.Minute}).Error(); got != `api "crm": held back by its rate_limit for 2m` {
		t.Errorf("throttled: %q", got)
	}
}
