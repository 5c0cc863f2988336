package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A serve that stops says so last, once its shutdown is over: how long it took and
// what became of the steps in progress, a duration in milliseconds and counts.
func TestServeLogsWhenItHasStopped(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.hcl"), hookSrc("a"))
	logs := &syncWriter{w: &bytes.Buffer{}}
	log, err := newLogger("json", "info", logs)
	if err != nil {
		t.Fatal(err)
	}
	cfg := serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", workers: 2, noWatch: true, allowNet: loopback}
	s, err := startServer(context.Background(), cfg, log, logs)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // SIGTERM
	if err := s.run(ctx, make(chan os.Signal)); err != nil {
		t.Fatal(err)
	}
	logs.mu.Lock()
	text := strings.TrimSpace(logs.w.(*bytes.Buffer).String())
	logs.mu.Unlock()
	lines := strings.Split(text, "\n")
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatal(err)
	}
	if last["msg"] != "stopped" || last["level"] != "INFO" {
		t.Fatalf("the last line: %s\nwant msg stopped, INFO\n%s", lines[len(lines)-1], text)
	}
	for _, field := range []string{"duration_ms", "steps_ended", "steps_handed_back", "steps_left_leased"} {
		if n, ok := last[field].(float64); !ok || n < 0 || n != float64(int64(n)) {
			t.Errorf("%s: %v, want a whole number: %s", field, last[field], lines[len(lines)-1])
		}
	}
}
