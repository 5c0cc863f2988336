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
)

// floorApartEnv makes hookbench the floor relay alone, in a process of its own: set by
// --floor-apart, to "REDIS_URL SINK_ADDR", for the process it starts.
const floorApartEnv = "HOOKBENCH_FLOOR_APART"

// apartFloor is the floor relay in a process of its own (--floor-apart): this program
// started again with floorApartEnv set. The target runs apart from the generator and
// the sink, and each webhook and each delivery crosses from one process to another;
// the floor in hookbench's own process hands them over between goroutines of one, and
// so sets a higher bar than a relay in its own process can reach.
type apartFloor struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser // closed to stop it
	url   string
}

// startApartFloor starts the floor relay in a process of its own, queueing in the
// Redis at redisURL and delivering to sinkAddr, and waits for it to listen.
func startApartFloor(redisURL, sinkAddr string) (*apartFloor, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("--floor-apart: %w", err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), floorApartEnv+"="+redisURL+" "+sinkAddr)
	cmd.Stderr = os.Stderr
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
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stdin.Close()
		return nil, fmt.Errorf("--floor-apart: the floor's process did not start: %w", errors.Join(err, cmd.Wait()))
	}
	return &apartFloor{cmd: cmd, stdin: stdin, url: strings.TrimSpace(line)}, nil
}

// URL is where the floor takes webhooks.
func (f *apartFloor) URL() string { return f.url }

// PID is the floor's process.
func (f *apartFloor) PID() int { return f.cmd.Process.Pid }

// Stop ends the floor's process, which stops as Stop does and deletes its list.
func (f *apartFloor) Stop() error {
	f.stdin.Close()
	if err := f.cmd.Wait(); err != nil {
		return fmt.Errorf("the floor's process: %w", err)
	}
	return nil
}

// runApartFloor is the floor's process: it starts the floor relay as spec says
// ("REDIS_URL SINK_ADDR"), prints its URL, and stops it when stdin closes: when
// hookbench closes it, or ends. An interrupt is left to hookbench, which stops it then.
func runApartFloor(spec string, stdin io.Reader, stdout io.Writer) error {
	redisURL, sinkAddr, ok := strings.Cut(spec, " ")
	if !ok {
		return fmt.Errorf("%s=%q: want REDIS_URL SINK_ADDR", floorApartEnv, spec)
	}
	signal.Ignore(os.Interrupt)
	f, err := startFloor(redisURL, sinkAddr)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, f.URL())
	io.Copy(io.Discard, stdin)
	return f.Stop()
}
