package main

import (
	"os"
	"runtime/debug"
)

// redisGCPercent is the garbage collector's pace (debug.SetGCPercent) of serve with
// --redis, unless GOGC sets one. The runs are in Redis then, and the heap live in
// serve is small and steady (5 - 7 MB under load): at Go's default pace (100) the
// collector ran 17 times a second at 5,000 relays a second, each collection costing
// about the same whatever the heap's size, a tenth of serve's CPU in all. At 200 it
// runs about half as often, for 7 - 13 MB more RSS under load (docs/performance.md).
// The embedded Redis keeps its runs in the heap: that serve keeps Go's pace, with the
// memory limit of memlimit.go.
const redisGCPercent = 200

// paceCollector sets redisGCPercent unless GOGC is set.
func paceCollector() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(redisGCPercent)
	}
}
