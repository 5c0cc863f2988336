package actions

import (
	"context"
	"errors"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/workflows"
)

// workflowKind: step "workflow" "NAME" { workflow = "create_invoice", input = {...},
// wait = true } runs another workflow as a child run. The engine runs it (see
// workflows.SubRun): Do is never called.
func workflowKind() workflows.StepKind {
	return workflows.StepKind{
		Name:   "workflow",
		Output: []string{"run_id", "result"},
		Attrs:  []workflows.Attr{{Name: "workflow", Required: true}, {Name: "input"}, {Name: "wait"}},
		NoRetry: "A workflow step starts its child run once: the child's own steps retry what fails in it, " +
			"and a failed child fails the step for good.",
		NoTimeout: "A workflow step waits for its child run to end, however long that takes: set timeout on the called " +
			"workflow to bound its runs (a child that times out fails, and fails this step), or on this workflow to bound the whole run.",
		New: func(b *workflows.Block) (workflows.Action, hcl.Diagnostics) {
			name, diags := b.ConstString("workflow", "")
			wait, d := b.Bool("wait", true)
			diags = append(diags, d...)
			if a := b.Attr("workflow"); a != nil && !diags.HasErrors() && !workflows.ValidName(name) {
				diags = append(diags, a.Error("Invalid workflow name", `workflow names the workflow to run, such as "create_invoice".`))
			}
			w := &Workflow{name: name, input: b.Template("input"), wait: wait}
			if a := b.Attr("workflow"); a != nil {
				w.at = a.ValueRange
			}
			return w, diags
		},
	}
}

// Workflow is a compiled workflow step.
type Workflow struct {
	name  string
	input *workflows.Template // nil: the child's body is null
	wait  bool
	at    hcl.Range // where name is written: the workflow attribute's value
}

// Calls names the workflow the step runs.
func (w *Workflow) Calls() string { return w.name }

// CallsRange is where the step names the workflow it runs, for the loader's errors
// about the call: an unknown workflow, a cycle.
func (w *Workflow) CallsRange() hcl.Range { return w.at }

// Waits reports whether the step waits for the child run to end.
func (w *Workflow) Waits() bool { return w.wait }

// Input renders the child run's event body.
func (w *Workflow) Input(env *workflows.Env) (any, error) {
	if w.input == nil {
		return nil, nil
	}
	return w.input.Render(env)
}

// Do is not how a workflow step runs: the engine starts its child run.
func (w *Workflow) Do(context.Context, *workflows.Call) (any, error) {
	return nil, workflows.Permanent(errors.New("a workflow step is run by the engine, which starts its child run"))
}

var (
	_ workflows.Action = (*Workflow)(nil)
	_ workflows.SubRun = (*Workflow)(nil)
)
