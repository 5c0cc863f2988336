package workflows

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// OnFailurePrefix names the steps of a workflow's on_failure block in its runs:
// on_failure/notify. Step names are identifiers, so none of the workflow's own steps
// can be named so.
const OnFailurePrefix = "on_failure/"

// onFailureSchema is what an on_failure block holds: steps. Parallel blocks are
// decoded only to say that they do not go there.
var onFailureSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "step", LabelNames: []string{"kind", "name"}},
		{Type: "parallel", LabelNames: []string{"name"}},
	},
}

// IsOnFailure reports whether a step name (as its run records it) is a step of an
// on_failure block.
func IsOnFailure(name string) bool { return strings.HasPrefix(name, OnFailurePrefix) }

// onFailure decodes a workflow's on_failure block: its steps run one after another,
// once, when a run fails for good. They may read every step of the workflow (those
// that did not run read as nil), and run.error and run.failed_step; not each other.
func (l *loader) onFailure(b *hcl.Block, first *hcl.Block, lay *layout, ev *evaluator, workflow string) ([]*Step, hcl.Diagnostics) {
	if first != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Duplicate on_failure block",
			Detail:   fmt.Sprintf("A workflow has one on_failure block, and this one has it at %s already. Put these steps in it.", where(first.DefRange)),
			Subject:  b.DefRange.Ptr(),
		}}
	}
	content, diags := b.Body.Content(onFailureSchema)
	for _, d := range diags {
		if d.Summary == "Unsupported block type" || d.Summary == "Unsupported argument" {
			d.Detail += ` An on_failure block holds steps only: step "KIND" "NAME" { ... }.`
		}
	}
	var steps []*Step
	seen := map[string]hcl.Range{}
	// Its steps may name its own wait steps in resume_url, as well as the workflow's;
	// they may not read each other, which their scope tells apart from a step that
	// does not exist.
	resumable := slices.Clone(lay.resumable)
	var own []string
	for _, blk := range content.Blocks {
		if blk.Type != "step" {
			continue
		}
		own = append(own, blk.Labels[1])
		if kind, ok := l.kinds.steps[blk.Labels[0]]; ok && kind.Resumable && !slices.Contains(resumable, blk.Labels[1]) {
			resumable = append(resumable, blk.Labels[1])
		}
	}
	for _, blk := range content.Blocks {
		if blk.Type == "parallel" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No parallel blocks in on_failure",
				Detail:   "The steps of an on_failure block run one after another. Put the steps directly in on_failure.",
				Subject:  blk.DefRange.Ptr(),
			})
			continue
		}
		kind, name := blk.Labels[0], blk.Labels[1]
		if def, dup := seen[name]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Duplicate step %q in on_failure", name),
				Detail:   fmt.Sprintf("A step named %q is already in this on_failure block at %s. Names must be unique.", name, where(def)),
				Subject:  blk.LabelRanges[1].Ptr(),
			})
			continue
		}
		seen[name] = blk.DefRange
		if kind == respondKind {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No respond step in on_failure",
				Detail: "A respond step answers a sync webhook with what the run gives, and a run that failed answers it with " +
					`the failure (500 {"status":"failed"}) once its on_failure steps have run, whatever they do.`,
				Subject: blk.LabelRanges[0].Ptr(),
			})
			continue
		}
		sc := &scope{where: fmt.Sprintf("on_failure step %q", name), self: name, steps: lay.names, all: lay.names,
			workflow: workflow, parallels: lay.parallels, outputs: lay.outputs, resumable: resumable, onFailure: true, failureSteps: own}
		s, d := l.step(blk, ev, sc)
		diags = append(diags, d...)
		if s == nil {
			continue
		}
		if s.ForEach != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No for_each in on_failure",
				Detail:   "The steps of an on_failure block run once each. Send the list in one call instead: json = \"{{ event.body.items }}\".",
				Subject:  blk.DefRange.Ptr(),
			})
			continue
		}
		s.Name = OnFailurePrefix + name
		steps = append(steps, s)
	}
	if len(steps) == 0 && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Empty on_failure block",
			Detail:   `An on_failure block holds the steps that run when a run fails: put at least one step "KIND" "NAME" { ... } in it, or remove it.`,
			Subject:  b.DefRange.Ptr(),
		})
	}
	return steps, diags
}
