package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// How hookflow fmt writes a file it formats: as the same file to everyone else who
// reads it, with its mode, owner, access control list and hard links.

// writeFormatted replaces the content of the file at path, which is no symbolic link,
// with data. It writes a new file beside it, with the file's mode and owner, and
// renames that over it, so that a reader (serve's watcher) or a crash never sees it
// half written. A rename would lose what it cannot carry over: the other names of a
// file with hard links (they would keep the old content), an access control list,
// or the owner when the new file cannot be given it (fmt run by another user than
// the owner, not root). Such a file is written in place instead.
func writeFormatted(path string, data []byte) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	o, known := fileOwner(info)
	if (known && o.links > 1) || hasACL(path) {
		return writeInPlace(path, data)
	}
	err = replaceFile(path, data, info.Mode(), o, known)
	if errors.Is(err, errOwner) {
		return writeInPlace(path, data)
	}
	return err
}

// owner is who owns a file, and how many names (hard links) it has.
type owner struct {
	uid, gid int
	links    uint64
}

var errOwner = errors.New("the new file cannot be given the owner of the file it replaces")

// replaceFile writes data to a new file beside path, with mode and, when known, the
// owner's user and group, and renames it over path. It fails with errOwner, path
// left as it was, when the new file cannot be given the owner.
func replaceFile(path string, data []byte, mode fs.FileMode, o owner, known bool) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = fill(f, data, mode, o, known)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// fill gives the new file f the owner o (when known) and mode, and writes data to it.
func fill(f *os.File, data []byte, mode fs.FileMode, o owner, known bool) error {
	if known {
		info, err := f.Stat()
		if err != nil {
			return err
		}
		// Before the mode: a chown clears the setuid and setgid bits.
		if mine, _ := fileOwner(info); (mine.uid != o.uid || mine.gid != o.gid) && f.Chown(o.uid, o.gid) != nil {
			return errOwner
		}
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)); err != nil {
		return err
	}
	return f.Sync()
}

// writeInPlace writes data over the file at path, then cuts it to data's length:
// every name of the file sees the change, and its owner, mode and access control list
// stay. Not truncated first, so that a reader never finds it empty (to serve's
// watcher, a workflow file with no workflow in it), though one may read it part
// written, as with any editor that saves in place.
func writeInPlace(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Truncate(int64(len(data)))
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
