package main

import (
	"os"
	"os/exec"
	"syscall"
)

// ownProcessGroup starts cmd in a process group of its own (startApartFloor says why):
// on Windows, a console's Ctrl-C then reaches hookbench and not it.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// jobControl: Windows has no job-control signals.
var jobControl []os.Signal
