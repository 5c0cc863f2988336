package workflows

import (
	"fmt"
	"slices"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
	"github.com/hashicorp/hcl/v2"
)

// An unknown vars.NAME read when a file loads fails the load, and one read by a
// run-time expression must too: it would be nil at every run, which is never what was
// meant, and a filter or an if over it would quietly never hold. Both are reported
// alike, suggesting the closest var. In a stored version the run-time read warns: it
// reads nil, as it did in the build that accepted the file.

// unknownVar reports vars.NAME where no vars block defines NAME; names are the vars,
// sorted.
func unknownVar(name string, names []string, at hcl.Range) *hcl.Diagnostic {
	detail := fmt.Sprintf("No vars block defines %q. The vars are: %s.", name, strings.Join(names, ", "))
	switch s := suggest(name, names); {
	case s != "":
		detail = fmt.Sprintf("No vars block defines %q. Did you mean %q?", name, s)
	case len(names) == 0:
		detail = fmt.Sprintf("No vars block defines %q; there are no vars. Define it in a vars { } block.", name)
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Unknown var %q", name),
		Detail:   detail,
		Subject:  at.Ptr(),
	}
}

// checkVarRefs reports the vars.NAME (or vars["NAME"]) reads of a compiled expression
// that name no var, at the name. vars[expression] names a var only at run time and is
// left alone. src is the expression and offset its position in loc's value; loc.vars
// nil (outside a load) checks nothing.
func checkVarRefs(p *vm.Program, src string, offset int, loc location) hcl.Diagnostics {
	if loc.vars == nil {
		return nil
	}
	var diags hcl.Diagnostics
	node := p.Node()
	ast.Walk(&node, visitor(func(n ast.Node) {
		m, ok := n.(*ast.MemberNode)
		if !ok {
			return
		}
		name, ok := rootField(m, "vars")
		if !ok || slices.Contains(loc.vars, name) {
			return
		}
		at := m.Property.Location()
		diags = append(diags, loc.mistake(unknownVar(name, loc.vars,
			loc.at(offset+runeToByte(src, at.From), offset+runeToByte(src, at.To)))))
	}))
	return diags
}

// CheckVars reports the reads of vars that name no var in p, compiled from src, the
// attribute's string value read as a bare expression. A kind that compiles
// expressions over names of its own (a poll's items, key and cursor) checks them
// with it, as the loader checks its own.
func (a *BlockAttr) CheckVars(p *vm.Program, src string) hcl.Diagnostics {
	loc := a.loc
	loc.value = src
	return checkVarRefs(p, src, 0, loc)
}
