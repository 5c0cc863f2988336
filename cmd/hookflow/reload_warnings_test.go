package main

import (
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookflow/hookflow/workflows"
)

// reloaderOn is a reloader of dir, as loaded now, with its log and stderr apart.
func reloaderOn(t *testing.T, dir string) (r *reloader, logs, stderr *strings.Builder) {
	t.Helper()
	k := kinds(nil, nil)
	set, _ := load(dir, k, io.Discard)
	if set == nil {
		t.Fatal("the files do not load")
	}
	logs, stderr = &strings.Builder{}, &strings.Builder{}
	r = newReloader(dir, k, set, slog.New(slog.NewTextHandler(logs, nil)), stderr, prometheus.NewRegistry(), func(*workflows.Set) {})
	return r, logs, stderr
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
