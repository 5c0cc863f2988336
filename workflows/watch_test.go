package workflows

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/testutil"
)

func watchCalls(t *testing.T, dir string) *atomic.Int32 {
	t.Helper()
	return watchCallsEvery(t, dir, 300*time.Millisecond)
}

// watchCallsEvery is watchCalls with the rescan every rescan.
func watchCallsEvery(t *testing.T, dir string, rescan time.Duration) *atomic.Int32 {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var n atomic.Int32
	if err := Watch(ctx, dir, WatchOptions{Settle: 50 * time.Millisecond, Rescan: rescan}, func() { n.Add(1) }); err != nil {
		t.Fatal(err)
	}
	return &n
}

func waitCalls(t *testing.T, n *atomic.Int32, within time.Duration) {
	t.Helper()
	testutil.Eventually(t, within, "changed called", func() bool { return n.Load() > 0 })
}

// TestWatchUnderConstantWrites: a file written without pause in the directory (a log,
// say) does not hold changes back for ever.
func TestWatchUnderConstantWrites(t *testing.T) {
	dir := t.TempDir()
	n := watchCalls(t, dir)
	stop, stopped := make(chan struct{}), make(chan struct{})
	defer func() { close(stop); <-stopped }() // no write after TempDir's cleanup starts
	go func() {
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				os.WriteFile(filepath.Join(dir, "hookflow.log"), []byte(time.Now().String()), 0o644)
			}
		}
	}()
	os.WriteFile(filepath.Join(dir, "w.hcl"), []byte("workflow \"w\" {}\n"), 0o644)
	waitCalls(t, n, 2*time.Second)
}

// TestWatchTheCurrentDirectory: "." is watched like any other directory.
func TestWatchTheCurrentDirectory(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	n := watchCalls(t, ".")
	time.Sleep(100 * time.Millisecond)
	n.Store(0)
	os.WriteFile("w.hcl", []byte("workflow \"w\" {}\n"), 0o644)
	waitCalls(t, n, 250*time.Millisecond) // before the rescan would
}

// TestWatchAReplacedDirectory: a directory removed and made again is watched again.
func TestWatchAReplacedDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wf")
	os.Mkdir(dir, 0o755)
	n := watchCalls(t, dir)
	os.RemoveAll(dir)
	os.Mkdir(dir, 0o755)
	time.Sleep(200 * time.Millisecond)
	n.Store(0)
	os.WriteFile(filepath.Join(dir, "w.hcl"), []byte("workflow \"w\" {}\n"), 0o644)
	waitCalls(t, n, 250*time.Millisecond)
}

// TestWatchALinkedDirectory: a directory linked into the tree is watched as one of
// its own, whether the link was there first or made later, until it is unlinked; a
// link cycle stops nothing.
func TestWatchALinkedDirectory(t *testing.T) {
	for _, later := range []bool{false, true} {
		name := "linked before"
		if later {
			name = "linked after"
		}
		t.Run(name, func(t *testing.T) {
			base := t.TempDir()
			dir, ext := filepath.Join(base, "wf"), filepath.Join(base, "elsewhere", "ext")
			os.MkdirAll(filepath.Join(ext, "sub"), 0o755)
			os.Mkdir(dir, 0o755)
			os.Symlink(dir, filepath.Join(dir, "loop"))
			if !later {
				os.Symlink(ext, filepath.Join(dir, "ext"))
			}
			n := watchCallsEvery(t, dir, time.Minute) // only events tell
			if later {
				os.Symlink(ext, filepath.Join(dir, "ext"))
				waitCalls(t, n, time.Second)
			}
			time.Sleep(100 * time.Millisecond)
			n.Store(0)
			os.WriteFile(filepath.Join(ext, "sub", "w.hcl"), []byte("workflow \"w\" {}\n"), 0o644)
			waitCalls(t, n, time.Second)

			// Unlinked, the directory is not the tree's: its changes are not.
			n.Store(0)
			os.Remove(filepath.Join(dir, "ext"))
			waitCalls(t, n, time.Second)
			time.Sleep(100 * time.Millisecond)
			n.Store(0)
			os.WriteFile(filepath.Join(ext, "sub", "w.hcl"), []byte("workflow \"v\" {}\n"), 0o644)
			time.Sleep(300 * time.Millisecond)
			if n.Load() != 0 {
				t.Error("a change in a directory no longer linked called changed")
			}
		})
	}
}
