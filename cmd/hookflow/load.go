package main

import (
	"io"
	"net/http"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/triggers"
	"github.com/hookflow/hookflow/workflows"
)

// kinds returns the registry of every step and trigger kind; client makes the http
// steps' calls (nil: the default, public addresses only).
func kinds(client *http.Client) *workflows.Kinds {
	k := workflows.NewKinds()
	actions.Register(k, actions.Options{Client: client})
	triggers.Register(k)
	return k
}

// load loads the workflows in dir and prints any diagnostics to stderr. It returns nil
// when there are errors.
func load(dir string, k *workflows.Kinds, stderr io.Writer) *workflows.Set {
	srcs, diags := workflows.ReadDir(dir)
	var set *workflows.Set
	if !diags.HasErrors() {
		set, diags = workflows.Load(srcs, k)
	}
	if len(diags) > 0 {
		_ = workflows.WriteDiagnostics(stderr, srcs, diags)
	}
	if diags.HasErrors() {
		return nil
	}
	return set
}
