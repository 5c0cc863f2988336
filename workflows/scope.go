package workflows

import (
	"fmt"
	"slices"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
	"github.com/hashicorp/hcl/v2"
)

// scope is what a run-time expression may read where it is written: which steps have
// run by then. It turns a reference to a step that does not exist, or has not run
// yet, into a load-time error instead of a nil at run time.
type scope struct {
	where    string   // "the filter", `step "notify"`
	steps    []string // the steps that run before this point; nil where no step has run
	all      []string // every step of the workflow, to tell "later" from "unknown"
	workflow string
}

// checkRefs reports the steps.NAME references in a compiled expression that its scope
// cannot see. src is the expression and offset its position in loc's value.
func checkRefs(p *vm.Program, src string, offset int, loc location) hcl.Diagnostics {
	sc := loc.scope
	if sc == nil {
		return nil
	}
	var diags hcl.Diagnostics
	node := p.Node()
	ast.Walk(&node, visitor(func(n ast.Node) {
		m, ok := n.(*ast.MemberNode)
		if !ok {
			return
		}
		root, ok := m.Node.(*ast.IdentifierNode)
		if !ok || root.Value != "steps" {
			return
		}
		prop, ok := m.Property.(*ast.StringNode)
		if !ok {
			return // steps[some_expression]: only known at run time
		}
		at := m.Property.Location()
		d := sc.stepRef(prop.Value)
		if d == nil {
			return
		}
		d.Subject = loc.at(offset+runeToByte(src, at.From), offset+runeToByte(src, at.To)).Ptr()
		diags = append(diags, d)
	}))
	return diags
}

func (sc *scope) stepRef(name string) *hcl.Diagnostic {
	if sc.steps == nil {
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("No step has run in %s", sc.where),
			Detail:   fmt.Sprintf("steps.%s cannot be read in %s: it is evaluated before any step runs, so it can read event and vars only.", name, sc.where),
		}
	}
	if slices.Contains(sc.steps, name) {
		return nil
	}
	before := "none: this is the first step"
	if len(sc.steps) > 0 {
		before = strings.Join(sc.steps, ", ")
	}
	self := strings.TrimSuffix(strings.TrimPrefix(sc.where, `step "`), `"`)
	switch {
	case name == self:
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Step %q reads its own output", name),
			Detail:   fmt.Sprintf("A step's output exists only after it has run. Steps before this one: %s.", before),
		}
	case slices.Contains(sc.all, name):
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Reference to a later step %q", name),
			Detail:   fmt.Sprintf("Steps run in file order, and %q runs after %s, so its output does not exist yet. Steps before this one: %s.", name, sc.where, before),
		}
	}
	detail := fmt.Sprintf("Workflow %q has no step named %q. Steps before this one: %s.", sc.workflow, name, before)
	if s := suggest(name, sc.steps); s != "" {
		detail = fmt.Sprintf("Workflow %q has no step named %q. Did you mean %q?", sc.workflow, name, s)
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("Reference to unknown step %q", name), Detail: detail}
}

type visitor func(ast.Node)

func (v visitor) Visit(n *ast.Node) { v(*n) }
