package main

import (
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/triggers"
	"github.com/hookflow/hookflow/workflows"
)

// kinds returns the registry of every step and trigger kind; client makes the http
// steps' calls (nil: the default, public addresses only) and log receives the log
// steps' lines (nil: slog's default).
func kinds(client *http.Client, log *slog.Logger) *workflows.Kinds {
	return kindsSharing(client, log, nil)
}

// kindsSharing is kinds whose api blocks keep their state (OAuth2 tokens) in apis,
// which serve connects to Redis so that every process shares it.
func kindsSharing(client *http.Client, log *slog.Logger, apis *actions.APIs) *workflows.Kinds {
	k := workflows.NewKinds()
	actions.Register(k, actions.Options{Client: client, Logger: log, APIs: apis})
	triggers.Register(k)
	return k
}

// load loads the workflows in dir and prints any diagnostics to stderr. It returns nil
// when there are errors, and how many warnings there were.
func load(dir string, k *workflows.Kinds, stderr io.Writer) (*workflows.Set, int) {
	return loadWith(dir, k, workflows.Options{}, stderr)
}

// loadFor loads the workflows in dir to run the named one: the env() and secret() of the
// others may be unset, as may those of the vars it does not refer to and of its
// triggers, which a run does not read. It prints any diagnostics to stderr and returns
// nil when there are errors.
func loadFor(dir, name string, k *workflows.Kinds, stderr io.Writer) *workflows.Set {
	set, _ := loadWith(dir, k, workflows.Options{AllowUnset: true}, stderr)
	if set == nil || !hasAll(dir, stderr, set.Missing(name)) {
		return nil
	}
	return set
}

// hasAll reports whether nothing is missing of what a run needs, and prints to stderr
// what is (each of missing, of the files in dir, once).
func hasAll(dir string, stderr io.Writer, missing ...hcl.Diagnostics) bool {
	var all hcl.Diagnostics
	seen := map[string]bool{}
	for _, diags := range missing {
		for _, d := range diags {
			if key := d.Subject.String() + d.Summary; !seen[key] {
				seen[key] = true
				all = append(all, d)
			}
		}
	}
	if !all.HasErrors() {
		return true
	}
	srcs, _ := workflows.ReadDir(dir)
	_ = workflows.WriteDiagnostics(stderr, srcs, all)
	return false
}

func loadWith(dir string, k *workflows.Kinds, opts workflows.Options, stderr io.Writer) (*workflows.Set, int) {
	set, srcs, diags := loadDir(dir, k, opts)
	if len(diags) > 0 {
		_ = workflows.WriteDiagnostics(stderr, srcs, diags)
	}
	if diags.HasErrors() {
		return nil, 0
	}
	return set, len(diags)
}

// loadDir loads the workflows in dir, and returns them (nil when there are errors)
// with the files read and the diagnostics, the reading's included.
func loadDir(dir string, k *workflows.Kinds, opts workflows.Options) (*workflows.Set, []workflows.Source, hcl.Diagnostics) {
	srcs, diags := workflows.ReadDir(dir)
	var set *workflows.Set
	if !diags.HasErrors() {
		var loaded hcl.Diagnostics
		set, loaded = workflows.LoadWith(srcs, k, opts)
		diags = append(diags, loaded...) // the reading's warnings too
	}
	if diags.HasErrors() {
		set = nil
	}
	return set, srcs, diags
}

// loadAtStart loads the workflows serve and worker start with, and returns them (nil
// when there are errors) with how many warnings there were and their rendering. The
// diagnostics are rendered to stderr as validate prints them; with JSON logs
// (diagnosticsTo gives nil), a log line carries them instead, as a reload's does, so
// that stderr stays one JSON object a line.
func loadAtStart(dir string, k *workflows.Kinds, log *slog.Logger, stderr io.Writer) (*workflows.Set, int, string) {
	set, srcs, diags := loadDir(dir, k, workflows.Options{})
	if len(diags) == 0 {
		return set, 0, ""
	}
	var out strings.Builder
	_ = workflows.WriteDiagnostics(&out, srcs, diags)
	errs, warnings := count(diags)
	switch {
	case stderr != nil:
		_, _ = io.WriteString(stderr, out.String())
	case errs > 0:
		log.Error("workflows not loaded: the files have errors", "dir", dir, "err", firstError(diags), "errors", errs,
			"diagnostics", out.String())
	default:
		log.Warn("workflows loaded with warnings", "dir", dir, "warnings", warnings,
			"first", firstDiagnostic(diags, hcl.DiagWarning), "diagnostics", out.String())
	}
	if errs > 0 {
		return nil, 0, ""
	}
	return set, warnings, out.String()
}

// diagnosticsTo is where serve and worker render the diagnostics of the workflow
// files whole, as validate prints them: stderr with text logs; nowhere with JSON logs,
// whose lines carry them (their diagnostics field), as stderr is then one JSON object
// a line.
func diagnosticsTo(logFormat string, stderr io.Writer) io.Writer {
	if logFormat == "json" {
		return nil
	}
	return stderr
}

// readPath reads the workflow files at a path: the file itself, or every *.hcl file of a
// directory and its subdirectories.
func readPath(p string) ([]workflows.Source, hcl.Diagnostics) {
	info, err := os.Stat(p)
	if err == nil && info.IsDir() {
		return workflows.ReadDir(p)
	}
	var data []byte
	if err == nil {
		data, err = workflows.ReadFile(p)
	}
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read workflow files", Detail: err.Error()}}
	}
	return []workflows.Source{{Name: p, Data: data}}, nil
}
