package workflows

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// walkTree calls visit for root and everything below it that ReadDir reads, in
// lexical order: each directory before what it holds, and each file, by its path
// through root and the links. Entries whose name starts with "." are skipped below
// root. Symbolic links are followed, to files and to directories alike. A link to a
// directory that holds it, on the file system or by the path walked (a cycle), and a
// link to nothing are skipped, each with an error diagnostic; an error of visit, or one reading a directory, ends the walk.
func walkTree(root string, visit func(path string, info fs.FileInfo) error) (hcl.Diagnostics, error) {
	info, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return nil, visit(root, info)
	}
	w := &treeWalk{visit: visit}
	err = w.dir(root, info, holders(root))
	return w.diags, err
}

// holders are the directories that hold dir on the file system, "/" first: a link
// below dir to one of them is a cycle too.
func holders(dir string) []fs.FileInfo {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil
	}
	if real, err = filepath.Abs(real); err != nil {
		return nil
	}
	var out []fs.FileInfo
	for p := filepath.Dir(real); ; p = filepath.Dir(p) {
		if info, err := os.Stat(p); err == nil {
			out = append(out, info)
		}
		if p == filepath.Dir(p) {
			break
		}
	}
	slices.Reverse(out)
	return out
}

type treeWalk struct {
	visit func(path string, info fs.FileInfo) error
	diags hcl.Diagnostics
}

// dir walks the directory at path; above are the directories that hold it, on the
// file system and by the path walked.
func (w *treeWalk) dir(path string, info fs.FileInfo, above []fs.FileInfo) error {
	if err := w.visit(path, info); err != nil {
		return err
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return err
	}
	above = append(above, info)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(path, e.Name())
		var info fs.FileInfo
		if e.Type()&fs.ModeSymlink != 0 {
			if info, err = os.Stat(p); err != nil {
				w.diags = append(w.diags, linkDiag(p, "Broken symbolic link",
					"it points to %s, which cannot be read (%v): fix the link or remove it.", err))
				continue
			}
			if info.IsDir() && slices.ContainsFunc(above, func(a fs.FileInfo) bool { return os.SameFile(a, info) }) {
				w.diags = append(w.diags, linkDiag(p, "Symbolic link cycle",
					"it points to %s, a directory that holds the link, so its files would be read for ever: "+
						"link to a directory outside of it.", nil))
				continue
			}
		} else if info, err = e.Info(); err != nil {
			return err
		}
		if info.IsDir() {
			err = w.dir(p, info, above)
		} else {
			err = w.visit(p, info)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// linkDiag is a diagnostic about the symbolic link at p; detail has a %s for where it
// points, and a %v for err when err is not nil.
func linkDiag(p, summary, detail string, err error) *hcl.Diagnostic {
	target, rerr := os.Readlink(p)
	if rerr != nil {
		target = "?"
	}
	args := []any{fmt.Sprintf("%q", target)}
	if err != nil {
		if pe, ok := err.(*fs.PathError); ok {
			err = pe.Err // the path is the link's, named already
		}
		args = append(args, err)
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf("%s is a symbolic link in the workflow directory; ", p) + fmt.Sprintf(detail, args...),
	}
}
