package workflows

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// ReadDir follows symbolic links to directories as it does links to files, and names
// what it cannot follow: a link to nothing, and a link to a directory above it.
func TestReadDirFollowsLinkedDirectories(t *testing.T) {
	write := func(t *testing.T, p, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(t *testing.T, target, p string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		links func(t *testing.T, dir, out string)
		read  []string // the files read, relative to dir
		link  string   // the link an error names, relative to dir
		diags []string // the summary and detail expected, in part
	}{
		{
			name:  "linked directory",
			links: func(t *testing.T, dir, out string) { link(t, filepath.Join(out, "ext"), filepath.Join(dir, "ext")) },
			read:  []string{"a.hcl", "ext/sub/y.hcl", "ext/x.hcl"},
		},
		{
			name: "relative link, and a link to a directory read already",
			links: func(t *testing.T, dir, out string) {
				write(t, filepath.Join(dir, "own", "o.hcl"), `workflow "o" {}`)
				link(t, "own", filepath.Join(dir, "same"))
			},
			read: []string{"a.hcl", "own/o.hcl", "same/o.hcl"},
		},
		{
			name:  "hidden link to nothing",
			links: func(t *testing.T, dir, out string) { link(t, filepath.Join(out, "gone"), filepath.Join(dir, ".gone")) },
			read:  []string{"a.hcl"},
		},
		{
			name: "link to nothing",
			links: func(t *testing.T, dir, out string) {
				link(t, filepath.Join(out, "gone"), filepath.Join(dir, "sub", "gone"))
			},
			link:  "sub/gone",
			diags: []string{"Broken symbolic link", "gone\", which cannot be read (no such file or directory)"},
		},
		{
			name:  "link to the directory itself",
			links: func(t *testing.T, dir, out string) { link(t, ".", filepath.Join(dir, "self")) },
			link:  "self",
			diags: []string{"Symbolic link cycle", "in the workflow directory; it points to \".\""},
		},
		{
			name:  "link to the directory that holds it",
			links: func(t *testing.T, dir, out string) { link(t, "..", filepath.Join(dir, "up")) },
			link:  "up",
			diags: []string{"Symbolic link cycle"},
		},
		{
			name:  "link to an ancestor",
			links: func(t *testing.T, dir, out string) { link(t, "../..", filepath.Join(dir, "sub", "deep", "up")) },
			link:  "sub/deep/up",
			diags: []string{"Symbolic link cycle"},
		},
		{
			name: "cycle through linked directories",
			links: func(t *testing.T, dir, out string) {
				link(t, filepath.Join(out, "A"), filepath.Join(dir, "a"))
				link(t, filepath.Join(out, "B"), filepath.Join(out, "A", "b"))
				link(t, filepath.Join(out, "A"), filepath.Join(out, "B", "c"))
			},
			link:  "a/b/c",
			diags: []string{"Symbolic link cycle"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			dir, out := filepath.Join(base, "wf"), filepath.Join(base, "elsewhere")
			write(t, filepath.Join(dir, "a.hcl"), `workflow "a" {}`)
			write(t, filepath.Join(out, "ext", "x.hcl"), `workflow "x" {}`)
			write(t, filepath.Join(out, "ext", "sub", "y.hcl"), `workflow "y" {}`)
			write(t, filepath.Join(out, "ext", ".hidden", "z.hcl"), `workflow "z" {}`)
			tc.links(t, dir, out)
			srcs, diags := ReadDir(dir)
			var names []string
			for _, s := range srcs {
				rel, _ := filepath.Rel(dir, s.Name)
				names = append(names, filepath.ToSlash(rel))
			}
			if !reflect.DeepEqual(names, tc.read) {
				t.Errorf("read %v, want %v", names, tc.read)
			}
			if len(tc.diags) == 0 {
				if len(diags) > 0 {
					t.Errorf("diagnostics: %s", diags.Error())
				}
				return
			}
			if len(diags) != 1 || !diags.HasErrors() {
				t.Fatalf("diagnostics %v, want one error", diags)
			}
			got := diags[0].Summary + ": " + diags[0].Detail
			if want := filepath.Join(dir, tc.link) + " is a symbolic link"; !strings.HasPrefix(diags[0].Detail, want) {
				t.Errorf("diagnostic %q does not start with %q", got, want)
			}
			for _, want := range tc.diags {
				if !strings.Contains(got, want) {
					t.Errorf("diagnostic %q does not say %q", got, want)
				}
			}
		})
	}
}
