package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/testutil"
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
	if unset.heap(true) != keepHeapEmbedded || unset.heap(false) != 0 {
		t.Errorf("the heap's budget: %d embedded, %d on a Redis server; want %d and none", unset.heap(true), unset.heap(false), keepHeapEmbedded)
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
	limitMemory()()
	if got := debug.SetMemoryLimit(-1); got != 1<<40 {
		t.Errorf("with GOMEMLIMIT set, the limit became %d", got)
	}
	t.Setenv("GOMEMLIMIT", "")
	stop := limitMemory()
	defer stop()
	if got := debug.SetMemoryLimit(-1); got != embeddedMemoryLimit {
		t.Errorf("the limit is %d, want %d", got, embeddedMemoryLimit)
	}
}

// The limit rises to twice a live heap past half of it, as a backlog makes, and comes
// back down when the backlog goes.
func TestMemoryLimitFollowsLiveHeap(t *testing.T) {
	before, tick := debug.SetMemoryLimit(-1), memoryTick
	t.Cleanup(func() { debug.SetMemoryLimit(before); memoryTick = tick })
	t.Setenv("GOMEMLIMIT", "")
	memoryTick = 5 * time.Millisecond
	stop := limitMemory()
	defer stop()

	// becomes waits for the limit to satisfy ok, collecting meanwhile so that the live
	// heap is as the test left it.
	becomes := func(what string, ok func(int64) bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; {
			runtime.GC()
			got := debug.SetMemoryLimit(-1)
			if ok(got) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the limit stayed at %d MiB", what, got>>20)
			}
			time.Sleep(memoryTick)
		}
	}
	backlog := make([][]byte, 64)
	for i := range backlog {
		backlog[i] = make([]byte, 1<<20)
	}
	becomes("with 64 MiB live", func(got int64) bool { return got >= 128<<20 })
	with := debug.SetMemoryLimit(-1)
	runtime.KeepAlive(backlog)
	backlog = nil
	// Other tests of the package, running meanwhile, may hold some of their own live,
	// and more than when the backlog was: the limit follows the live heap down to what
	// they hold, without the backlog's 64 MiB (a tick's worth of slack, as they change).
	becomes("with the backlog gone", func(got int64) bool {
		return got >= embeddedMemoryLimit && got <= memoryLimit(liveHeap())+16<<20 && (got < with || liveHeap() >= 64<<20)
	})

	for live, want := range map[uint64]int64{0: embeddedMemoryLimit, 10 << 20: embeddedMemoryLimit, 22 << 20: embeddedMemoryLimit, 30 << 20: 60 << 20} {
		if got := memoryLimit(live); got != want {
			t.Errorf("with %d MiB live, the limit is %d MiB, want %d", live>>20, got>>20, want>>20)
		}
	}
}

// serve with the embedded Redis keeps the finished runs of 1 MiB webhooks within the
// heap's budget, far fewer than --keep-runs: the cap counts runs, the budget their bytes.
func TestServeKeepsLargeRunsWithinTheHeapBudget(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "big.hcl"), []byte(`
workflow "big" {
  trigger "webhook" {
    path = "/big"
  }
  step "log" "got" {
    message = "{{ len(event.body.pad) }} bytes"
  }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	const size, runs = 1 << 20, keepHeapEmbedded/(1<<20) + 40
	runtime.GC() // the budget counts from the heap live at the start: not from what others left to collect
	s := serveWith(t, serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", workers: 4, allowNet: loopback})
	body := fmt.Sprintf(`{"pad": %q}`, strings.Repeat("A", size-64)) // under the default max_body of 1 MiB
	for range runs {
		resp, err := http.Post("http://"+s.publicAddr+"/hooks/big", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("webhook answered %d", resp.StatusCode)
		}
	}
	ctx := context.Background()
	kept := 0
	testutil.Eventually(t, 60*time.Second, fmt.Sprintf("the finished runs kept hold at most %d MiB", keepHeapEmbedded>>20), func() bool {
		runtime.GC() // a collection for the cap to weigh, as the runs' own garbage makes
		page, err := s.engine.Runs(ctx, engine.RunFilter{Limit: engine.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		kept = 0
		for _, r := range page.Runs {
			if r.Status == engine.RunSucceeded {
				kept++
			}
		}
		return kept*size <= keepHeapEmbedded
	})
	if kept == 0 {
		t.Error("every run was dropped: the newest is kept")
	}
}
