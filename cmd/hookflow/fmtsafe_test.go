//go:build linux

package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	messyFile = "workflow \"a\" {\ndescription=\"x\"\n}\n"
	cleanFile = "workflow \"a\" {\n  description = \"x\"\n}\n"
)

// How fmt writes a file: by a rename, or in place (a file with another hard link).
var fmtWays = []struct {
	name  string
	setup func(t *testing.T, path string)
}{
	{"renamed", func(*testing.T, string) {}},
	{"in place", func(t *testing.T, path string) {
		if err := os.Link(path, filepath.Join(t.TempDir(), "other.hcl")); err != nil {
			t.Fatal(err)
		}
	}},
}

// A file replaced between its read and its write, by a symbolic link to another file
// or by another file, is not written, and neither is what the link points to: run as
// root in a directory anyone may write to, fmt would otherwise overwrite any file.
func TestFmtFileReplacedBeforeItsWrite(t *testing.T) {
	for _, way := range fmtWays {
		for _, swap := range []struct {
			name string
			swap func(t *testing.T, path, secret string)
		}{
			{"by a symbolic link", func(t *testing.T, path, secret string) {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(secret, path); err != nil {
					t.Fatal(err)
				}
			}},
			{"by another file", func(t *testing.T, path, secret string) {
				data, _ := os.ReadFile(secret)
				if err := os.WriteFile(path+".new", data, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(path+".new", path); err != nil {
					t.Fatal(err)
				}
			}},
		} {
			t.Run(way.name+" "+swap.name, func(t *testing.T) {
				dir := t.TempDir()
				path, secret := filepath.Join(dir, "w.hcl"), filepath.Join(t.TempDir(), "secret.hcl")
				const secretText = "workflow \"secret\" {\ndescription=\"only root reads this\"\n}\n"
				if err := os.WriteFile(secret, []byte(secretText), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(messyFile), 0o644); err != nil {
					t.Fatal(err)
				}
				way.setup(t, path)
				setHook(t, &beforeWrite, func(p string) { swap.swap(t, p, secret) })

				stdout, stderr, err := hookflowCLI(t, "fmt", path)
				if err != exitError(1) || stdout != "" || !strings.Contains(stderr, "replaced while it was being formatted") {
					t.Errorf("fmt: %v %q %q, want the file refused as replaced", err, stdout, stderr)
				}
				if data, _ := os.ReadFile(secret); string(data) != secretText {
					t.Errorf("the other file is now:\n%s", data)
				}
				if data, _ := os.ReadFile(path); string(data) != secretText {
					t.Errorf("w.hcl is now:\n%s", data)
				}
				noneLeft(t, dir)
			})
		}
	}
}

// A file replaced once its new content is being written beside it is not replaced by
// that: what was put in its place stays.
func TestFmtFileReplacedBeforeItsRename(t *testing.T) {
	dir := t.TempDir()
	path, other := filepath.Join(dir, "w.hcl"), filepath.Join(t.TempDir(), "other.hcl")
	if err := os.WriteFile(path, []byte(messyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, []byte(messyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	setHook(t, &createTemp, func(d, pattern string) (*os.File, error) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(other, path); err != nil {
			t.Fatal(err)
		}
		return os.CreateTemp(d, pattern)
	})
	stdout, stderr, err := hookflowCLI(t, "fmt", path)
	if err != exitError(1) || stdout != "" || stderr != "hookflow fmt: "+path+": "+errChanged.Error()+"\n" {
		t.Errorf("fmt: %v %q %q, want the file refused as replaced", err, stdout, stderr)
	}
	if info, err := os.Lstat(path); err != nil || info.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("w.hcl is no longer the link put there: %v %v", info.Mode(), err)
	}
	if data, _ := os.ReadFile(other); string(data) != messyFile {
		t.Errorf("the other file is now:\n%s", data)
	}
	noneLeft(t, dir)
}

// A file whose mode lets no one write it is refused, however fmt would write it, and
// by root too: it is not replaced by a rename.
func TestFmtReadOnlyFile(t *testing.T) {
	for _, way := range fmtWays {
		t.Run(way.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "w.hcl")
			if err := os.WriteFile(path, []byte(messyFile), 0o444); err != nil {
				t.Fatal(err)
			}
			way.setup(t, path)
			stdout, stderr, err := hookflowCLI(t, "fmt", path)
			if err != exitError(1) || stdout != "" || stderr != "hookflow fmt: "+path+": "+errReadOnly.Error()+"\n" {
				t.Errorf("fmt: %v %q %q, want the file refused as read-only", err, stdout, stderr)
			}
			if data, _ := os.ReadFile(path); string(data) != messyFile {
				t.Errorf("w.hcl is now:\n%s", data)
			}
			if info, _ := os.Stat(path); info.Mode() != 0o444 {
				t.Errorf("mode %v", info.Mode())
			}
			noneLeft(t, dir)
		})
	}
}

