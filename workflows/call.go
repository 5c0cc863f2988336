package workflows

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// MaxCallDepth bounds how deep workflow steps nest: a run started by a workflow step
// of a run started by one, and so on.
const MaxCallDepth = 10

// SubRun is the action of a step that runs another workflow as a child run (the
// workflow step kind). The engine runs it: it starts the child, and waits for it
// holding no worker.
type SubRun interface {
	// Calls names the workflow it runs.
	Calls() string
	// Input renders what the child run gets as event.body.
	Input(env *Env) (any, error)
	// Waits reports whether the step waits for the child to end, its output being the
	// child's result; else it goes on once the child is queued.
	Waits() bool
}

// EventParent is, in the event of a child run, the run and step that started it.
type EventParent struct {
	RunID    string `json:"run_id"`
	Workflow string `json:"workflow"`
	Step     string `json:"step"`
	// Job is the parent's job that waits for the child: the child's end wakes it.
	Job string `json:"job"`
	// Depth is how deep the child is: 1 for a run started by a run that was not.
	Depth int `json:"depth"`
}

// value is the parent as expressions read it: event.parent.run_id and so on.
func (p *EventParent) value() map[string]any {
	return map[string]any{"run_id": p.RunID, "workflow": p.Workflow, "step": p.Step, "job": p.Job, "depth": int64(p.Depth)}
}

// checkCalls reports workflow steps that call a workflow no file declares, and calls
// that come back to a workflow (directly or through others): a run would start runs
// without end. declared are the workflows written, set those that decoded. The files
// of a stored version are its own and those with vars, not those of the workflows it
// calls, whose children start on the version in use: stored, an undeclared one is
// not reported.
func checkCalls(set *Set, declared map[string]bool, stored bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	type call struct {
		to   string
		step *Step
		sub  SubRun
	}
	calls := map[string][]call{}
	names := make([]string, len(set.workflows))
	for i, wf := range set.workflows {
		names[i] = wf.Name
	}
	for _, wf := range set.workflows {
		for _, s := range slices.Concat(wf.Steps, wf.OnFailure) {
			sub, ok := s.Action.(SubRun)
			if !ok {
				continue
			}
			if !declared[sub.Calls()] && !stored {
				detail := fmt.Sprintf("Step %q runs workflow %q, which no loaded file defines.", s.Name, sub.Calls())
				if alt := suggestName(sub.Calls(), names); alt != "" {
					detail += fmt.Sprintf(" Did you mean %q?", alt)
				}
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError,
					Summary: fmt.Sprintf("Unknown workflow %q", sub.Calls()), Detail: detail, Subject: callRange(s, sub)})
				continue
			}
			if set.byName[sub.Calls()] != nil {
				calls[wf.Name] = append(calls[wf.Name], call{to: sub.Calls(), step: s, sub: sub})
			}
		}
	}
	// A depth-first walk from each workflow; a call to a workflow on the path closes a
	// cycle, reported once, at the first call found to close it.
	reported := map[string]bool{} // by the cycle's workflows, sorted
	var walk func(name string, path []string)
	walk = func(name string, path []string) {
		for _, c := range calls[name] {
			if i := slices.Index(path, c.to); i >= 0 {
				members := slices.Sorted(slices.Values(path[i:]))
				if key := strings.Join(members, " "); !reported[key] {
					reported[key] = true
					cycle := append(slices.Clone(path[i:]), c.to)
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Workflows call each other in a cycle",
						Detail: fmt.Sprintf("Step %q of workflow %q runs workflow %q, which leads back to it: %s. "+
							"Each run would start another without end; break the cycle.", c.step.Name, name, c.to, strings.Join(cycle, " → ")),
						Subject: callRange(c.step, c.sub),
					})
				}
				continue
			}
			walk(c.to, append(path, c.to))
		}
	}
	for _, wf := range set.workflows {
		walk(wf.Name, []string{wf.Name})
	}
	return diags
}

// callRange is where step s names the workflow it runs, for the errors about that
// call: the value of its workflow attribute, when sub tells where it is written
// (CallsRange), else the step's header.
func callRange(s *Step, sub SubRun) *hcl.Range {
	if at, ok := sub.(interface{ CallsRange() hcl.Range }); ok {
		return at.CallsRange().Ptr()
	}
	return s.DefRange.Ptr()
}
