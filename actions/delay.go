package actions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/workflows"
)

// MaxDelay is the longest a delay step may hold its run.
const MaxDelay = 365 * 24 * time.Hour

// delayKind: step "delay" "NAME" { duration = "10m" } or { until = "…" } holds the run
// before its next step. The wait is kept in the queue: it survives restarts and holds
// no worker. With skip, the step records the wait it would make and makes none.
func delayKind(skip bool) workflows.StepKind {
	return workflows.StepKind{
		Name:   "delay",
		Output: []string{"until", "seconds", "skipped"}, // skipped: only with Options.SkipDelays
		Attrs:  []workflows.Attr{{Name: "duration"}, {Name: "until"}},
		NoTimeout: "A delay waits for its duration or until its time, and nothing cuts it shorter but the run's own timeout: " +
			"give a shorter duration, or set timeout on the workflow to bound the whole run.",
		New: func(b *workflows.Block) (workflows.Action, hcl.Diagnostics) {
			d := &Delay{duration: b.Template("duration"), until: b.Template("until"), skip: skip}
			diags := b.OnlyOne("duration", "until")
			if d.duration == nil && d.until == nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "delay needs duration or until",
					Detail:  `Set how long to wait, duration = "10m", or until when, until = "{{ event.body.send_at }}".`,
					Subject: b.DefRange.Ptr()})
			}
			diags = append(diags, b.CheckConst("duration", "Invalid duration", func(v any) error { _, err := delayFor(v); return err })...)
			diags = append(diags, b.CheckConst("until", "Invalid until", func(v any) error { _, err := delayUntil(v); return err })...)
			if !diags.HasErrors() {
				// A stored version's delay past the limit is warned of: the step fails
				// when a run reaches it, as it did in the build that accepted the file.
				diags = append(diags, b.Mistakes(checkLimit(b))...)
			}
			return d, diags
		},
	}
}

// Delay is a compiled delay step.
type Delay struct {
	duration, until *workflows.Template
	skip            bool
}

// Do works out how long the run waits; the engine holds it.
func (d *Delay) Do(ctx context.Context, c *workflows.Call) (any, error) {
	out, err := d.do(ctx, c)
	return out, workflows.Permanent(err) // its values render the same way on another attempt
}

func (d *Delay) do(_ context.Context, c *workflows.Call) (any, error) {
	now := time.Now()
	var wait time.Duration
	if d.duration != nil {
		v, err := d.duration.Render(c.Env)
		if err != nil {
			return nil, fmt.Errorf("duration: %w", err)
		}
		if wait, err = delayFor(v); err != nil {
			return nil, fmt.Errorf("duration: %w", err)
		}
	} else {
		v, err := d.until.Render(c.Env)
		if err != nil {
			return nil, fmt.Errorf("until: %w", err)
		}
		t, err := delayUntil(v)
		if err != nil {
			return nil, fmt.Errorf("until: %w", err)
		}
		wait = max(t.Sub(now), 0) // a time in the past waits for nothing
	}
	if wait > MaxDelay {
		return nil, fmt.Errorf("a delay of %s is longer than the limit of %s", workflows.FormatDuration(wait.Round(time.Second)), workflows.FormatDuration(MaxDelay))
	}
	w := &workflows.Wait{For: wait, Until: now.Add(wait)}
	if d.skip {
		v := w.Value()
		v["skipped"] = true
		return v, nil
	}
	return w, nil
}

// checkLimit reports a delay written out in the file that is longer than MaxDelay:
// every run that reached it would fail there. A constant until is measured from when
// the file loads; one that is within the limit by the time a run reaches it is all
// the more so.
func checkLimit(b *workflows.Block) hcl.Diagnostics {
	limit := workflows.FormatDuration(MaxDelay)
	diags := b.CheckConst("duration", "Delay too long", func(v any) error {
		wait, _ := delayFor(v) // a bad duration is reported as such
		if wait <= MaxDelay {
			return nil
		}
		return fmt.Errorf("a delay step waits %s at most, and this one would wait %s: every run that reached it would fail there",
			limit, workflows.FormatDuration(wait.Round(time.Second)))
	})
	return append(diags, b.CheckConst("until", "Delay too long", func(v any) error {
		t, _ := delayUntil(v)
		if time.Until(t) <= MaxDelay {
			return nil
		}
		return fmt.Errorf("a delay step waits %s at most, and %s is further away: every run that reached it now would fail there",
			limit, t.UTC().Format(time.RFC3339))
	})...)
}

// delayFor reads a duration: "90s", "2h", "3d", or a number of seconds.
func delayFor(v any) (time.Duration, error) {
	var d time.Duration
	switch v := v.(type) {
	case string:
		var err error
		if d, err = workflows.ParseDuration(v); err != nil {
			return 0, fmt.Errorf("%q is not a duration such as \"30s\", \"10m\" or \"2d\"", v)
		}
	case int:
		d = time.Duration(v) * time.Second
	case float64:
		d = time.Duration(v * float64(time.Second))
	case time.Duration:
		d = v
	default:
		return 0, fmt.Errorf("got %s; a duration is a string such as \"10m\" or a number of seconds", workflows.Text(v))
	}
	if d < 0 {
		return 0, errors.New("a duration cannot be negative")
	}
	return d, nil
}

// delayUntil reads a time: an RFC 3339 timestamp, a Unix time in seconds, or a time
// from an expression such as now() or date().
func delayUntil(v any) (time.Time, error) {
	switch v := v.(type) {
	case time.Time:
		return v, nil
	case string:
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time such as \"2026-11-22T09:00:00Z\"", v)
		}
		return t, nil
	case int:
		return time.Unix(int64(v), 0), nil
	case float64:
		return time.UnixMilli(int64(v * 1000)), nil
	}
	return time.Time{}, fmt.Errorf("got %s; until is an RFC 3339 time or a Unix time in seconds", workflows.Text(v))
}

var _ workflows.Action = (*Delay)(nil)
