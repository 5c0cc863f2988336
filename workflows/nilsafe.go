package workflows

import "github.com/expr-lang/expr/ast"

// nilSafe makes reading a field or an index of nil give nil rather than fail, as if
// every . and [] were written ?. : steps.approval.body.approved is nil when the wait
// timed out with no body, and so is event.body.customer.email for an event without a
// customer, as a GitHub Actions expression reads them. A condition then tests the
// value (== true, != nil) instead of failing the run; a nil where a URL needs a value
// still fails its step, with the name that went missing (whyNil). Calls of methods are
// left as they are.
type nilSafe struct{}

// Visit wraps each member access in a chain of its own, the node the compiler ends an
// optional access at: the walk goes from the leaves up, so in a.b.c each access ends
// at its own chain, and a nil anywhere gives nil at the end.
func (nilSafe) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok || m.Optional || m.Method {
		return
	}
	m.Optional = true
	chain := &ast.ChainNode{Node: m}
	chain.SetLocation(m.Location())
	*node = chain
}
