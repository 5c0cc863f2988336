//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// hookflow fmt changes the content of a file, and nothing else: its mode (setgid bit
// included), its owner when run as root on another user's file, every name of a
// file with hard links, its access control list.
func TestFmtKeepsTheFile(t *testing.T) {
	const messy = "workflow \"a\" {\ndescription=\"x\"\n}\n"
	const clean = "workflow \"a\" {\n  description = \"x\"\n}\n"
	for _, tc := range []struct {
		name  string
		root  bool                                   // needs root, to give the file away
		setup func(t *testing.T, path string) string // returns another name to read, or ""
		check func(t *testing.T, path string, info fs.FileInfo)
	}{
		{"mode", false, func(t *testing.T, path string) string {
			chmod(t, path, 0o604)
			return ""
		}, func(t *testing.T, _ string, info fs.FileInfo) {
			if info.Mode() != 0o604 {
				t.Errorf("mode %v, want -rw----r--", info.Mode())
			}
		}},
		{"mode with setgid", false, func(t *testing.T, path string) string {
			chmod(t, path, 0o640|fs.ModeSetgid)
			return ""
		}, func(t *testing.T, _ string, info fs.FileInfo) {
			if info.Mode() != 0o640|fs.ModeSetgid {
				t.Errorf("mode %v, want setgid -rw-r-----", info.Mode())
			}
		}},
		{"hard link", false, func(t *testing.T, path string) string {
			other := filepath.Join(t.TempDir(), "other.hcl")
			if err := os.Link(path, other); err != nil {
				t.Fatal(err)
			}
			return other
		}, func(t *testing.T, path string, info fs.FileInfo) {
			if st := info.Sys().(*syscall.Stat_t); st.Nlink != 2 {
				t.Errorf("%d links, want 2", st.Nlink)
			}
		}},
		{"owner", true, func(t *testing.T, path string) string {
			if err := os.Chown(path, 1000, 1000); err != nil {
				t.Fatal(err)
			}
			chmod(t, path, 0o640)
			return ""
		}, func(t *testing.T, _ string, info fs.FileInfo) {
			if st := info.Sys().(*syscall.Stat_t); st.Uid != 1000 || st.Gid != 1000 || info.Mode() != 0o640 {
				t.Errorf("owner %d:%d, mode %v; want 1000:1000, -rw-r-----", st.Uid, st.Gid, info.Mode())
			}
		}},
		{"access control list", false, func(t *testing.T, path string) string {
			if err := syscall.Setxattr(path, "system.posix_acl_access", testACL, 0); err != nil {
				if os.Getenv("CI") == "true" {
					t.Fatalf("this file system keeps no access control list: %v; CI runs this test on one that does", err)
				}
				t.Skipf("this file system keeps no access control list: %v", err)
			}
			return ""
		}, func(t *testing.T, path string, _ fs.FileInfo) {
			got := make([]byte, 256)
			n, err := syscall.Getxattr(path, "system.posix_acl_access", got)
			if err != nil || !bytes.Equal(got[:n], testACL) {
				t.Errorf("access control list %x (%v), want %x", got[:max(n, 0)], err, testACL)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root && os.Getuid() != 0 {
				if os.Getenv("CI") == "true" {
					t.Fatal("only root gives a file to another user; CI runs this test as root")
				}
				t.Skip("only root gives a file to another user")
			}
			path := filepath.Join(t.TempDir(), "w.hcl")
			if err := os.WriteFile(path, []byte(messy), 0o644); err != nil {
				t.Fatal(err)
			}
			other := tc.setup(t, path)
			var stdout, stderr bytes.Buffer
			if err := run(context.Background(), []string{"fmt", path}, nil, &stdout, &stderr); err != nil || stdout.String() != path+"\n" {
				t.Fatalf("fmt: %v %q %s", err, stdout.String(), stderr.String())
			}
			for _, p := range []string{path, other} {
				if data, err := os.ReadFile(p); p != "" && string(data) != clean {
					t.Errorf("%s after fmt (%v):\n%s", p, err, data)
				}
			}
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, path, info)
			noneLeft(t, filepath.Dir(path))
		})
	}
}

// testACL is a POSIX access control list, as Linux stores it in the extended
// attribute system.posix_acl_access: the file's owner rw, user 1000 rw, the file's
// group r, mask rw, others r.
var testACL = func() []byte {
	b := binary.LittleEndian.AppendUint32(nil, 2) // its version
	for _, e := range [][3]uint32{{0x01, 6, ^uint32(0)}, {0x02, 6, 1000}, {0x04, 4, ^uint32(0)}, {0x10, 6, ^uint32(0)}, {0x20, 4, ^uint32(0)}} {
		b = binary.LittleEndian.AppendUint16(b, uint16(e[0]))
		b = binary.LittleEndian.AppendUint16(b, uint16(e[1]))
		b = binary.LittleEndian.AppendUint32(b, e[2])
	}
	return b
}()

func chmod(t *testing.T, path string, mode fs.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
