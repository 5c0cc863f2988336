package main

import (
	"os"
	"runtime/debug"
)

// embeddedMemoryLimit is the soft memory limit (debug.SetMemoryLimit) of serve with
// the embedded Redis. The queue and the runs kept live in the Go heap then, and with
// the garbage collector's default pace the heap grows to twice what is live between
// collections: a serve keeping 5,000 runs peaked at 86 MB of RSS under load. With the
// limit, the collector runs sooner as the heap nears it, and the same load peaks under
// 64 MB (docs/performance.md). It is soft: past it, the heap grows rather than the
// collector take more than half the CPU.
const embeddedMemoryLimit = 44 << 20

// serveGCPercent is the garbage collector's pace (debug.SetGCPercent) of serve on a
// Redis server: the heap grows to four times what is live between collections, not
// twice. What serve keeps live then is small (a run's state lives in Redis), about
// 7 MB under load, so at the default pace the collector ran 18 times a second at
// 4,500 relays/s. At this pace it runs a third as often: a relay costs about 5% less
// CPU, and serve peaks at 53 - 62 MB under load instead of 37 - 42
// (docs/performance.md). With the embedded Redis the memory limit paces it instead.
const serveGCPercent = 300

// paceGC sets serveGCPercent, unless GOGC sets a pace of its own.
func paceGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
}

// limitMemory sets embeddedMemoryLimit, unless GOMEMLIMIT sets a limit of its own
// ("off" for none).
func limitMemory() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(embeddedMemoryLimit)
	}
}
