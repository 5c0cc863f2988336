package workflows

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A workflow file past MaxFileSize is an error at the file, saying the limit; the
// other files are read all the same. One of MaxFileSize bytes is read.
func TestReadDirCapsTheSize(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "a.hcl"), []byte(`workflow "a" {}`), 0o644))
	big := filepath.Join(dir, "big.hcl")
	must(os.WriteFile(big, nil, 0o644))
	must(os.Truncate(big, MaxFileSize+1))
	srcs, diags := ReadDir(dir)
	if len(diags) != 1 || diags[0].Summary != "File too large" || diags[0].Subject == nil || diags[0].Subject.Filename != big ||
		!strings.Contains(diags[0].Detail, "at most 10 MiB") {
		t.Errorf("diagnostics %v, want one error at %s saying the limit", diags, big)
	}
	if len(srcs) != 1 || filepath.Base(srcs[0].Name) != "a.hcl" {
		t.Errorf("read %d files, want a.hcl only", len(srcs))
	}

	must(os.Truncate(big, MaxFileSize))
	if data, err := ReadFile(big); err != nil || len(data) != MaxFileSize {
		t.Errorf("a file of MaxFileSize bytes: %d bytes read, %v", len(data), err)
	}
	if _, err := ReadFile(dir); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "not a regular file: a directory") {
		t.Errorf("reading a directory: %v, want ErrNotRegular", err)
	}
}
