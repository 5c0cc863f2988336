//go:build !linux

package main

// hasACL is false here: hookflow fmt reads access control lists on Linux only.
func hasACL(string) bool { return false }
