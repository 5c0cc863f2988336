package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

const logsSrc = `
vars {
  api = env("LOGS_API_URL")
}

workflow "works" {
  trigger "webhook" {
    path = "/works"
  }

  step "http" "call" {
    url = "${vars.api}/ok"
  }
}

workflow "breaks" {
  trigger "webhook" {
    path = "/breaks"
  }

  step "http" "call" {
    method = "PATCH"
    url    = "${vars.api}/no"
  }
}

workflow "bad_filter" {
  trigger "webhook" {
    path = "/bad-filter"
  }

  filter = "event.body.n > 1"
}

workflow "empty" {
  trigger "webhook" {
    path = "/empty"
  }
}
`

// Each run, however it ends, is one "run finished" log line with its status and how
// long it took, and when it failed its error and the step that failed it (none when
// its filter did); in JSON with --log-format json.
func TestOneLogLinePerRun(t *testing.T) {
	api := newLocalAPI(t)
	api.fail = true // PATCH fails
	t.Setenv("LOGS_API_URL", api.URL)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "logs.hcl"), logsSrc)
	logs := &syncWriter{w: &bytes.Buffer{}}
	log, err := newLogger("json", "info", logs)
	if err != nil {
		t.Fatal(err)
	}
	cfg := serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", workers: 4, allowNet: loopback, noWatch: true}
	s, err := startServer(context.Background(), cfg, log, logs)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}     // run: status
	failedAt := map[string]string{} // run: the step that failed it
	for path, status := range map[string]string{"/works": "succeeded", "/breaks": "failed", "/bad-filter": "failed", "/empty": "succeeded"} {
		_, answer := postJSON(t, "http://"+s.publicAddr+"/hooks"+path, `{"n": "text"}`)
		run := waitRun(t, answer["status_url"].(string))
		want[run["id"].(string)] = status
		if path == "/breaks" {
			failedAt[run["id"].(string)] = "call"
		}
	}
	if err := s.shutdown(); err != nil {
		t.Fatal(err)
	}

	logs.mu.Lock()
	text := logs.w.(*bytes.Buffer).String()
	logs.mu.Unlock()
	got := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("a log line is not JSON: %q", line)
		}
		if rec["msg"] != "run finished" {
			continue
		}
		run, _ := rec["run"].(string)
		got[run]++
		if rec["status"] != want[run] {
			t.Errorf("run %s logged %v, want %s: %s", run, rec["status"], want[run], line)
		}
		if _, ok := rec["duration_ms"].(float64); !ok {
			t.Errorf("no duration_ms: %s", line)
		}
		if want[run] == "failed" && (rec["level"] != slog.LevelWarn.String() || rec["err"] == nil) {
			t.Errorf("a failed run should be a WARN line with its error: %s", line)
		}
		if step, _ := rec["step"].(string); step != failedAt[run] {
			t.Errorf("run %s logged step %q, want %q: %s", run, step, failedAt[run], line)
		}
	}
	for run := range want {
		if got[run] != 1 {
			t.Errorf("run %s: %d run finished lines, want 1\n%s", run, got[run], text)
		}
	}
}
