package workflows

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// WatchOptions tune Watch. Zero values take the defaults.
type WatchOptions struct {
	// Settle is how long the directory must be quiet, and its files unchanged, before
	// changed is called: an editor's save, or a copy of many files, is one change, and a
	// file being written is not read half-way. Default 100ms.
	Settle time.Duration
	// Rescan looks at the directory this often even without events, as a backstop for
	// file systems that do not report every change (network mounts, some containers).
	// Default 30s.
	Rescan time.Duration
}

// Watch calls changed when anything in the directory tree under dir may have changed:
// a file written, created, removed or renamed, a directory created (it is watched
// too), a symbolic link swapped (as Kubernetes updates a mounted ConfigMap), or dir
// itself replaced. changed is called once the tree has been quiet for Settle and the
// names, sizes and times of its files stayed the same over one more Settle. It runs on
// Watch's goroutine, one call at a time; it should compare what it reads with what it
// has, as a call does not prove a change. Watch returns at once, with an error when
// dir cannot be watched; it stops when ctx ends.
func Watch(ctx context.Context, dir string, o WatchOptions, changed func()) error {
	if o.Settle <= 0 {
		o.Settle = 100 * time.Millisecond
	}
	if o.Rescan <= 0 {
		o.Rescan = 30 * time.Second
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	if err := addTree(w, dir, dir); err != nil {
		w.Close()
		return err
	}
	go func() {
		defer w.Close()
		settle := time.NewTimer(o.Settle)
		settle.Stop()
		rescan := time.NewTicker(o.Rescan)
		defer rescan.Stop()
		last := "" // the files as seen when settle last fired
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if ev.Has(fsnotify.Create) {
					_ = addTree(w, dir, ev.Name) // a new directory: watch it and what it holds
				}
				last = ""
				settle.Reset(o.Settle)
			case _, ok := <-w.Errors:
				if !ok {
					return
				}
				// Events were lost, or a watch failed: watch the whole tree again, and look.
				_ = addTree(w, dir, dir)
				last = ""
				settle.Reset(o.Settle)
			case <-rescan.C:
				_ = addTree(w, dir, dir) // dir may have been replaced
				last = ""
				settle.Reset(o.Settle)
			case <-settle.C:
				now := filesState(dir)
				if now != last {
					last = now // still being written, maybe: look again in a moment
					settle.Reset(o.Settle)
					continue
				}
				last = ""
				changed()
			}
		}
	}()
	return nil
}

// addTree watches path and, when it is a directory, every directory below it that
// ReadDir reads: hidden ones below root are not (".git"), but a hidden directory's
// changes show as changes of the links into it.
func addTree(w *fsnotify.Watcher, root, path string) error {
	start := path
	if path == root {
		if resolved, err := filepath.EvalSymlinks(root); err == nil {
			start = resolved
		}
	}
	return filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == start {
				return err
			}
			return nil // it went away meanwhile
		}
		if !d.IsDir() {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") && (p != start || path != root) {
			return filepath.SkipDir
		}
		return w.Add(p)
	})
}

// filesState describes the workflow files under dir by name, size and modification
// time: when it stays the same over a moment, no one is writing them.
func filesState(dir string) string {
	var b strings.Builder
	if resolved, err := filepath.EvalSymlinks(dir); err == nil {
		dir = resolved
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".hcl" {
			return nil
		}
		if info, err := os.Stat(p); err == nil {
			fmt.Fprintf(&b, "%s %d %d\n", p, info.Size(), info.ModTime().UnixNano())
		}
		return nil
	})
	return b.String()
}
