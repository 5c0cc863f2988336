package workflows

import (
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
