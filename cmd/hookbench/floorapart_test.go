package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
)

// TestMain lets this test binary be the floor's process too, as hookbench is for
// --floor-apart: it starts the program it runs in again.
func TestMain(m *testing.M) {
	if spec := os.Getenv(floorApartEnv); spec != "" {
		if err := runApartFloor(spec, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// --floor-apart also runs the floor relay in a process of its own, after the run with
// it in hookbench's, watched as the target is, and stops it, its list deleted, when its
// run ends; --floor-reliable runs the reliable floor in the same places after them; the
// report gives the ratio to each.
func TestFloorApart(t *testing.T) {
	b := redistest.Real(t)
	sinkAddr := freeAddr(t)
	f := newFakeEngine(t, "http://"+sinkAddr, "/relay")
	// With --watch-pid, each run also measures idle CPU for as long as --drain.
	args := []string{"--target", f.url, "--sink", sinkAddr, "--rate", "0", "--conns", "8",
		"--warmup", "0", "--duration", "300ms", "--drain", "3s", "--floor", b.URL, "--floor-apart", "--floor-reliable"}
	linux := runtime.GOOS == "linux" // --watch-pid reads /proc
	watched := args
	if linux {
		watched = append(watched, "--watch-pid", strconv.Itoa(os.Getpid()))
	}
	// Redis's count of BLMOVE calls when each floor starts, and after the run: only the
	// reliable floors make them.
	var moves []int64
	old := floorStarted
	t.Cleanup(func() { floorStarted = old })
	floorStarted = func(int, bool) { moves = append(moves, blmoves(t, b)) }
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), append(watched, "--json"), &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	floorStarted = old
	moves = append(moves, blmoves(t, b))
	if len(moves) != 5 {
		t.Fatalf("%d floors started, want 4", len(moves)-1)
	}

	var r struct {
		Floor, Target      report
		Apart              *report `json:"floor_apart"`
		Reliable           *report `json:"floor_reliable"`
		ReliableApart      *report `json:"floor_reliable_apart"`
		Ratio              float64 `json:"ratio_to_floor"`
		RatioApart         float64 `json:"ratio_to_floor_apart"`
		RatioReliable      float64 `json:"ratio_to_floor_reliable"`
		RatioReliableApart float64 `json:"ratio_to_floor_reliable_apart"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if r.Apart == nil || r.Reliable == nil || r.ReliableApart == nil {
		t.Fatalf("a floor did not run:\n%s", stdout.String())
	}
	// Each count covers a floor's run and the start of the next, whose workers may
	// make a first call each: a reliable floor moves each webhook it took at least
	// once, a floor hardly ever. (Redis 7 counts a blocking call when it returns, so
	// the next floor's workers, blocked on an empty queue, add none.)
	for i, x := range []struct {
		reliable bool
		of       *report
	}{{false, &r.Floor}, {false, r.Apart}, {true, r.Reliable}, {true, r.ReliableApart}} {
		made := moves[i+1] - moves[i]
		if x.reliable && made < int64(x.of.Generator.Accepted) || !x.reliable && made >= floorWorkers {
			t.Errorf("floor %d of 4 (reliable: %v) made %d BLMOVE calls for %d webhooks (counts %v)",
				i+1, x.reliable, made, x.of.Generator.Accepted, moves)
		}
	}
	for name, x := range map[string]report{"floor": r.Floor, "floor apart": *r.Apart, "reliable floor": *r.Reliable,
		"reliable floor apart": *r.ReliableApart, "target": r.Target} {
		if x.Generator == nil || x.Sink == nil || x.Generator.Accepted == 0 || x.Sink.Drain == nil || !x.Sink.Drain.Complete ||
			x.Sink.Delivered < x.Generator.Accepted || x.Generator.Errors != 0 {
			t.Fatalf("%s: %s", name, stdout.String())
		}
	}
	for _, c := range []struct {
		got  float64
		of   *report
		name string
	}{{r.Ratio, &r.Floor, "floor"}, {r.RatioApart, r.Apart, "floor apart"}, {r.RatioReliable, r.Reliable, "reliable floor"},
		{r.RatioReliableApart, r.ReliableApart, "reliable floor apart"}} {
		if want := r.Target.Sink.DeliveredPerSec / c.of.Sink.DeliveredPerSec; c.got <= 0 || c.got > want*1.0001 || c.got < want*0.9999 {
			t.Errorf("ratio to the %s %g, want %g", c.name, c.got, want)
		}
	}
	if r.Floor.Process != nil || r.Reliable.Process != nil {
		t.Errorf("a floor in hookbench's process has a process report: %+v, %+v", r.Floor.Process, r.Reliable.Process)
	}
	if linux {
		for _, p := range []*procReport{r.Apart.Process, r.ReliableApart.Process} {
			if p == nil || p.PID == os.Getpid() || p.PID <= 0 || p.Error != "" || p.Window.CPUS <= 0 || p.PeakRSSMB <= 0 {
				t.Fatalf("the floor's process report %+v", p)
			}
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", p.PID)); err == nil {
				t.Errorf("the floor's process %d still runs", p.PID)
			}
		}
		if r.Apart.Process.PID == r.ReliableApart.Process.PID {
			t.Errorf("both floors apart ran in process %d", r.Apart.Process.PID)
		}
		if r.Target.Process == nil || r.Target.Process.PID != os.Getpid() {
			t.Errorf("the target's process report %+v", r.Target.Process)
		}
	}
	if n := b.Client.Keys(context.Background(), "hookbench:floor:*").Val(); len(n) != 0 {
		t.Errorf("the floor's list is left in Redis: %v", n)
	}

	stdout.Reset()
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	for _, want := range []string{"== the floor in a process of its own", "ratio to the floor in a process of its own",
		"== the reliable floor: ", "== the reliable floor in a process of its own", "ratio to the reliable floor\t",
		"ratio to the reliable floor in a process of its own"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("the text report has no %q:\n%s", want, stdout.String())
		}
	}
	for _, flag := range []string{"--floor-apart", "--floor-reliable"} {
		if err := run(context.Background(), []string{"--target", f.url, "--sink", sinkAddr, flag}, &stdout, &stderr); err == nil {
			t.Errorf("%s without --floor was taken", flag)
		}
	}
}

// interruptApart runs the floors and a target, the run interrupted once the floor's
// process has started (with reliable, the reliable floor's, the floors all run):
// atStart gets its pid and the interrupt. It returns the run's output, the floor's
// Redis and the run's error.
func interruptApart(t *testing.T, reliable bool, atStart func(pid int, interrupt func()), format ...string) (string, *redistest.Backend, error) {
	b := redistest.Real(t)
	sinkAddr := freeAddr(t)
	f := newFakeEngine(t, "http://"+sinkAddr, "/relay")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	old := floorStarted
	t.Cleanup(func() { floorStarted = old })
	floorStarted = func(pid int, r bool) {
		if pid != 0 && r == reliable {
			atStart(pid, cancel)
		}
	}
	args := []string{"--target", f.url, "--sink", sinkAddr, "--rate", "0", "--conns", "8", "--warmup", "0",
		"--duration", "300ms", "--drain", "3s", "--floor", b.URL, "--floor-apart"}
	if reliable {
		args = append(args, "--floor-reliable")
	}
	var stdout, stderr bytes.Buffer
	err := run(ctx, append(args, format...), &stdout, &stderr)
	return stdout.String(), b, err
}

// An interrupt while the floor runs apart ends that run: the report covers the floor in
// hookbench's process and the part of the run apart, the target is not run, and the
// floor's process stops cleanly (the process group of its own keeps a signal to
// hookbench's group from killing it midway).
func TestFloorApartInterrupted(t *testing.T) {
	r, out := interruptMidway(t, false)
	if r.Floor.Interrupted || r.Floor.Generator == nil || r.Floor.Generator.Accepted == 0 {
		t.Errorf("the floor in hookbench's process: %+v", r.Floor)
	}
	if r.Apart == nil || !r.Apart.Interrupted || r.Apart.Generator == nil {
		t.Errorf("the floor apart, interrupted: %s", out)
	}
}

// interruptMidway interrupts a run 200 ms into the floor in a process of its own (with
// reliable, the reliable floor's), and checks what any such run leaves: the target not
// run and no ratio, the floor's process gone, no list of a floor left in Redis. It
// returns the report, as read and as written.
func interruptMidway(t *testing.T, reliable bool) (floorReport, string) {
	t.Helper()
	var pid int
	out, b, err := interruptApart(t, reliable, func(p int, interrupt func()) {
		pid = p
		time.AfterFunc(200*time.Millisecond, interrupt)
	}, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var r floorReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if r.Target.Generator != nil || strings.Contains(out, "ratio_to") {
		t.Errorf("the target ran after the interrupt, or has a ratio: %s", out)
	}
	if pid == 0 {
		t.Fatal("the floor's process never started")
	}
	if runtime.GOOS == "linux" {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			t.Errorf("the floor's process %d still runs", pid)
		}
	}
	if n := b.Client.Keys(context.Background(), "hookbench:floor:*").Val(); len(n) != 0 {
		t.Errorf("a floor's list is left in Redis: %v", n)
	}
	return r, out
}

// A floor apart that dies during an interrupted run: the report covers what was
// measured, and the failed stop is the run's error after it.
func TestFloorApartKilledInterrupted(t *testing.T) {
	out, _, err := interruptApart(t, false, func(pid int, interrupt func()) {
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill()
		}
		interrupt()
	})
	if err == nil || !strings.Contains(err.Error(), "stopping the floor relay") {
		t.Errorf("error %v, want the floor's failed stop", err)
	}
	for _, want := range []string{"== the floor: ", "delivered", "== the floor in a process of its own",
		"interrupted: the figures cover", "== the target: not run"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report has no %q:\n%s", want, out)
		}
	}
}

// An interrupt while the reliable floor runs apart: the three floors before it are
// reported whole, it in part, the target is not run, and its process stops, its lists
// deleted.
func TestFloorReliableInterrupted(t *testing.T) {
	r, out := interruptMidway(t, true)
	for name, x := range map[string]*report{"floor": &r.Floor, "floor apart": r.Apart, "reliable floor": r.Reliable} {
		if x == nil || x.Interrupted || x.Generator == nil || x.Generator.Accepted == 0 {
			t.Errorf("%s, before the interrupt: %s", name, out)
		}
	}
	if r.ReliableApart == nil || !r.ReliableApart.Interrupted || r.ReliableApart.Generator == nil {
		t.Errorf("the reliable floor apart, interrupted: %s", out)
	}
}

// blmoves is how many BLMOVE calls Redis has taken.
func blmoves(t *testing.T, b *redistest.Backend) int64 {
	t.Helper()
	info, err := b.Client.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(info) {
		if rest, ok := strings.CutPrefix(line, "cmdstat_blmove:calls="); ok {
			n, _, _ := strings.Cut(rest, ",")
			calls, err := strconv.ParseInt(n, 10, 64)
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			return calls
		}
	}
	return 0
}
