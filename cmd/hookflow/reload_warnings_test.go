package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

// credentialSrc is an api whose client_secret is written in the file, and a workflow.
const credentialSrc = `api "billing" {
  base_url = "https://billing.example.com/v1"
  auth "oauth2" {
    token_url     = "https://auth.example.com/oauth/token"
    client_id     = "hookflow"
    client_secret = "SuperSecretClientValue123"
  }
}
`

// misspelledSrc reads an output field its step does not have.
const misspelledSrc = `workflow "welcome" {
  trigger "webhook" {
    path = "/signup"
  }
  step "set" "greeting" {
    text = "Welcome!"
  }
  step "log" "note" {
    message = "{{ steps.greeting.txt }}"
  }
}
`

// reloaderOn is a reloader of dir, as loaded now, with its log and stderr apart.
func reloaderOn(t *testing.T, dir string) (r *reloader, logs, stderr *strings.Builder) {
	t.Helper()
	k := kinds(nil, nil)
	set, _ := load(dir, k, io.Discard)
	if set == nil {
		t.Fatal("the files do not load")
	}
	logs, stderr = &strings.Builder{}, &strings.Builder{}
	r = newReloader(dir, k, set, 0, "", slog.New(slog.NewTextHandler(logs, nil)), stderr, prometheus.NewRegistry(), func(*workflows.Set) {})
	return r, logs, stderr
}

// A reload that succeeds with warnings logs them at WARN, renders them to stderr as
// serve does at start, and the status counts and shows them.
func TestReloadLogsWarnings(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.hcl"), hookSrc("a"))
	r, logs, stderr := reloaderOn(t, dir)
	writeFile(t, filepath.Join(dir, "welcome.hcl"), misspelledSrc)

	st := r.Reload("SIGHUP")
	if !st.OK || st.Workflows != 2 {
		t.Fatalf("status %+v: the reload with warnings was refused", st)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "workflows reloaded with warnings") ||
		!strings.Contains(logs.String(), "warnings=1") {
		t.Errorf("the warning was not logged at WARN:\n%s", logs.String())
	}
	if !strings.Contains(stderr.String(), "Warning: ") || !strings.Contains(stderr.String(), "steps.greeting.txt") ||
		!strings.Contains(stderr.String(), "welcome.hcl:9:") {
		t.Errorf("stderr does not show the warning rendered with its line:\n%s", stderr.String())
	}
	if st.Warnings != 1 || st.WarningsText != stderr.String() {
		t.Errorf("status warnings %d %q, want 1 and what stderr shows", st.Warnings, st.WarningsText)
	}

	// Fixed: the warnings are gone from the status, and the reload is logged at INFO.
	writeFile(t, filepath.Join(dir, "welcome.hcl"), strings.Replace(misspelledSrc, ".txt", ".text", 1))
	if st := r.Reload("SIGHUP"); !st.OK || st.Warnings != 0 || st.WarningsText != "" {
		t.Errorf("status %+v after the fix", st)
	}
	if n := strings.Count(logs.String(), `msg="workflows reloaded"`); n != 1 {
		t.Errorf("%d reloads logged at INFO, want 1:\n%s", n, logs.String())
	}
}

// A refused reload renders its diagnostics whole to stderr, as validate does, besides
// its log line.
func TestRefusedReloadRendersDiagnostics(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.hcl"), hookSrc("a"))
	r, logs, stderr := reloaderOn(t, dir)
	writeFile(t, filepath.Join(dir, "bad.hcl"), "workflow \"x\" {\n  filter = \"event.body.n >\"\n}\n")

	if st := r.Changed("files changed"); st.OK {
		t.Fatal("the bad file was loaded")
	}
	want := "Error: Invalid expression\n\n  on " + filepath.Join(dir, "bad.hcl") + ":2:26"
	if !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "\n     2:   filter") {
		t.Errorf("stderr does not render the error, want %q:\n%s", want, stderr.String())
	}
	if !strings.Contains(logs.String(), "workflows not reloaded") || !strings.Contains(logs.String(), "diagnostics=") {
		t.Errorf("the refusal's log line is gone:\n%s", logs.String())
	}
}

