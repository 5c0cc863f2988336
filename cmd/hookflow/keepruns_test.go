package main

import (
	"io"
	"runtime"
	"runtime/debug"
	"testing"
)

// --keep-runs caps the runs kept with the embedded Redis by default, and none on a real
// one; a number given, 0 included, is the cap for either; HOOKFLOW_KEEP_RUNS sets it.
func TestKeepRunsFlag(t *testing.T) {
	of := func(env string, args ...string) keepRuns {
		t.Helper()
		t.Setenv("HOOKFLOW_KEEP_RUNS", env)
		cmd, _, err := newRootCommand(nil, io.Discard, io.Discard).Find([]string{"serve"})
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.ParseFlags(args); err != nil {
			t.Fatal(err)
		}
		if err := flagsFromEnv(cmd); err != nil {
			t.Fatal(err)
		}
		return *cmd.Flags().Lookup("keep-runs").Value.(*keepRuns)
	}
	unset := of("")
	if unset.of(true) != keepRunsEmbedded || unset.of(false) != 0 {
		t.Errorf("unset: %d embedded, %d on a Redis server; want %d and 0", unset.of(true), unset.of(false), keepRunsEmbedded)
	}
	if k := of("", "--keep-runs", "0"); k.of(true) != 0 {
		t.Errorf("--keep-runs 0 keeps %d with the embedded Redis, want no cap", k.of(true))
	}
	if k := of("", "--keep-runs", "20"); k.of(false) != 20 {
		t.Errorf("--keep-runs 20 keeps %d on a Redis server", k.of(false))
	}
	if k := of("300"); k.of(true) != 300 || k.of(false) != 300 {
		t.Errorf("HOOKFLOW_KEEP_RUNS=300: %d, %d", k.of(true), k.of(false))
	}
	var k keepRuns
	for _, bad := range []string{"-1", "many", ""} {
		if err := k.Set(bad); err == nil {
			t.Errorf("--keep-runs %q taken", bad)
		}
	}
}

// The embedded Redis's soft memory limit is set unless GOMEMLIMIT says otherwise.
func TestLimitMemory(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })

	debug.SetMemoryLimit(1 << 40)
	t.Setenv("GOMEMLIMIT", "off")
	limitMemory(t.Context())
	if got := debug.SetMemoryLimit(-1); got != 1<<40 {
		t.Errorf("with GOMEMLIMIT set, the limit became %d", got)
	}
	t.Setenv("GOMEMLIMIT", "")
	limitMemory(t.Context())
	if got := debug.SetMemoryLimit(-1); got != embeddedMemoryLimit {
		t.Errorf("the limit is %d, want %d", got, embeddedMemoryLimit)
	}
}

// The limit rises to twice a live heap past half of it, as a queued backlog makes, and
// comes back when the backlog goes.
func TestMemoryLimitFollowsLiveHeap(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	debug.SetMemoryLimit(embeddedMemoryLimit)

	backlog := make([][]byte, 64)
	for i := range backlog {
		backlog[i] = make([]byte, 1<<20)
	}
	runtime.GC()
	followLiveHeap()
	if got := debug.SetMemoryLimit(-1); got < 128<<20 {
		t.Errorf("with 64 MiB live, the limit is %d MiB", got>>20)
	}
	runtime.KeepAlive(backlog)
	backlog = nil
	runtime.GC()
	followLiveHeap()
	// Other tests of the package may have left some of their own live.
	if got := debug.SetMemoryLimit(-1); got >= 128<<20 || got < embeddedMemoryLimit {
		t.Errorf("with the backlog gone, the limit is %d MiB", got>>20)
	}
	for live, want := range map[uint64]int64{0: embeddedMemoryLimit, 10 << 20: embeddedMemoryLimit, 22 << 20: embeddedMemoryLimit, 30 << 20: 60 << 20} {
		if got := memoryLimit(live); got != want {
			t.Errorf("with %d MiB live, the limit is %d MiB, want %d", live>>20, got>>20, want>>20)
		}
	}
}
