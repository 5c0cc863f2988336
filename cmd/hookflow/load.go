package main

import (
	"io"
	"log/slog"
	"net/http"
	"os"

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
	srcs, diags := workflows.ReadDir(dir)
	var set *workflows.Set
	if !diags.HasErrors() {
		var loaded hcl.Diagnostics
		set, loaded = workflows.LoadWith(srcs, k, opts)
		diags = append(diags, loaded...) // the reading's warnings too
	}
	if len(diags) > 0 {
		_ = workflows.WriteDiagnostics(stderr, srcs, diags)
	}
	if diags.HasErrors() {
		return nil, 0
	}
	return set, len(diags)
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
