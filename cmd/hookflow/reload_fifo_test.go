//go:build linux || darwin

package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/testutil"
)

// A named pipe named *.hcl in the workflow directory is refused at once, by name,
// and the workflows in use keep serving; validate says the same and does not wait.
func TestReloadRefusesANamedPipe(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.hcl"), hookSrc("a"))
	r := serveReloading(t, dir, false)
	pipe := filepath.Join(dir, "pipe.hcl")
	if err := syscall.Mkfifo(pipe, 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the status says the load failed", func() bool {
		st := statusWithin(r.s.adminAddr, time.Second)
		return st != nil && st["ok"] == false
	})
	if st := r.status(t); !strings.Contains(st["error"].(string), "Error: Not a regular file") ||
		!strings.Contains(st["error"].(string), pipe+": not a regular file: a named pipe") {
		t.Errorf("the status's error does not name the pipe:\n%s", st["error"])
	}
	if r.hook(t, "a") != http.StatusAccepted {
		t.Error("a no longer served")
	}

	for _, path := range []string{dir, pipe} {
		done := make(chan error, 1)
		var stdout, stderr bytes.Buffer
		go func() { done <- run(context.Background(), []string{"validate", path}, nil, &stdout, &stderr) }()
		select {
		case err := <-done:
			if err != exitError(exitFailed) || !strings.Contains(stderr.String(), pipe+": not a regular file: a named pipe") {
				t.Errorf("validate %s: %v\n%s", path, err, stderr.String())
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("validate %s still running after 5 s", path)
		}
	}
}
