package main

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

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
	v, err := workflows.ParseDuration(s)
	if err != nil {
		return err
	}
	if v < time.Second {
		return fmt.Errorf("%q: must be at least 1s", s)
	}
	*d = days(v)
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
