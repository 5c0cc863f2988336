package main

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// embeddedMemoryLimit is the soft memory limit (debug.SetMemoryLimit) of serve with
// the embedded Redis. The queue and the runs kept live in the Go heap then, and with
// the garbage collector's default pace the heap grows to twice what is live between
// collections: a serve keeping 5,000 runs peaked at 86 MB of RSS under load. With the
// limit, the collector runs sooner as the heap nears it, and the same load peaks under
// 64 MB (docs/performance.md). It is soft: past it, the heap grows rather than the
// collector take more than half the CPU.
const embeddedMemoryLimit = 44 << 20

// memoryTick is how often limitMemory looks at the live heap.
var memoryTick = time.Second

// limitMemory sets embeddedMemoryLimit, unless GOMEMLIMIT sets a limit of its own
// ("off" for none), and from then on, each memoryTick until stop, raises it to twice
// the live heap when that is more. A backlog in the embedded Redis (runs queued,
// waiting or retrying) is live: with the limit under it, the collector would run
// without a pause, taking up to half the CPU, for as long as the backlog lasts. When
// the backlog drains, the limit comes back down. Once stop returns, the limit is left
// as it is.
func limitMemory() (stop func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	debug.SetMemoryLimit(embeddedMemoryLimit)
	return everyTick(memoryTick, func(time.Time) { followLiveHeap() })
}

// followLiveHeap sets the memory limit for the heap live after the last collection.
func followLiveHeap() {
	debug.SetMemoryLimit(memoryLimit(liveHeap()))
}

// liveHeap is the heap live after the last collection.
func liveHeap() uint64 {
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	return live[0].Value.Uint64()
}

// memoryLimit is the limit for a heap with live bytes live: embeddedMemoryLimit, or
// twice the live heap when that is more. The limit counts all of the runtime's memory,
// not the heap alone, so a collection still comes a little sooner than at Go's default
// pace (GOGC=100), but never without a pause.
func memoryLimit(live uint64) int64 {
	return max(embeddedMemoryLimit, 2*int64(live))
}
