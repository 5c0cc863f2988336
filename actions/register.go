// Package actions holds the step kinds: what a step does when it runs. Each kind lives
// in its own file and registers its name, schema and constructor with Register.
package actions

import (
	"log/slog"
	"net/http"

	"github.com/hookflow/hookflow/workflows"
)

// Options are what the step kinds need from the operator.
type Options struct {
	// Client makes every outbound HTTP call. Nil means NewClient(NewGuard(nil)):
	// public addresses only.
	Client *http.Client
	// Logger receives the log steps' lines. Nil means slog.Default().
	Logger *slog.Logger
	// SkipDelays makes delay steps wait for nothing: they record the wait they would
	// have made, with "skipped": true. For trying a workflow out (hookflow run --dry-run).
	SkipDelays bool
	// APIs holds the state the api blocks share across processes (OAuth2 tokens).
	// Nil means NewAPIs(): kept in this process.
	APIs *APIs
	// LocalResumes, when set, answers wait steps at once instead of parking their
	// runs: for hookflow test and the dry run, which serve no resume URL.
	LocalResumes LocalResumes
}

// Register adds every step kind to k.
func Register(k *workflows.Kinds, o Options) {
	if o.Client == nil {
		o.Client = NewClient(NewGuard(nil))
	}
	if o.APIs == nil {
		o.APIs = NewAPIs()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	k.AddStep(httpKind(o))
	k.AddStep(setKind())
	k.AddStep(logKind(o))
	k.AddStep(delayKind(o.SkipDelays))
	k.AddStep(respondKind())
	k.AddStep(workflowKind())
	k.AddStep(waitKind(o.LocalResumes))
}
