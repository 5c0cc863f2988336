package workflows

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/hashicorp/hcl/v2"
)

// MaxFileSize is the most a file hookflow loads may hold: a workflow file, a test
// file, or one a workflow reads with file(). It is far above any file written by
// hand, and keeps one that is no workflow (a log, a dump) from filling the memory.
const MaxFileSize = 10 << 20 // 10 MiB

var (
	// ErrNotRegular is a file that is not a regular one, after following symbolic
	// links: a named pipe, whose read waits for a writer that may never come, a device
	// such as /dev/zero, whose read never ends, a socket, a directory.
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge is a file of more than MaxFileSize bytes.
	ErrTooLarge = fmt.Errorf("larger than %d MiB", MaxFileSize>>20)
)

// ReadFile reads the file at path, following symbolic links, when it is a regular file
// of at most MaxFileSize bytes. Anything else is refused without being read, so a
// named pipe or a device among the files cannot stall a load: the error wraps
// ErrNotRegular or ErrTooLarge, and says what the file is.
func ReadFile(path string) ([]byte, error) {
	data, f, err := ReadFileOpen(path)
	if f != nil {
		f.Close()
	}
	return data, err
}

// ReadFileOpen is ReadFile, returning the file it read still open, for the caller to
// close. Its Stat describes the file read even when path names another one since
// (os.SameFile tells); and while it is open, no new file can take its identity (its
// inode), even when it is removed.
func ReadFileOpen(path string) ([]byte, *os.File, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if err := regular(path, info); err != nil {
		return nil, nil, err
	}
	// Opened without blocking: a file replaced by a named pipe since the Stat would
	// wait for a writer otherwise. What was opened is checked again.
	f, err := os.OpenFile(path, os.O_RDONLY|openNonBlocking, 0)
	if err != nil {
		return nil, nil, err
	}
	if info, err = f.Stat(); err == nil {
		err = regular(path, info)
	}
	var data []byte
	if err == nil {
		data, err = io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	}
	if err == nil && len(data) > MaxFileSize { // it grew since the Stat
		err = fmt.Errorf("%s: %w", path, ErrTooLarge)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return data, f, nil
}

// regular returns nil when info, of the file at path, is a regular file small enough.
func regular(path string, info fs.FileInfo) error {
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s: %w: %s", path, ErrNotRegular, fileType(info.Mode()))
	}
	if info.Size() > MaxFileSize {
		return fmt.Errorf("%s: %w (%d bytes)", path, ErrTooLarge, info.Size())
	}
	return nil
}

// fileType names the type of a file that is not a regular one.
func fileType(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a directory"
	}
	return "an irregular file"
}

// readDiagnostic is the error of a file under a directory that could not be read,
// pointing at the file.
func readDiagnostic(path string, err error) *hcl.Diagnostic {
	at := &hcl.Range{Filename: path, Start: hcl.InitialPos, End: hcl.InitialPos}
	switch {
	case errors.Is(err, ErrNotRegular):
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Not a regular file", Subject: at,
			Detail: fmt.Sprintf("%v. hookflow reads only regular files, or symbolic links to them: "+
				"a named pipe would hold the load until something writes to it, and a device may never end. "+
				"Remove it, or give it a name that does not end in .hcl.", err)}
	case errors.Is(err, ErrTooLarge):
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "File too large", Subject: at,
			Detail: fmt.Sprintf("%v: a file hookflow loads may hold at most %d MiB. "+
				"Split its workflows into several files.", err, MaxFileSize>>20)}
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read file", Subject: at, Detail: err.Error()}
}
