//go:build !linux

package redistest

import "os/exec"

// startChild starts cmd. Outside Linux, a shared cluster's processes outlive a test
// binary that is killed.
func startChild(cmd *exec.Cmd) error { return cmd.Start() }
