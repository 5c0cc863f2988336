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
	// Default DefaultRescan.
	Rescan time.Duration
}

// DefaultRescan is how often Watch looks at the directory without events, unless
// WatchOptions.Rescan says otherwise.
const DefaultRescan = 30 * time.Second

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
		o.Rescan = DefaultRescan
	}
	dir, err := filepath.Abs(dir) // "." has no parent to watch
	if err != nil {
		return err
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	if err := addTree(w, dir, dir); err != nil {
		w.Close()
		return err
	}
	// The parent tells when dir itself is replaced, or is a link pointed elsewhere.
	parent := filepath.Dir(dir)
	_ = w.Add(parent)
	root, _ := filepath.EvalSymlinks(dir)
	// Changes that never stop (a log written into the directory) must not hold a
	// reload back for ever: past maxWait from the first change, it goes ahead.
	maxWait := min(10*o.Settle, o.Rescan)
	go func() {
		defer w.Close()
		settle := time.NewTimer(o.Settle)
		settle.Stop()
		deadline := time.NewTimer(maxWait)
		deadline.Stop()
		rescan := time.NewTicker(o.Rescan)
		defer rescan.Stop()
		pending := false // a change not applied yet
		last, seen := "", false
		// Past maxWait: the files as last seen, and the Settles waited for them to stay so.
		stable, recheck := "", 0
		fire := func() {
			pending, seen, stable, recheck = false, false, "", 0
			settle.Stop()
			deadline.Stop()
			changed()
		}
		note := func() {
			if !pending {
				pending = true
				deadline.Reset(maxWait)
			}
			seen = false
			settle.Reset(o.Settle)
		}
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if filepath.Dir(ev.Name) == parent && ev.Name != dir {
					continue // a neighbour of dir
				}
				if resolved, _ := filepath.EvalSymlinks(dir); resolved != root {
					// dir was replaced, or its link points elsewhere: watch the new tree.
					unwatch(w, root)
					root = resolved
					_ = w.Add(parent)
					_ = addTree(w, dir, dir)
				} else if ev.Has(fsnotify.Create) {
					_ = addTree(w, dir, ev.Name) // a new directory: watch it and what it holds
				}
				note()
			case _, ok := <-w.Errors:
				if !ok {
					return
				}
				// Events were lost, or a watch failed: watch the whole tree again, and look.
				_ = addTree(w, dir, dir)
				note()
			case <-rescan.C:
				_ = addTree(w, dir, dir) // dir may have been replaced
				fire()
			case <-deadline.C:
				// Past maxWait, the events need not stop, but the workflow files must
				// stay the same over one Settle: a reload must not read a file between
				// its truncation and its write. Files that never stop changing are
				// read anyway after as many Settles again.
				if now := filesState(dir); now != stable && recheck < 10 {
					stable = now
					recheck++
					deadline.Reset(o.Settle)
					continue
				}
				fire()
			case <-settle.C:
				now := filesState(dir)
				if !seen || now != last {
					last, seen = now, true // still being written, maybe: look again in a moment
					settle.Reset(o.Settle)
					continue
				}
				fire()
			}
		}
	}()
	return nil
}

// unwatch stops watching root and the directories below it.
func unwatch(w *fsnotify.Watcher, root string) {
	if root == "" {
		return
	}
	for _, p := range w.WatchList() {
		if p == root || strings.HasPrefix(p, root+string(filepath.Separator)) {
			_ = w.Remove(p)
		}
	}
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
		if err != nil {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") && p != dir {
			if d.IsDir() {
				return filepath.SkipDir // as ReadDir does
			}
			return nil
		}
		if d.IsDir() || filepath.Ext(p) != ".hcl" || IsTestFile(p) {
			return nil
		}
		if info, err := os.Stat(p); err == nil {
			fmt.Fprintf(&b, "%s %d %d\n", p, info.Size(), info.ModTime().UnixNano())
		}
		return nil
	})
	return b.String()
}
