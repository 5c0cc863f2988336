//go:build !unix && !windows

package main

import (
	"os"
	"os/exec"
)

// ownProcessGroup leaves cmd as it is where there are no process groups to start it in.
func ownProcessGroup(*exec.Cmd) {}

// jobControl: none here.
var jobControl []os.Signal
