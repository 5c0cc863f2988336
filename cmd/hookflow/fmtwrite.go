package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// How hookflow fmt writes a file it formats: as the same file to everyone else who
// reads it, with its mode, owner, access control list and hard links; and only the
// file it read, never one put in its place since (a symbolic link to another file,
// in a directory others may write to).

var (
	// errReadOnly is a file that no one may write, by its mode.
	errReadOnly = errors.New("the file is read-only: not written (make it writable to format it)")
	// errChanged is a file replaced, by another file or a symbolic link, between its
	// read and its write.
	errChanged = errors.New("the file was replaced while it was being formatted: not written (run fmt again)")
	// errOwner is a new file that cannot be given the owner of the file it would replace.
	errOwner = errors.New("the new file cannot be given the owner of the file it replaces")
	// errNoNewFile is a new file that cannot be created beside the file it would replace.
	errNoNewFile = errors.New("no new file can be created beside the file")
)

// Hooks for tests, nil otherwise: beforeWrite runs between the read of the file at
// path and its write; createTemp creates the new file and the copy of the old.
var (
	beforeWrite func(path string)
	createTemp  = os.CreateTemp
)

// writeFormatted replaces the content old of the file at path, which is no symbolic
// link, with data. src is the file old was read from, still open: the file written
// must be it (os.SameFile of their Stat), and while src is open, no other file can
// take its identity.
//
// It writes a new file beside it, with the file's mode and owner, and renames that over
// it, so that a reader (serve's watcher) or a crash never sees it half written. A
// rename would lose what it cannot carry over: the other names of a file with hard
// links (they would keep the old content), an access control list, or the owner when
// the new file cannot be given it (fmt run by another user than the owner, not root);
// and it needs a directory fmt may write to. Such a file is written in place instead,
// with a copy of it kept until it is whole (writeInPlace).
//
// Either way, the file is written only when fmt could write it in place: a file whose
// mode lets no one write it is refused, as is one that fmt's user may not open for
// writing; a rename would replace either.
func writeFormatted(path string, src *os.File, old, data []byte) error {
	if beforeWrite != nil {
		beforeWrite(path)
	}
	read, err := src.Stat()
	if err != nil {
		return err
	}
	if read.Mode().Perm()&0o222 == 0 {
		return errReadOnly
	}
	f, err := openSame(path, read)
	if err != nil {
		return err
	}
	if fileLinks(f) <= 1 && !hasACL(path) {
		f.Close() // before the rename: Windows renames no file held open
		err := replaceFile(path, src, read, data)
		if !errors.Is(err, errOwner) && !errors.Is(err, errNoNewFile) {
			return err
		}
		if f, err = openSame(path, read); err != nil {
			return err
		}
	}
	err = writeInPlace(f, path, old, data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// openSame opens the file at path for writing, when it is still the file read
// describes: not a symbolic link put in its place (which is not followed), nor
// another file. It fails as writing the file in place would, when fmt's user may not.
func openSame(path string, read fs.FileInfo) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|openNoFollow, 0)
	if err != nil {
		if now, lerr := os.Lstat(path); lerr == nil && !os.SameFile(read, now) {
			return nil, errChanged // a symbolic link, which O_NOFOLLOW refused
		}
		return nil, err
	}
	if now, err := f.Stat(); err != nil || !os.SameFile(read, now) {
		f.Close()
		if err != nil {
			return nil, err
		}
		return nil, errChanged
	}
	return f, nil
}

// owner is who owns a file.
type owner struct{ uid, gid int }

// replaceFile writes data to a new file beside path, with the mode of src, which read
// describes, and, when known, its owner's user and group, and renames it over path.
// It fails with errOwner when the new file cannot be given the owner, and with
// errNoNewFile when fmt may not create it, path left as it was.
func replaceFile(path string, src *os.File, read fs.FileInfo, data []byte) error {
	f, err := createTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%w: %w", errNoNewFile, err)
	}
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = fill(f, data, read)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// The name must still be the file read, and no symbolic link: a rename
		// replaces what the name is, so it could not harm another file, but a file
		// put there since would be lost. Between this look and the rename, it could
		// still be replaced: the window is short, and closing it needs a rename that
		// exchanges two names (Linux's renameat2), which not every system has.
		if now, lerr := os.Lstat(path); lerr != nil || !now.Mode().IsRegular() || !os.SameFile(read, now) {
			err = errChanged
		}
	}
	if err == nil {
		if runtime.GOOS == "windows" {
			src.Close() // Windows renames over no file held open; there, a file's identity is not reused soon
		}
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// fill gives the new file f the owner (when known) and mode of the file read
// describes, and writes data to it.
func fill(f *os.File, data []byte, read fs.FileInfo) error {
	if o, known := fileOwner(read); known {
		info, err := f.Stat()
		if err != nil {
			return err
		}
		// Before the mode: a chown clears the setuid and setgid bits.
		if mine, _ := fileOwner(info); mine != o && f.Chown(o.uid, o.gid) != nil {
			return errOwner
		}
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(read.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)); err != nil {
		return err
	}
	return f.Sync()
}
