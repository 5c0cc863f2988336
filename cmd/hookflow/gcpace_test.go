package main

import (
	"runtime/debug"
	"testing"
)

// With --redis, serve paces the collector at redisGCPercent, unless GOGC says
// otherwise.
func TestPaceCollector(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })

	t.Setenv("GOGC", "")
	paceCollector()
	if got := debug.SetGCPercent(100); got != redisGCPercent {
		t.Errorf("GOGC unset: the pace is %d, want %d", got, redisGCPercent)
	}

	t.Setenv("GOGC", "100")
	paceCollector()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC=100: the pace is %d, want GOGC's", got)
	}
}
