//go:build !linux

package main

import "testing"

// refusingAddr is a loopback address where a connection is refused: one freeAddr
// found free (off Linux, another process may take it meanwhile).
func refusingAddr(t *testing.T) string { return freeAddr(t) }
