package triggers

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/workflows"
)

// MaxBodyLimit is the largest max_body a webhook may set.
const MaxBodyLimit = 32 << 20

var sizeUnits = map[string]int64{"b": 1, "kb": 1000, "kib": 1 << 10, "mb": 1000 * 1000, "mib": 1 << 20}

// sizeAttr reads a size: a number of bytes or a string such as "512KiB" or "2MB".
func sizeAttr(b *workflows.Block, name string, def int64) (int64, hcl.Diagnostics) {
	a := b.Attr(name)
	if a == nil {
		return def, nil
	}
	v, ok := a.Template.Const()
	if !ok {
		return def, hcl.Diagnostics{a.Error(name+" cannot use {{ }}", "A size is fixed when the file loads.")}
	}
	n, err := parseSize(v)
	if s, isString := v.(string); isString && err != nil {
		// A number in quotes is refused, as the whole numbers of other attributes are,
		// rather than read as bytes: max_body = "100" more likely lacks its unit.
		if s = strings.TrimSpace(s); isNumber(s) {
			err = fmt.Errorf(`a size in bytes is a number without quotes: write %s = %s for %s bytes, or give it a unit, as in "%sKiB"`,
				name, s, s, s)
		}
	}
	if err == nil && (n < 1 || n > MaxBodyLimit) {
		err = fmt.Errorf("%s must be between 1 byte and 32MiB", name)
	}
	if err != nil {
		return def, hcl.Diagnostics{a.Error("Invalid "+name, err.Error())}
	}
	return n, nil
}

func parseSize(v any) (int64, error) {
	switch v := v.(type) {
	case int:
		return int64(v), nil
	case string:
		s := strings.ToLower(strings.TrimSpace(v))
		i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
		if i > 0 {
			if unit, ok := sizeUnits[strings.TrimSpace(s[i:])]; ok {
				if n, err := strconv.ParseFloat(s[:i], 64); err == nil {
					return int64(n * float64(unit)), nil
				}
			}
		}
	}
	return 0, fmt.Errorf(`write a size as a number of bytes or with a unit: "512KiB", "1MiB", "2MB"`)
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

var rateUnits = map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}

// rateLimitAttr reads rate_limit = "100/s" (also "/m", "/h", or "/10s").
func rateLimitAttr(b *workflows.Block) (*RateLimit, hcl.Diagnostics) {
	a := b.Attr("rate_limit")
	if a == nil {
		return nil, nil
	}
	s, diags := b.ConstString("rate_limit", "")
	if diags.HasErrors() {
		return nil, diags
	}
	r, ok := parseRate(s)
	if !ok {
		return nil, hcl.Diagnostics{a.Error("Invalid rate_limit", `Write a count per unit of time: "100/s", "6000/m", "50/10s".`)}
	}
	return r, nil
}

func parseRate(s string) (*RateLimit, bool) {
	n, per, ok := strings.Cut(s, "/")
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err != nil || count < 1 {
		return nil, false
	}
	per = strings.TrimSpace(per)
	d, known := rateUnits[per]
	if !known {
		if d, err = workflows.ParseDuration(per); err != nil || d <= 0 {
			return nil, false
		}
	}
	return &RateLimit{N: count, Per: d}, true
}
