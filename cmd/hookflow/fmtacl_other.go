//go:build !linux

package main

// hasACL is false here: hookflow fmt reads access control lists on Linux only. On
// other systems (macOS's, Windows's), a file renamed over one does not keep it.
func hasACL(string) bool { return false }