// A credential written in the file is never printed: not by serve at start, nor in
// the reload log (with warnings only, or refused for errors), nor in the status.
func TestCredentialNeverInReloadLogOrStatus(t *testing.T) {
	const secret = "SuperSecretClientValue123"
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.hcl"), hookSrc("a")+credentialSrc)
	s := serveReloading(t, dir, true)
	if !strings.Contains(s.log(), "Credential written in the file") || !strings.Contains(s.log(), "client_secret = [redacted]") {
		t.Errorf("serve did not warn of the credential at start:\n%s", s.log())
	}
	if st := s.status(t); st["warnings"] != float64(1) || !strings.Contains(st["warnings_text"].(string), "[redacted]") {
		t.Errorf("status at start %v, want the warning", st)
	}

	// Reloaded with warnings only, then refused with an error beside them.
	writeFile(t, filepath.Join(dir, "b.hcl"), hookSrc("b")+strings.ReplaceAll(credentialSrc, "billing", "crm"))
	if st := s.s.config.Reload("SIGHUP"); !st.OK || st.Warnings != 2 {
		t.Fatalf("status %+v, want a reload with two warnings", st)
	}
	writeFile(t, filepath.Join(dir, "bad.hcl"), "workflow \"x\" {\n  filter = \"event.body.n >\"\n}\n")
	if st := s.s.config.Reload("SIGHUP"); st.OK {
		t.Fatal("the bad file was loaded")
	}
	testutil.Eventually(t, time.Second, "the status says the load failed", func() bool { return s.status(t)["ok"] == false })
	st := s.status(t)
	if !strings.Contains(st["error"].(string), "Credential written in the file") {
		t.Errorf("the status's error does not hold the warnings beside the error: %v", st)
	}
	for what, text := range map[string]string{"log and stderr": s.log(), "status error": st["error"].(string),
		"status warnings": st["warnings_text"].(string)} {
		if strings.Contains(text, secret) {
			t.Errorf("the %s print the credential:\n%s", what, text)
		}
	}
	if n := strings.Count(s.log(), "client_secret = [redacted]"); n < 5 {
		t.Errorf("the credential shown masked %d times, want at least 5 (start, reload, refusal):\n%s", n, s.log())
	}
}

// jsonLines checks that every line of a JSON log is a JSON object, and returns them.
func jsonLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
		var line map[string]any
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Errorf("a line of the JSON log is not JSON: %q", l)
			continue
		}
		out = append(out, line)
	}
	return out
}

// lineOf is the first line of lines whose msg is msg, or nil.
func lineOf(lines []map[string]any, msg string) map[string]any {
	for _, l := range lines {
		if l["msg"] == msg {
			return l
		}
	}
	return nil
}

// With --log-format json, stderr is one JSON object a line: the diagnostics of the
// workflow files, at start and at a reload, warnings or errors, are in the lines'
// diagnostics, not rendered as validate prints them beside them.
func TestJSONLogKeepsDiagnosticsInItsLines(t *testing.T) {
	const bad = "workflow \"x\" {\n  filter = \"event.body.n >\"\n}\n"
	t.Run("serve", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "a.hcl"), hookSrc("a"))
		writeFile(t, filepath.Join(dir, "welcome.hcl"), misspelledSrc)
		var buf strings.Builder
		stderr := &syncWriter{w: &buf}
		cfg := serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", workers: 1, noWatch: true,
			allowNet: loopback, logFormat: "json"}
		log, err := newLogger(cfg.logFormat, "info", stderr)
		if err != nil {
			t.Fatal(err)
		}
		s, err := startServer(context.Background(), cfg, log, stderr)
		if err != nil {
			t.Fatal(err)
		}
		defer s.shutdown()
		// Changed with other warnings, and kept; then refused for an error.
		writeFile(t, filepath.Join(dir, "b.hcl"), strings.ReplaceAll(strings.ReplaceAll(misspelledSrc, "welcome", "b"), "/signup", "/b"))
		if st := s.config.Reload("SIGHUP"); !st.OK {
			t.Fatalf("the reload with warnings was refused: %+v", st)
		}
		writeFile(t, filepath.Join(dir, "bad.hcl"), bad)
		if st := s.config.Reload("SIGHUP"); st.OK {
			t.Fatal("the bad file was loaded")
		}
		stderr.mu.Lock()
		out := buf.String()
		stderr.mu.Unlock()
		lines := jsonLines(t, out)
		for _, msg := range []string{"workflows loaded with warnings", "workflows reloaded with warnings",
			"workflows not reloaded: the new files have errors; still serving the previous ones"} {
			l := lineOf(lines, msg)
			if d, _ := l["diagnostics"].(string); !strings.Contains(d, "steps.greeting.txt") && !strings.Contains(d, "Invalid expression") {
				t.Errorf("no %q line with its diagnostics: %v", msg, l)
			}
		}
	})
	for _, cmd := range []string{"serve", "worker"} {
		t.Run(cmd+" refused at start", func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "bad.hcl"), bad)
			var buf strings.Builder
			cfg := serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", workers: 1, noWatch: true,
				allowNet: loopback, logFormat: "json"}
			log, err := newLogger(cfg.logFormat, "info", &buf)
			if err != nil {
				t.Fatal(err)
			}
			if cmd == "serve" {
				_, err = startServer(context.Background(), cfg, log, &buf)
			} else {
				_, err = startWorker(context.Background(), cfg, log, &buf)
			}
			if err == nil {
				t.Fatal("started with a bad file")
			}
			l := lineOf(jsonLines(t, buf.String()), "workflows not loaded: the files have errors")
			if d, _ := l["diagnostics"].(string); l["level"] != "ERROR" || l["errors"] != 1.0 || !strings.Contains(d, "Invalid expression") ||
				!strings.Contains(d, "bad.hcl:2:26") {
				t.Errorf("the refusal's line: %v\n%s", l, buf.String())
			}
		})
	}
}
