package main

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/hookflow/hookflow/workflows"
)

// prefixList is a repeatable flag of CIDR prefixes (or single addresses).
type prefixList []netip.Prefix

func (p *prefixList) String() string {
	parts := make([]string, len(*p))
	for i, x := range *p {
		parts[i] = x.String()
	}
	return strings.Join(parts, ",")
}

func (p *prefixList) Type() string { return "CIDR" }

func (p *prefixList) Set(s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("%q is not an address or CIDR prefix", s)
		}
		*p = append(*p, netip.PrefixFrom(a, a.BitLen()))
		return nil
	}
	prefix, err := netip.ParsePrefix(s)
	if err != nil {
		return fmt.Errorf("%q is not a CIDR prefix such as 10.0.0.0/8", s)
	}
	*p = append(*p, prefix.Masked())
	return nil
}

// oneOf is a string flag that takes one of a few values: any other, on the command
// line or in the environment, is a usage error that names them.
type oneOf struct {
	value   *string
	options []string
}

// newOneOf sets *p to def, which may be "" for none, and returns a flag that sets it
// to one of options.
func newOneOf(p *string, def string, options ...string) *oneOf {
	*p = def
	return &oneOf{value: p, options: options}
}

func (o *oneOf) String() string { return *o.value }

func (o *oneOf) Type() string { return "string" }

func (o *oneOf) Set(s string) error {
	if s != "" && !slices.Contains(o.options, s) {
		return fmt.Errorf("use one of %s", strings.Join(o.options, ", "))
	}
	*o.value = s
	return nil
}

// atLeast is an int flag that refuses a value below its least: a count of workers
// or connections that cannot be negative, rather than one quietly taken for another.
type atLeast struct {
	value *int
	least int
}

// newAtLeast sets *p to def and returns a flag that sets it to a whole number of at
// least least.
func newAtLeast(p *int, def, least int) *atLeast {
	*p = def
	return &atLeast{value: p, least: least}
}

func (a *atLeast) String() string { return strconv.Itoa(*a.value) }

func (a *atLeast) Type() string { return "int" }

func (a *atLeast) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < a.least {
		return fmt.Errorf("give a whole number of at least %d", a.least)
	}
	*a.value = n
	return nil
}

// days is a duration flag that also takes days: "7d", "1d12h".
type days time.Duration

func (d *days) String() string {
	v := time.Duration(*d)
	if v > 0 && v%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", v/(24*time.Hour))
	}
	return v.String()
}

func (d *days) Type() string { return "duration" }

func (d *days) Set(s string) error {
	v, err := parseDuration(s, time.Second)
	if err != nil {
		return err
	}
	*d = days(v)
	return nil
}

// duration is a duration flag that refuses a value below its least: a lease or a
// timeout of 0 is no lease or timeout at all, and a value without a unit is a mistake.
type duration struct {
	value *time.Duration
	least time.Duration
}

// newDuration sets *p to def and returns a flag that sets it to a duration of at
// least least.
func newDuration(p *time.Duration, def, least time.Duration) *duration {
	*p = def
	return &duration{value: p, least: least}
}

func (d *duration) String() string { return d.value.String() }

func (d *duration) Type() string { return "duration" }

func (d *duration) Set(s string) error {
	v, err := parseDuration(s, d.least)
	if err != nil {
		return err
	}
	*d.value = v
	return nil
}

// parseDuration reads a duration flag's value, "30s", "1h30m" or "7d", of at least
// least, and says what to give in words: time's errors quote Go ("time: missing unit
// in duration").
func parseDuration(s string, least time.Duration) (time.Duration, error) {
	v, err := workflows.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, errors.New("give a duration with a unit, such as 30s")
	}
	switch {
	case v < least && least == time.Nanosecond:
		return 0, errors.New("must be more than 0")
	case v < least:
		return 0, fmt.Errorf("must be at least %s", workflows.FormatDuration(least))
	}
	return v, nil
}

