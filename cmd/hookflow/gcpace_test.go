package main

import (
	"runtime/debug"
	"testing"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
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

// serve paces the collector with --redis, and leaves Go's pace to the embedded Redis
// (which keeps its runs in the heap, under memlimit.go's limit).
func TestServePacesTheCollectorWithRedis(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })
	t.Setenv("GOGC", "")
	t.Setenv("FAULT_API", "http://127.0.0.1:1") // no step runs
	dir := testutil.WriteRelay(t)

	serveDir(t, dir, "", "127.0.0.1:0")
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("embedded: the pace is %d, want Go's 100", got)
	}
	serveDir(t, dir, redistest.Real(t).URL, "127.0.0.1:0")
	if got := debug.SetGCPercent(100); got != redisGCPercent {
		t.Errorf("with --redis: the pace is %d, want %d", got, redisGCPercent)
	}
}
