//go:build unix

package main

import (
	"io/fs"
	"syscall"
)

// fileOwner is the owner and the number of hard links of the file info describes.
func fileOwner(info fs.FileInfo) (owner, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return owner{}, false
	}
	return owner{uid: int(st.Uid), gid: int(st.Gid), links: uint64(st.Nlink)}, true
}
