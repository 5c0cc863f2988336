package workflows

import (
	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
)

// nilSafe makes reading a field or an index of nil give nil rather than fail, as if
// every . and [] were written ?. : steps.approval.body.approved is nil when the wait
// timed out with no body, and so is event.body.customer.email for an event without a
// customer. A condition then tests the value (== true, != nil) instead of failing the
// run; a nil where a URL needs a value still fails its step, with the name that went
// missing (whyNil). Calls of methods are left as they are.
type nilSafe struct{}

// NilSafe is the expr option that makes an expression's fields and indexes of nil
// nil, as every expression of a workflow file reads them.
func NilSafe() expr.Option { return expr.Patch(nilSafe{}) }

// Visit makes a member access optional and ends it at a chain, the node the compiler
// sends a nil to the end of. The walk goes from the leaves up, so the chain of a.b is
// taken back when a.b.c is visited: a.b.c is one chain, with one end for a nil
// anywhere in it. A root the run always has (event, steps, vars, run) is read as it
// is: event.body needs no test of event.
func (nilSafe) Visit(node *ast.Node) {
	if c, ok := (*node).(*ast.ChainNode); ok {
		if inner, ok := c.Node.(*ast.ChainNode); ok {
			*node = inner // a chain the file wrote with ?., around the one made here: one is enough
		}
		return
	}
	m, ok := (*node).(*ast.MemberNode)
	if !ok || m.Method {
		return
	}
	if c, ok := m.Node.(*ast.ChainNode); ok {
		m.Node = c.Node // this chain's end is the end of the whole
	}
	if id, ok := m.Node.(*ast.IdentifierNode); ok && alwaysThere[id.Value] && !m.Optional {
		return
	}
	m.Optional = true
	chain := &ast.ChainNode{Node: m}
	chain.SetLocation(m.Location())
	*node = chain
}

// alwaysThere are the roots every run's expressions find set, never nil.
var alwaysThere = map[string]bool{"event": true, "steps": true, "vars": true, "run": true}
