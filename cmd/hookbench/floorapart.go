package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// floorApartEnv makes hookbench the floor relay alone, in a process of its own: set by
// --floor-apart, to "KIND REDIS_URL SINK_ADDR" (KIND list, or reliable for the
// reliable floor), for the process it starts.
const floorApartEnv = "HOOKBENCH_FLOOR_APART"

// floorStopped is the line the floor's process writes once it has stopped the relay
// and deleted its list: its parent knows it stopped cleanly, not that it was killed.
const floorStopped = "stopped"

// apartFloor is the floor relay in a process of its own (--floor-apart): this program
// started again with floorApartEnv set. The target runs apart from the generator and
// the sink, and each webhook and each delivery crosses from one process to another;
// the floor in hookbench's own process hands them over between goroutines of one, and
// so sets a higher bar than a relay in its own process can reach.
type apartFloor struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser // closed to stop it
	stdout *bufio.Reader
	url    string
}

// startApartFloor starts the floor relay (or the reliable floor) in a process of its
// own, queueing in the Redis at redisURL and delivering to sinkAddr, and waits for it
// to listen. The process is in a process group of its own: a signal to hookbench's
// group (Ctrl-C, timeout, a service manager's stop) reaches hookbench, which ends the
// run and stops the floor, not the floor midway.
func startApartFloor(redisURL, sinkAddr string, reliable bool) (*apartFloor, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("--floor-apart: %w", err)
	}
	cmd := exec.Command(self)
	kind := "list"
	if reliable {
		kind = "reliable"
	}
	cmd.Env = append(os.Environ(), floorApartEnv+"="+kind+" "+redisURL+" "+sinkAddr)
	cmd.Stderr = os.Stderr
	ownProcessGroup(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("--floor-apart: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("--floor-apart: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("--floor-apart: %w", err)
	}
	f := &apartFloor{cmd: cmd, stdin: stdin, stdout: bufio.NewReader(stdout)}
	line, err := f.stdout.ReadString('\n')
	if err != nil {
		stdin.Close()
		return nil, fmt.Errorf("--floor-apart: the floor's process did not start: %w", errors.Join(err, cmd.Wait()))
	}
	f.url = strings.TrimSpace(line)
	return f, nil
}

// URL is where the floor takes webhooks.
func (f *apartFloor) URL() string { return f.url }

// PID is the floor's process.
func (f *apartFloor) PID() int { return f.cmd.Process.Pid }

// floorStopWait bounds how long Stop waits for the floor's process to stop (floor.Stop
// takes at most 5 s): one that is stuck is killed then, not waited for forever. A
// variable for a test to shorten.
var floorStopWait = 15 * time.Second

// Stop ends the floor's process, which stops as floor.Stop does, deleting its list,
// and says so.
func (f *apartFloor) Stop() error {
	f.stdin.Close()
	said := make(chan string, 1)
	go func() {
		last, _ := f.stdout.ReadString('\n')
		said <- last
	}()
	var last string
	select {
	case last = <-said:
	case <-time.After(floorStopWait):
		f.cmd.Process.Kill()
		f.cmd.Wait()
		return fmt.Errorf("the floor's process did not stop within %s: killed", floorStopWait)
	}
	if err := f.cmd.Wait(); err != nil {
		return fmt.Errorf("the floor's process: %w", err)
	}
	if strings.TrimSpace(last) != floorStopped {
		return fmt.Errorf("the floor's process ended without stopping the relay (it wrote %q)", last)
	}
	return nil
}

// runApartFloor is the floor's process: it starts the floor relay as spec says
// ("KIND REDIS_URL SINK_ADDR"), prints its URL, and stops it when stdin closes: when
// hookbench closes it, or ends. Signals are left to hookbench, which stops it then.
func runApartFloor(spec string, stdin io.Reader, stdout io.Writer) error {
	kind, rest, _ := strings.Cut(spec, " ")
	i := strings.LastIndexByte(rest, ' ') // a sink's address has no space
	if i < 0 || kind != "list" && kind != "reliable" {
		return fmt.Errorf("%s=%q: want list|reliable REDIS_URL SINK_ADDR", floorApartEnv, spec)
	}
	signal.Ignore(append([]os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}, jobControl...)...)
	f, err := startFloor(rest[:i], rest[i+1:], kind == "reliable")
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, f.URL())
	io.Copy(io.Discard, stdin)
	if err := f.Stop(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, floorStopped)
	return nil
}
