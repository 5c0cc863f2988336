package e2e

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
)

// The tests send SIGTERM: a process started in the background by a shell that is not
// interactive has SIGINT ignored, and a Go program that stops catching it leaves it so.

// TestSignalEndsACommandThatDoesNotWatchForIt: fmt reading its standard input, which
// never ends, stops at the first SIGTERM, as the signal does by default: it catches no
// signal it would not look at.
func TestSignalEndsACommandThatDoesNotWatchForIt(t *testing.T) {
	cmd := exec.Command(hookflowBinary(t), "fmt", "-")
	stdin, err := cmd.StdinPipe() // held open: fmt waits for more
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	time.Sleep(200 * time.Millisecond) // under way, reading
	cmd.Process.Signal(syscall.SIGTERM)
	waitSignalled(t, cmd, 10*time.Second)
}

// TestSecondSignalEndsTheDrain: a serve draining at SIGTERM, its step still in
// progress, ends at once at a second SIGTERM, as it would at SIGKILL, rather than wait
// for the step.
func TestSecondSignalEndsTheDrain(t *testing.T) {
	b := redistest.Real(t)
	called := make(chan struct{}, 1)
	release := make(chan struct{})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case called <- struct{}{}:
		default:
		}
		<-release // no answer until the test ends
	}))
	t.Cleanup(api.Close)
	t.Cleanup(func() { close(release) })
	dir := writeWorkflow(t, "hang.hcl", `
workflow "hang" {
  trigger "webhook" {
    path = "/hang"
  }
  step "http" "call" {
    url     = "${env("FAULT_API")}/call"
    timeout = "2m"
  }
}
`)
	p := startProc(t, dir, b.URL, api.URL)
	resp, err := http.Post("http://"+p.public+"/hooks/hang", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	select {
	case <-called:
	case <-time.After(20 * time.Second):
		t.Fatal("the step did not call the API within 20s")
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.waitLog(t, "shutting down")
	time.Sleep(500 * time.Millisecond) // draining: the step holds the stop for up to 30s
	if p.cmd.ProcessState != nil {
		t.Fatal("hookflow stopped before the step finished")
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	waitSignalled(t, p.cmd, 5*time.Second)
}

// waitSignalled waits for cmd to end, within, and checks SIGTERM ended it.
func waitSignalled(t *testing.T, cmd *exec.Cmd, within time.Duration) {
	t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("hookflow exited with %v, want ended by SIGTERM", err)
		}
		if ws, ok := exit.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
			t.Errorf("hookflow exited with %v, want ended by SIGTERM", err)
		}
	case <-time.After(within):
		t.Fatalf("hookflow still running %v after SIGTERM", within)
	}
}
