//go:build unix

package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// The floor's process is in a process group of its own and ignores the signals a
// terminal or a service manager sends, and the one that stops a background job writing
// to its terminal: only hookbench stops it, by closing its stdin, and then it says it
// stopped. One killed instead is an error.
func TestFloorApartKeepsToItself(t *testing.T) {
	b := redistest.Real(t)
	f, err := startApartFloor(b.URL, freeAddr(t), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.cmd.Process.Kill() }) // when the test fails before Stop
	pgid, err := syscall.Getpgid(f.PID())
	if err != nil || pgid == syscall.Getpgrp() {
		t.Errorf("the floor's process group %d (%v), hookbench's %d", pgid, err, syscall.Getpgrp())
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGTTOU} {
		if err := syscall.Kill(f.PID(), sig); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	client := &http.Client{Timeout: 5 * time.Second} // a stopped process never answers
	resp, err := client.Post(f.URL(), "application/json", strings.NewReader(`{"kind": "not bench"}`))
	if err != nil {
		t.Fatalf("the floor does not answer after the signals: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("a filtered webhook: %s, want 200", resp.Status)
	}
	if err := f.Stop(); err != nil {
		t.Errorf("stopping: %v", err)
	}

	killed, err := startApartFloor(b.URL, freeAddr(t), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killed.cmd.Process.Kill() })
	if err := syscall.Kill(killed.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := killed.Stop(); err == nil {
		t.Error("a floor killed stopped without an error")
	}
}

// A floor's process that does not stop when told (here, stopped by SIGSTOP) is killed
// once floorStopWait has passed, and Stop says so, rather than wait for it forever.
func TestFloorApartKilledWhenStuck(t *testing.T) {
	b := redistest.Real(t)
	old := floorStopWait
	floorStopWait = time.Second
	t.Cleanup(func() { floorStopWait = old })
	f, err := startApartFloor(b.URL, freeAddr(t), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.cmd.Process.Kill() })
	if err := syscall.Kill(f.PID(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitStopped(t, f.PID())
	err = f.Stop()
	if err == nil || !strings.Contains(err.Error(), "did not stop within") {
		t.Errorf("Stop: %v, want that it did not stop", err)
	}
	if err := syscall.Kill(f.PID(), 0); err != syscall.ESRCH {
		t.Errorf("the floor's process is still there: %v", err)
	}
}

// waitStopped waits until process pid is stopped, where /proc tells: a signal is
// delivered when the process next runs, and on a busy machine the floor's could read
// its closed stdin and end first.
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	stat := fmt.Sprintf("/proc/%d/stat", pid)
	if _, err := os.Stat(stat); err != nil {
		return // no /proc here: the signal is taken to have arrived
	}
	testutil.Eventually(t, 10*time.Second, "the floor's process stopped", func() bool {
		data, err := os.ReadFile(stat)
		if err != nil {
			return false
		}
		// The state follows the command's name, in parentheses that may hold spaces.
		_, rest, _ := strings.Cut(string(data[bytes.LastIndexByte(data, ')')+1:]), " ")
		return strings.HasPrefix(rest, "T") || strings.HasPrefix(rest, "t")
	})
}
