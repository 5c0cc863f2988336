// Package e2e runs hookflow as the separate process it is in production: it builds
// the binary, starts it on a real redis-server, and kills it (or Redis) with SIGKILL
// while runs are in flight. These tests are slow and need redis-server; the packages'
// own tests need neither.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// hookflowBinary builds hookflow once for the tests, from the module this package is
// in, and returns its path.
func hookflowBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		gomod, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			binErr = fmt.Errorf("go env GOMOD: %v", err)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(gomod)))
		if binDir, binErr = os.MkdirTemp("", "hookflow-e2e"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "hookflow")
		build := exec.Command("go", "build", "-o", binPath, "./cmd/hookflow")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/hookflow in %s: %v\n%s", root, err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}
