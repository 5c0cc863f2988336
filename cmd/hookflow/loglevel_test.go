package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/testutil"
)

// --log-level (HOOKFLOW_LOG_LEVEL) leaves out the lines below it: a serve that starts
// and stops writes its INFO lines (serving, shutting down, stopped) by default and
// with debug, and none with warn or error, which keep its WARN lines.
func TestLogLevelFiltersLines(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.hcl"), hookSrc("a"))
	serve := func(env string, args ...string) string {
		t.Helper()
		t.Setenv("HOOKFLOW_LOG_LEVEL", env)
		admin := freeAddr(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		stderr := &syncWriter{w: &bytes.Buffer{}}
		args = append(append([]string{"serve", "--listen", "127.0.0.1:0", "--admin", admin, "--no-watch"}, args...), dir)
		done := make(chan error, 1)
		go func() { done <- run(ctx, args, strings.NewReader(""), &bytes.Buffer{}, stderr) }()
		testutil.Eventually(t, 10*time.Second, "serve answers /healthz", func() bool {
			resp, err := http.Get("http://" + admin + "/healthz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
		cancel() // SIGTERM
		if err := <-done; err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		stderr.mu.Lock()
		defer stderr.mu.Unlock()
		return stderr.w.(*bytes.Buffer).String()
	}
	for _, c := range []struct {
		env  string
		args []string
		info bool
	}{
		{"", nil, true},
		{"", []string{"--log-level", "debug"}, true},
		{"", []string{"--log-level", "info"}, true},
		{"", []string{"--log-level", "warn"}, false},
		{"", []string{"--log-level", "error"}, false},
		{"warn", nil, false},
		{"warn", []string{"--log-level", "info"}, true},
	} {
		out := serve(c.env, c.args...)
		if got := strings.Contains(out, "level=INFO msg=stopped"); got != c.info {
			t.Errorf("HOOKFLOW_LOG_LEVEL=%q %v: an INFO stopped line %v, want %v:\n%s", c.env, c.args, got, c.info, out)
		}
		if !c.info && strings.Contains(out, "level=INFO") {
			t.Errorf("HOOKFLOW_LOG_LEVEL=%q %v: INFO lines written:\n%s", c.env, c.args, out)
		}
		if warn := strings.Contains(out, "level=WARN"); warn == (len(c.args) == 2 && c.args[1] == "error") {
			t.Errorf("HOOKFLOW_LOG_LEVEL=%q %v: a WARN line %v:\n%s", c.env, c.args, warn, out)
		}
	}
}
