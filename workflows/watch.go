package workflows

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// WatchOptions tune Watch. Zero values take the defaults.
type WatchOptions struct {
	// Settle is how long the directory must be quiet after a change before changed is
	// called: an editor's save, or a copy of many files, is one change. Default 100ms.
	Settle time.Duration
	// Rescan calls changed this often even without events, as a backstop for file
	// systems that do not report every change (network mounts, some containers).
	// Default 30s.
	Rescan time.Duration
}

// Watch calls changed when anything in the directory tree under dir may have changed:
// a file written, created, removed or renamed, a directory created (it is watched
// too), or a symbolic link swapped (as Kubernetes updates a mounted ConfigMap). It
// returns when ctx ends, or at once with an error when dir cannot be watched. changed
// runs on Watch's goroutine, one call at a time; it should compare what it reads with
// what it has, as a call does not prove a change.
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
	if err := addTree(w, dir); err != nil {
		w.Close()
		return err
	}
	go func() {
		defer w.Close()
		settle := time.NewTimer(o.Settle)
		settle.Stop()
		rescan := time.NewTicker(o.Rescan)
		defer rescan.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if ev.Has(fsnotify.Create) {
					_ = addTree(w, ev.Name) // a new directory: watch it and what it holds
				}
				settle.Reset(o.Settle)
			case _, ok := <-w.Errors:
				if !ok {
					return
				}
				settle.Reset(o.Settle) // events were lost: look again
			case <-settle.C:
				changed()
			case <-rescan.C:
				changed()
			}
		}
	}()
	return nil
}

// addTree watches path and, when it is a directory, every directory below it that
// ReadDir reads (hidden ones are not, but a hidden directory's changes show as changes
// of the links into it).
func addTree(w *fsnotify.Watcher, path string) error {
	return filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == path {
				return err
			}
			return nil // it went away meanwhile
		}
		if !d.IsDir() {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") && p != path {
			return filepath.SkipDir
		}
		return w.Add(p)
	})
}
