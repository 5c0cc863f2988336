package main

import "syscall"

// hasACL says whether the file at path has a POSIX access control list, which a new
// file renamed over it would not have.
func hasACL(path string) bool {
	n, err := syscall.Getxattr(path, "system.posix_acl_access", nil)
	return err == nil && n > 0
}
