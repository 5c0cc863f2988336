package workflows

import (
	"math"
	"strconv"
	"strings"
	"time"
)

const durationHelp = `Write a positive number with a unit: "500ms", "30s", "5m", "1h30m" or "2d".`

// ParseDuration parses Go durations ("1h30m") and, as people write schedules, days:
// "2d" or "1d12h".
func ParseDuration(s string) (time.Duration, error) {
	days, rest, ok := strings.Cut(s, "d")
	if !ok {
		return time.ParseDuration(s)
	}
	n, err := strconv.ParseUint(days, 10, 16)
	if err != nil {
		return time.ParseDuration(s) // for the standard error message
	}
	d := time.Duration(n) * 24 * time.Hour
	if rest == "" {
		return d, nil
	}
	r, err := time.ParseDuration(rest)
	if err != nil {
		return 0, err
	}
	return d + r, nil
}

// FormatDuration writes d as a duration is written in a file, for messages: "1h",
// "1h30m", "2d", "1d12h", "1m30s", "1.5s", "500ms", where Go writes "1h0m0s" and
// "48h0m0s". ParseDuration reads what it writes.
func FormatDuration(d time.Duration) string {
	if d < 0 {
		// The most negative duration has no positive counterpart: -d is itself. It is
		// as long as the longest positive one, to a nanosecond.
		return "-" + FormatDuration(-max(d, -math.MaxInt64))
	}
	s := ""
	if days := d / (24 * time.Hour); days > 0 {
		s, d = strconv.FormatInt(int64(days), 10)+"d", d-days*24*time.Hour
		if d == 0 {
			return s
		}
	}
	// Go writes every unit from the largest down, the zero ones too: 1h0m0s, 1h0m5s.
	g := d.String()
	if strings.HasSuffix(g, "m0s") {
		g = strings.TrimSuffix(g, "0s")
	}
	if strings.HasSuffix(g, "h0m") {
		g = strings.TrimSuffix(g, "0m")
	}
	return s + strings.Replace(g, "h0m", "h", 1)
}
