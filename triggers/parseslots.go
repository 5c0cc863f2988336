package triggers

import (
	"context"
	"runtime"
	"time"
)

// largeBody is the size past which a webhook body takes one of the parse slots while
// it is parsed and its runs are started. The body budget counts a body's bytes; what
// parsing makes of them is many times that (a JSON list of small objects takes about
// 30 – 45 times its size in maps and lists), and is held until the runs are started.
// Bodies this size or smaller are parsed in microseconds, and at most ~45 times 64 KiB;
// larger ones, parsed a few at a time, keep a burst of them (32 bodies of 1 MiB of
// `[{},{},…]` took 1.3 GB at once) to a few parses' worth.
const largeBody = 64 << 10

// largeBodyWait is how long a large body waits for a parse slot before its request is
// answered 503.
const largeBodyWait = 5 * time.Second

// parseSlots bounds how many large bodies are parsed, and their events held, at once:
// as many as there are CPUs to parse them, at least two.
type parseSlots chan struct{}

func newParseSlots() parseSlots {
	return make(parseSlots, max(2, runtime.GOMAXPROCS(0)))
}

// take waits for a slot, up to wait or ctx's end, and returns what gives it back; ok
// is false when none came.
func (s parseSlots) take(ctx context.Context, wait time.Duration) (release func(), ok bool) {
	select {
	case s <- struct{}{}:
		return func() { <-s }, true
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case s <- struct{}{}:
		return func() { <-s }, true
	case <-t.C:
	case <-ctx.Done():
	}
	return nil, false
}
