package workflows

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
)

// parallelSchema is what a parallel block holds: steps. A parallel block inside it is
// decoded only to say that they do not nest.
var parallelSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "step", LabelNames: []string{"kind", "name"}},
		{Type: "parallel", LabelNames: []string{"name"}},
	},
}

// layout is a workflow's steps as written, before any is decoded: what an expression
// may read depends on where its step stands.
type layout struct {
	names     []string               // every step, in file order, a parallel block's in place
	parallels map[string][]string    // each parallel block's steps, by the block's name
	outputs   map[string]*stepOutput // what each step's output holds, where its kind tells
	resumable []string               // the steps resume_url may name: wait steps
	nodes     map[*hcl.Block]*layoutNode
	// diags are the problems of each block's layout, reported where the block is
	// decoded so that diagnostics stay in file order.
	diags map[*hcl.Block]hcl.Diagnostics
}

// layoutNode is a top-level step or parallel block as written.
type layoutNode struct {
	name     string
	parallel bool
	def      hcl.Range
	steps    []*hcl.Block // the step blocks to decode: duplicates are left out
	siblings []string     // a parallel block's steps, duplicates included
	start    int          // how many steps come before it, an index in layout.names
}

// named is where a name of a workflow's step or parallel block is first defined.
type named struct {
	what string
	def  hcl.Range
}

// layOut reads the step and parallel blocks of a workflow, in file order. It finds
// duplicate names (steps and parallel blocks share one set), and what a parallel block
// may not hold.
func layOut(blocks []*hcl.Block) *layout {
	lay := &layout{parallels: map[string][]string{}, nodes: map[*hcl.Block]*layoutNode{}, diags: map[*hcl.Block]hcl.Diagnostics{}}
	first := map[string]named{}
	var diags hcl.Diagnostics
	claim := func(what, name string, at, def hcl.Range) bool {
		if f, dup := first[name]; dup {
			diags = append(diags, duplicateName(what, name, at, f))
			return false
		}
		first[name] = named{what: what, def: def}
		return true
	}
	for _, blk := range blocks {
		diags = nil
		switch blk.Type {
		case "step":
			name := blk.Labels[1]
			if claim("step", name, blk.LabelRanges[1], blk.DefRange) {
				lay.nodes[blk] = &layoutNode{name: name, def: blk.DefRange, steps: []*hcl.Block{blk}, start: len(lay.names)}
			}
			lay.names = append(lay.names, name)
		case "parallel":
			name := blk.Labels[0]
			diags = append(diags, checkName("parallel", name, blk.LabelRanges[0])...)
			unique := claim("parallel block", name, blk.LabelRanges[0], blk.DefRange)
			steps, d := parallelSteps(blk)
			diags = append(diags, d...)
			if len(steps) == 0 && !d.HasErrors() {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  fmt.Sprintf("Empty parallel block %q", name),
					Detail:   `A parallel block holds the steps that start together: put at least one step "KIND" "NAME" { ... } in it, or remove it.`,
					Subject:  blk.DefRange.Ptr(),
				})
			}
			n := &layoutNode{name: name, parallel: true, def: blk.DefRange, start: len(lay.names)}
			for _, s := range steps {
				sn := s.Labels[1]
				if claim("step", sn, s.LabelRanges[1], s.DefRange) {
					n.steps = append(n.steps, s)
				}
				n.siblings = append(n.siblings, sn)
				lay.names = append(lay.names, sn)
			}
			lay.nodes[blk] = n
			if unique {
				lay.parallels[name] = n.siblings
			}
		}
		lay.diags[blk] = diags
	}
	return lay
}

// parallelSteps returns the step blocks of a parallel block, in file order. The steps
// of a parallel block nested in it, which is an error, count as its own, so that the
// steps after it can still read them without more errors.
func parallelSteps(blk *hcl.Block) ([]*hcl.Block, hcl.Diagnostics) {
	content, diags := blk.Body.Content(parallelSchema)
	for _, d := range diags {
		if d.Summary == "Unsupported block type" || d.Summary == "Unsupported argument" {
			d.Detail += ` A parallel block holds steps only: step "KIND" "NAME" { ... }.`
		}
	}
	var steps []*hcl.Block
	for _, b := range content.Blocks {
		if b.Type == "step" {
			steps = append(steps, b)
			continue
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "parallel blocks do not nest",
			Detail: fmt.Sprintf("Parallel %q is inside parallel %q, whose steps all start together already. "+
				"Put its steps directly in parallel %q, or move it after that block to start once all of its steps have finished.",
				b.Labels[0], blk.Labels[0], blk.Labels[0]),
			Subject: b.DefRange.Ptr(),
		})
		inner, d := parallelSteps(b)
		steps = append(steps, inner...)
		diags = append(diags, d...)
	}
	return steps, diags
}

// duplicateName reports a second step or parallel block of one name.
func duplicateName(what, name string, at hcl.Range, first named) *hcl.Diagnostic {
	if what == first.what {
		return duplicateDiag(what, name, at, first.def)
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Duplicate name %q", name),
		Detail: fmt.Sprintf("A %s named %q is already defined at %s. Steps and parallel blocks share one set of names in a workflow.",
			first.what, name, where(first.def)),
		Subject: at.Ptr(),
	}
}

// node decodes a top-level step, or the steps of a parallel block, each with the scope
// its place gives it: the steps before it, or before its parallel block.
func (l *loader) node(n *layoutNode, lay *layout, ev *evaluator, workflow string) (*Node, hcl.Diagnostics) {
	node := &Node{Name: n.name, Parallel: n.parallel, DefRange: n.def}
	var diags hcl.Diagnostics
	for _, blk := range n.steps {
		name := blk.Labels[1]
		sc := &scope{where: fmt.Sprintf("step %q", name), self: name, steps: lay.names[:n.start:n.start], all: lay.names,
			workflow: workflow, parallels: lay.parallels, outputs: lay.outputs, resumable: lay.resumable}
		if n.parallel {
			sc.parallel, sc.siblings = n.name, n.siblings
		}
		s, d := l.step(blk, ev, sc)
		diags = append(diags, d...)
		if s != nil {
			node.Steps = append(node.Steps, s)
		}
	}
	return node, diags
}
