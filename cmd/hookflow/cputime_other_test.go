//go:build !unix

package main

import "time"

// cpuTime is the CPU time the process has used: not read here, so 0, and the
// benchmarks that report it report none.
func cpuTime() time.Duration { return 0 }
