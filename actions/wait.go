package actions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/workflows"
)

// DefaultWait is how long a wait step waits when it sets no timeout.
const DefaultWait = 24 * time.Hour

// LocalResumes answers the wait steps of a run in this process, without parking it:
// the resume a step gets, or false when none comes and its timeout passes. hookflow
// test and the dry run of hookflow run use it.
type LocalResumes func(c *workflows.Call) (*workflows.Resume, bool)

// waitKind: step "wait" "NAME" { timeout = "72h", on_timeout = "continue" } pauses the
// run until resume_url("NAME") is POSTed to (or hookflow runs resume), or its timeout
// passes. The engine parks the run's job in the queue: it holds no worker and survives
// restarts. With local, the step does not park: local answers it at once.
func waitKind(local LocalResumes) workflows.StepKind {
	return workflows.StepKind{
		Name:        "wait",
		Output:      []string{"body", "headers", "query", "timed_out"},
		OutputTypes: map[string]string{"timed_out": workflows.TypeBool},
		Attrs:       []workflows.Attr{{Name: "on_timeout"}},
		Resumable:   true,
		NoRetry: "A wait step waits once, until it is resumed or its timeout passes: another attempt would wait again " +
			"for the same answer. on_timeout says what its timeout does.",
		Timeout:    DefaultWait,
		MaxTimeout: MaxDelay,
		New: func(b *workflows.Block) (workflows.Action, hcl.Diagnostics) {
			onTimeout, diags := b.OneOf("on_timeout", "fail", "fail", "continue")
			return &Wait{continues: onTimeout == "continue", local: local}, diags
		},
	}
}

// Wait is a compiled wait step.
type Wait struct {
	continues bool
	local     LocalResumes
}

// Continues reports whether the step goes on when its timeout passes.
func (w *Wait) Continues() bool { return w.continues }

// Parks reports whether the engine parks the run at the step: unless the step is
// answered locally.
func (w *Wait) Parks() bool { return w.local == nil }

// Do answers the step locally; a step that parks is run by the engine, not by Do.
func (w *Wait) Do(_ context.Context, c *workflows.Call) (any, error) {
	if w.local == nil {
		return nil, workflows.Permanent(errors.New("a wait step is run by the engine, which parks its run"))
	}
	r, ok := w.local(c)
	if !ok {
		if w.continues {
			return workflows.TimedOutOutput(), nil
		}
		return workflows.TimedOutOutput(), workflows.Permanent(workflows.WaitTimedOut(c.Timeout))
	}
	out, err := r.Output()
	if err != nil {
		return nil, workflows.Permanent(fmt.Errorf("the resume's body: %w", err))
	}
	return out, nil
}

var (
	_ workflows.Action = (*Wait)(nil)
	_ workflows.Waiter = (*Wait)(nil)
)