// A file written in place is copied first, beside it or, in a directory fmt may not
// write to, in the temporary directory; a file fmt may write in a directory it may
// not is written in place. A write that fails half-way leaves the copy and names it;
// one that succeeds removes it.
func TestFmtInPlaceKeepsACopy(t *testing.T) {
	for _, tc := range []struct {
		name      string
		links     bool // another hard link: written in place
		dirLocked bool // no new file in the file's directory
		fail      bool // the write fails between the new content and the cut
	}{
		{"hard link", true, false, false},
		{"hard link, write fails", true, false, true},
		{"directory not writable", false, true, false},
		{"directory not writable, write fails", false, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, tmp := t.TempDir(), t.TempDir()
			t.Setenv("TMPDIR", tmp)
			path := filepath.Join(dir, "w.hcl")
			// Longer than what fmt makes of it: a write cut short leaves the old tail.
			const messy = "workflow \"a\" {\ndescription      =      \"x\"\n}\n"
			if err := os.WriteFile(path, []byte(messy), 0o644); err != nil {
				t.Fatal(err)
			}
			if tc.links {
				fmtWays[1].setup(t, path)
			}
			inode := inodeOf(t, path)
			var copies []string
			setHook(t, &createTemp, func(d, pattern string) (*os.File, error) {
				if tc.dirLocked && filepath.Clean(d) == dir {
					return nil, &fs.PathError{Op: "open", Path: filepath.Join(d, pattern), Err: syscall.EACCES}
				}
				f, err := os.CreateTemp(d, pattern)
				if err == nil && strings.HasSuffix(pattern, ".bak") {
					copies = append(copies, f.Name())
				}
				return f, err
			})
			if tc.fail {
				setHook(t, &afterOverwrite, func() error { return errors.New("write w.hcl: no space left on device") })
			}

			stdout, stderr, err := hookflowCLI(t, "fmt", path)
			if len(copies) != 1 {
				t.Fatalf("copies %v, want one", copies)
			}
			copyDir := dir
			if tc.dirLocked {
				copyDir = tmp
			}
			if filepath.Dir(copies[0]) != copyDir {
				t.Errorf("copy %s, want it in %s", copies[0], copyDir)
			}
			if inodeOf(t, path) != inode {
				t.Errorf("w.hcl was replaced, not written in place")
			}
			data, _ := os.ReadFile(path)
			if !tc.fail {
				if err != nil || stdout != path+"\n" || string(data) != cleanFile {
					t.Errorf("fmt: %v %q %q; w.hcl:\n%s", err, stdout, stderr, data)
				}
				noneLeft(t, dir, tmp)
				return
			}
			want := "hookflow fmt: " + path + ": write w.hcl: no space left on device; it may be part written: its content before fmt is in " + copies[0] + "\n"
			if err != exitError(1) || stdout != "" || stderr != want {
				t.Errorf("fmt: %v %q\n%s\nwant\n%s", err, stdout, stderr, want)
			}
			if string(data) != cleanFile+messy[len(cleanFile):] {
				t.Errorf("w.hcl, part written:\n%q", data)
			}
			if kept, _ := os.ReadFile(copies[0]); string(kept) != messy {
				t.Errorf("the copy holds %q, want w.hcl as it was", kept)
			}
			if info, err := os.Stat(copies[0]); err != nil || info.Mode() != 0o600 {
				t.Errorf("the copy's mode: %v %v, want -rw-------", info.Mode(), err)
			}
		})
	}
}

// setHook sets *hook to f for the test.
func setHook[T any](t *testing.T, hook *T, f T) {
	t.Helper()
	was := *hook
	*hook = f
	t.Cleanup(func() { *hook = was })
}

func inodeOf(t *testing.T, path string) uint64 {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Sys().(*syscall.Stat_t).Ino
}

// noneLeft fails the test when fmt left a new file or a copy in dirs.
func noneLeft(t *testing.T, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		for _, glob := range []string{".*.tmp", ".*.bak", "*.bak"} {
			if left, _ := filepath.Glob(filepath.Join(dir, glob)); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
		}
	}
}

// A file replaced by a named pipe before its write is refused as replaced: fmt does
// not wait for a reader of the pipe.
func TestFmtFileReplacedByAPipe(t *testing.T) {
	for _, way := range fmtWays {
		t.Run(way.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "w.hcl")
			if err := os.WriteFile(path, []byte(messyFile), 0o644); err != nil {
				t.Fatal(err)
			}
			way.setup(t, path)
			setHook(t, &beforeWrite, func(p string) {
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
				if err := syscall.Mkfifo(p, 0o666); err != nil {
					t.Fatal(err)
				}
			})
			type result struct {
				stderr string
				err    error
			}
			done := make(chan result, 1)
			go func() {
				_, stderr, err := hookflowCLI(t, "fmt", path)
				done <- result{stderr, err}
			}()
			select {
			case r := <-done:
				if r.err != exitError(1) || !strings.Contains(r.stderr, "replaced while it was being formatted") {
					t.Errorf("fmt: %v %q, want the file refused as replaced", r.err, r.stderr)
				}
			case <-time.After(time.Minute):
				// Let the open waiting for a reader go on, and end the test.
				if f, err := os.OpenFile(path, os.O_RDONLY, 0); err == nil {
					defer f.Close()
				}
				t.Fatal("fmt waits for a reader of the pipe put in the file's place")
			}
		})
	}
}
