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
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var n atomic.Int32
	if err := Watch(ctx, dir, WatchOptions{Settle: 50 * time.Millisecond, Rescan: 300 * time.Millisecond}, func() { n.Add(1) }); err != nil {
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
