//go:build linux || darwin

package workflows

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// A named pipe, or a link to a device, among the workflow files is an error at the
// file, found without reading it: a pipe would hold the read until a writer came, and
// /dev/zero never ends. So is one read with file().
func TestReadDirRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	pipe, zero := filepath.Join(dir, "pipe.hcl"), filepath.Join(dir, "zero.hcl")
	if err := syscall.Mkfifo(pipe, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.hcl"), []byte("workflow \"a\" {\n  step \"call\" \"x\" {\n    url  = \"https://x\"\n"+
		"    json = { text = file(\"pipe.hcl\") }\n  }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	type read struct {
		srcs  []Source
		diags hcl.Diagnostics
	}
	done := make(chan read, 1)
	go func() {
		srcs, diags := ReadDir(dir)
		done <- read{srcs, diags}
	}()
	var got read
	select {
	case got = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("ReadDir still reading after 5 s")
	}
	want := map[string]string{pipe: "not a regular file: a named pipe", zero: "not a regular file: a character device"}
	for _, d := range got.diags {
		if d.Severity == hcl.DiagError && d.Summary == "Not a regular file" && d.Subject != nil &&
			strings.Contains(d.Detail, d.Subject.Filename+": "+want[d.Subject.Filename]) {
			delete(want, d.Subject.Filename)
		}
	}
	if len(want) > 0 || len(got.diags) != 2 {
		t.Errorf("diagnostics %v; none for %v", got.diags, want)
	}
	if len(got.srcs) != 1 || filepath.Base(got.srcs[0].Name) != "a.hcl" {
		t.Fatalf("read %d files, want a.hcl only", len(got.srcs))
	}

	loaded := make(chan hcl.Diagnostics, 1)
	go func() {
		_, diags := Load(got.srcs, testKinds())
		loaded <- diags
	}()
	select {
	case diags := <-loaded:
		if !diags.HasErrors() || !strings.Contains(diags.Error(), "not a regular file: a named pipe") {
			t.Errorf("file() of a named pipe: %v", diags)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("file() of a named pipe still reading after 5 s")
	}
}
