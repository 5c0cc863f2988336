//go:build !linux

package redistest

import (
	"errors"
	"os"
	"os/exec"
)

// startChild starts cmd. Outside Linux, a shared cluster's processes outlive a test
// binary that is killed.
func startChild(cmd *exec.Cmd) error { return cmd.Start() }

// pause is for Linux only: tests that pause a server need SIGSTOP.
func pause(*os.Process, bool) error { return errors.New("pausing a process is done on Linux only") }
