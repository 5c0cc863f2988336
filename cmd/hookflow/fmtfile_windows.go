package main

import (
	"io/fs"
	"os"
	"syscall"
)

// openNoFollow is none: Windows has no flag for it. Making a symbolic link there
// takes a privilege, or developer mode.
const openNoFollow = 0

// fileOwner is not known here: a new file gets its owner and access control list
// from the directory, not from the file it replaces.
func fileOwner(fs.FileInfo) (owner, bool) { return owner{}, false }

// fileLinks is the number of names (hard links) of the open file f; 1 when unknown.
func fileLinks(f *os.File) uint64 {
	var d syscall.ByHandleFileInformation
	if syscall.GetFileInformationByHandle(syscall.Handle(f.Fd()), &d) != nil {
		return 1
	}
	return uint64(d.NumberOfLinks)
}
