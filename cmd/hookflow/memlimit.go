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

// limitMemory sets embeddedMemoryLimit, unless GOMEMLIMIT sets a limit of its own
// ("off" for none).
func limitMemory() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(embeddedMemoryLimit)
	}
}
