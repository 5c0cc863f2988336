package main

import "syscall"

// hasACL says whether the file at path has an access control list, which a new file
// renamed over it would not have: a POSIX one, or an NFSv4 one (on an NFS mount, where
// every file may have one, so that such files are all written in place).
func hasACL(path string) bool {
	for _, attr := range []string{"system.posix_acl_access", "system.nfs4_acl"} {
		if n, err := syscall.Getxattr(path, attr, nil); err == nil && n > 0 {
			return true
		}
	}
	return false
}