// inWords says what is wrong with a value that one of pflag's own int or bool flags
// refused, as hookflow's own flags say it: strconv's error names a Go function
// (strconv.ParseInt: parsing "abc": invalid syntax). Any other error is returned as it
// is.
func inWords(f *pflag.Flag, err error) error {
	var num *strconv.NumError
	if !errors.As(err, &num) {
		return err
	}
	switch t := f.Value.Type(); {
	case t == "bool":
		return errors.New("give true or false")
	case strings.HasPrefix(t, "float"):
		return errors.New("give a number")
	case errors.Is(num.Err, strconv.ErrRange):
		return errors.New("give a smaller whole number")
	}
	return errors.New("give a whole number")
}

// flagValueError is the usage error for a value of the command line that a flag
// refused, in words (inWords).
func flagValueError(err error) error {
	var bad *pflag.InvalidValueError
	if errors.As(err, &bad) {
		if words := inWords(bad.GetFlag(), bad.Unwrap()); words != bad.Unwrap() {
			err = fmt.Errorf("invalid argument %q for \"--%s\" flag: %w", bad.GetValue(), bad.GetFlag().Name, words)
		}
	}
	return &usageError{err}
}

// envBool reads a boolean flag's value from the environment, where yes, no, on and off
// are as common as true and false.
func envBool(f *pflag.Flag, v string) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "yes", "on":
		v = "true"
	case "no", "off":
		v = "false"
	}
	if err := f.Value.Set(v); err != nil {
		return errors.New("give true or false (or yes or no, on or off, 1 or 0)")
	}
	return nil
}

// keepRunsEmbedded is how many finished runs the embedded Redis keeps by default. It
// holds them in this process's memory, about 3 KB of live heap each for a relay run:
// 2,000 are 6 MB, history enough to look into. A serve under load stays under 64 MB
// of RSS with embeddedMemoryLimit, and the fewer runs live in the heap, the less often
// the collector runs to stay under the limit. With the embedded Redis's shorter grace
// (the engine's keepGraceEmbedded), the collector's CPU per relay under load fell from
// 130 us with 5,000 runs to about 60 with 2,000; either change alone left it at 122 -
// 130 (docs/performance.md).
const keepRunsEmbedded = 2000

// keepHeapEmbedded is the budget of live heap, over what serve holds once started,
// past which the embedded Redis keeps fewer finished runs than --keep-runs
// (engine.Options.KeepHeap): 2,000 runs of 1 MiB bodies held 2 GB live, 3.3 GB of RSS.
// It is far above what small runs take (2,000 relay runs are 6 MB, and a serve
// relaying 2,700 a second had under 20 MB live), so they keep --keep-runs; a stream of
// 1 MiB webhooks peaked at 250 - 350 MB of RSS, and from 4 connections at 490 MB at
// 165 a second, 790 MB at 377, however many came (docs/performance.md).
const keepHeapEmbedded = 64 << 20

// keepRuns is --keep-runs: how many finished runs are kept, or, unset, the default for
// the Redis in use.
type keepRuns struct {
	n   int
	set bool
}

func (k *keepRuns) String() string {
	if !k.set {
		return ""
	}
	return strconv.Itoa(k.n)
}

func (k *keepRuns) Type() string { return "int" }

func (k *keepRuns) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return fmt.Errorf("%q: give a number of runs, or 0 to keep them all for the retention", s)
	}
	k.n, k.set = n, true
	return nil
}

// of is the cap for a Redis: the one given, else keepRunsEmbedded for the embedded
// Redis and none for a real one, which keeps runs for the retention as it always has.
func (k *keepRuns) of(embedded bool) int {
	switch {
	case k.set:
		return k.n
	case embedded:
		return keepRunsEmbedded
	}
	return 0
}

// heap is the budget of live heap for the finished runs a Redis keeps: keepHeapEmbedded
// for the embedded one, whose runs are in this process's heap, and none for a real one.
func (k *keepRuns) heap(embedded bool) uint64 {
	if embedded {
		return keepHeapEmbedded
	}
	return 0
}

// queryFlag reads the values of a repeatable --query NAME=VALUE: a resume's query, as
// a resume URL's ?NAME=VALUE would give it. A name given twice has each value, in
// order. nil for none.
func queryFlag(given []string) (url.Values, error) {
	if len(given) == 0 {
		return nil, nil
	}
	q := url.Values{}
	for _, kv := range given {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, badFlag("query", " %q: write it as NAME=VALUE, such as decision=approve", kv)
		}
		q.Add(name, value)
	}
	return q, nil
}
