//go:build unix

package main

import (
	"os"
	"os/exec"
	"syscall"
)

// ownProcessGroup starts cmd in a process group of its own (startApartFloor says why).
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// jobControl are the signals the floor's process ignores besides the ones that end a
// process: in a group of its own it is a background job of the terminal, and one set
// to stop a background job that writes to it (stty tostop) would stop it at its first
// line on stderr, where hookbench would wait for it.
var jobControl = []os.Signal{syscall.SIGTTOU}
