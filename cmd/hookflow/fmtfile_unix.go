//go:build unix

package main

import (
	"io/fs"
	"os"
	"syscall"
)

// openNoFollow makes an open fail on a symbolic link rather than open the file it
// points to, and not wait on a named pipe put in the file's place (an open of one
// for writing waits for a reader; without one it fails at once instead, and the
// check of what was opened refuses it as replaced). A regular file is written as
// without it.
const openNoFollow = syscall.O_NOFOLLOW | syscall.O_NONBLOCK

// fileOwner is the owner of the file info describes.
func fileOwner(info fs.FileInfo) (owner, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return owner{}, false
	}
	return owner{uid: int(st.Uid), gid: int(st.Gid)}, true
}

// fileLinks is the number of names (hard links) of the open file f; 1 when unknown.
func fileLinks(f *os.File) uint64 {
	if info, err := f.Stat(); err == nil {
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			return uint64(st.Nlink)
		}
	}
	return 1
}
