package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// afterOverwrite, for tests, runs between writing a file in place and cutting it to
// length: an error from it is one of the write.
var afterOverwrite func() error

// writeInPlace writes data over f, the file at path, which holds old, then cuts it to
// data's length: every name of the file sees the change, and its owner, mode and
// access control list stay. Not truncated first, so that a reader never finds it empty
// (to serve's watcher, a workflow file with no workflow in it).
//
// Until it is done, the file is part new, part old: a crash, or a disk that fills,
// would leave it so. A copy of old is written first, as gofmt -w does, beside the file
// or, in a directory fmt may not write to, in the system's temporary directory; it is
// removed once the file is whole and synced, and kept, its name in the error, when
// anything fails.
func writeInPlace(f *os.File, path string, old, data []byte) error {
	backup, err := writeBackup(path, old)
	if err != nil {
		return fmt.Errorf("not written: no copy of it could be kept first: %w", err)
	}
	if err := overwrite(f, data); err != nil {
		return fmt.Errorf("%w; it may be part written: its content before fmt is in %s", err, backup)
	}
	if err := os.Remove(backup); err != nil {
		return fmt.Errorf("formatted, but its copy %s could not be removed: %w", backup, err)
	}
	return nil
}

// overwrite writes data over the start of f, cuts f to its length, and syncs it.
func overwrite(f *os.File, data []byte) error {
	if _, err := f.WriteAt(data, 0); err != nil {
		return err
	}
	if afterOverwrite != nil {
		if err := afterOverwrite(); err != nil {
			return err
		}
	}
	if err := f.Truncate(int64(len(data))); err != nil {
		return err
	}
	return f.Sync()
}

// writeBackup writes old to a new file, readable by fmt's user only: a hidden one
// beside path (.NAME.*.bak, which serve does not load), else one in the system's
// temporary directory (hookflow-fmt-NAME.*.bak). It returns the copy's name once the
// copy is synced.
func writeBackup(path string, old []byte) (string, error) {
	dir, name := filepath.Split(path)
	backup, err := writeCopy(dir, "."+name+".*.bak", old)
	if err == nil {
		return backup, nil
	}
	backup, terr := writeCopy(os.TempDir(), "hookflow-fmt-"+name+".*.bak", old)
	if terr != nil {
		return "", fmt.Errorf("%v; %w", err, terr)
	}
	return backup, nil
}

// writeCopy writes data to a new file in dir named after pattern (os.CreateTemp's),
// syncs it and its directory's entry, and returns its name.
func writeCopy(dir, pattern string, data []byte) (string, error) {
	f, err := createTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	// So that the copy's name, not only its content, outlasts a crash. Windows syncs no
	// directory: there, the copy's own sync is all.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return f.Name(), nil
}
