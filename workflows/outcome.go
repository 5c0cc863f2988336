package workflows

import (
	"fmt"
	"slices"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/hashicorp/hcl/v2"
)

// The values an outcome takes: steps.NAME.outcome is one of stepOutcomes, and an
// item of a for_each step's (steps.r[0].outcome, .outcome in all(steps.r, …)) one of
// itemOutcomes, where cancelled is an item that never started.
var (
	stepOutcomes = []string{"succeeded", "failed", "skipped"}
	itemOutcomes = []string{"succeeded", "failed", "skipped", "cancelled"}
)

// otherWords are the words other tools give an outcome (GitHub Actions' success and
// failure), with hookflow's.
var otherWords = map[string]string{"success": "succeeded", "failure": "failed"}

// outcomeRefs warns of a comparison of an outcome with a string it never is:
// steps.a.outcome == 'success' is always false, and the step it guards never runs.
// It looks at ==, != and in (not in too) with a string written in the expression, in
// steps.NAME.outcome, an item's outcome read by its index or key, and .outcome in a
// predicate over a for_each step's items (all(steps.r, .outcome == 'failed')). src is
// parsed again, as written: the compiled program's lists of strings are sets, which
// no longer tell where each string is.
func (sc *scope) outcomeRefs(src string, report func(*hcl.Diagnostic, file.Location)) {
	if !strings.Contains(src, "outcome") {
		return
	}
	compared(sc, src, sc.outcomeRead, func(op string, read *outcomeRead, lit stringLit) {
		if !slices.Contains(read.values, lit.value) {
			report(read.diag(op, lit.value), lit.at)
		}
	})
}

// compared parses src again, as written, and calls found with each string written
// against a field read finds: for each ==, != and in whose left side read takes for
// the field (for == and !=, or whose right side), each string literal on its other
// side; item names the for_each step whose items a predicate's comparison reads
// (itemComparisons), "" elsewhere.
func compared[R any](sc *scope, src string, read func(n ast.Node, item string) *R, found func(op string, r *R, lit stringLit)) {
	tree, err := parser.Parse(src)
	if err != nil {
		return
	}
	root := tree.Node
	items := sc.itemComparisons(root)
	ast.Walk(&root, visitor(func(n ast.Node) {
		c, ok := n.(*ast.BinaryNode)
		if !ok || c.Operator != "==" && c.Operator != "!=" && c.Operator != "in" {
			return
		}
		r, other := read(c.Left, items[c]), c.Right
		if r == nil && c.Operator != "in" {
			r, other = read(c.Right, items[c]), c.Left
		}
		if r == nil {
			return
		}
		for _, lit := range literals(other) {
			found(c.Operator, r, lit)
		}
	}))
}

// itemComparisons finds the comparisons in a predicate over a for_each step's items
// (all(steps.r, .outcome == 'failed')): for each, the step.
func (sc *scope) itemComparisons(root ast.Node) map[*ast.BinaryNode]string {
	items := map[*ast.BinaryNode]string{}
	ast.Walk(&root, visitor(func(n ast.Node) {
		b, ok := n.(*ast.BuiltinNode)
		if !ok || len(b.Arguments) < 2 {
			return
		}
		step := sc.itemsOf(b.Arguments[0])
		if step == "" {
			return
		}
		for _, a := range b.Arguments[1:] {
			if p, ok := a.(*ast.PredicateNode); ok {
				for _, c := range ownComparisons(p) {
					items[c] = step
				}
			}
		}
	}))
	return items
}

// outcomeRead is a read of an outcome in an expression.
type outcomeRead struct {
	text   string   // as written: steps.a.outcome, .outcome
	whose  string   // "A step's", "An item of for_each step \"r\"'s"
	values []string // the values it can have
}

// itemsOf returns the for_each step whose items n is, steps.r or values(steps.r);
// "" for anything else.
func (sc *scope) itemsOf(n ast.Node) string {
	n = unchained(n)
	if b, ok := n.(*ast.BuiltinNode); ok && b.Name == "values" && len(b.Arguments) == 1 {
		n = unchained(b.Arguments[0])
	}
	m, ok := n.(*ast.MemberNode)
	if !ok {
		return ""
	}
	if step, ok := rootField(m, "steps"); ok && sc.stepRef(step) == nil && sc.outputs[step] != nil && sc.outputs[step].forEach {
		return step
	}
	return ""
}

// outcomeRead returns the read of an outcome n is; nil when n reads none. item is the
// for_each step whose items a predicate around n reads, "" outside one.
func (sc *scope) outcomeRead(n ast.Node, item string) *outcomeRead {
	m, ok := unchained(n).(*ast.MemberNode)
	if !ok {
		return nil
	}
	if field, ok := m.Property.(*ast.StringNode); !ok || field.Value != "outcome" {
		return nil
	}
	ofItem := func(text, step string) *outcomeRead {
		return &outcomeRead{text: text, whose: fmt.Sprintf("The outcome of an item of for_each step %q", step), values: itemOutcomes}
	}
	switch of := unchained(m.Node).(type) {
	case *ast.PointerNode:
		if item != "" && of.Name == "" {
			return ofItem(".outcome", item)
		}
	case *ast.MemberNode:
		if step, ok := rootField(of, "steps"); ok && sc.stepRef(step) == nil {
			if o := sc.outputs[step]; o != nil && o.forEach {
				return nil // itemsRef warns of it
			}
			return &outcomeRead{text: fmt.Sprintf("steps.%s.outcome", step), whose: "A step's outcome", values: stepOutcomes}
		}
		if step := sc.itemsOf(of.Node); step != "" {
			return ofItem(fmt.Sprintf("steps.%s[…].outcome", step), step)
		}
	}
	return nil
}

// ownComparisons are the binary operations of a predicate, but not those of the
// predicates within it, which read items of their own.
func ownComparisons(p *ast.PredicateNode) []*ast.BinaryNode {
	var all []*ast.BinaryNode
	nested := map[*ast.BinaryNode]bool{}
	ast.Walk(&p.Node, visitor(func(n ast.Node) {
		switch n := n.(type) {
		case *ast.BinaryNode:
			all = append(all, n)
		case *ast.PredicateNode:
			ast.Walk(&n.Node, visitor(func(m ast.Node) {
				if b, ok := m.(*ast.BinaryNode); ok {
					nested[b] = true
				}
			}))
		}
	}))
	return slices.DeleteFunc(all, func(b *ast.BinaryNode) bool { return nested[b] })
}

// stringLit is a string written in an expression, and where.
type stringLit struct {
	value string
	at    file.Location
}

// literals are the strings n writes: 'x', or those of a list ['x', 'y'].
func literals(n ast.Node) []stringLit {
	switch n := n.(type) {
	case *ast.StringNode:
		return []stringLit{{n.Value, n.Location()}}
	case *ast.ArrayNode:
		var out []stringLit
		for _, x := range n.Nodes {
			if s, ok := x.(*ast.StringNode); ok {
				out = append(out, stringLit{s.Value, s.Location()})
			}
		}
		return out
	}
	return nil
}

func unchained(n ast.Node) ast.Node {
	if c, ok := n.(*ast.ChainNode); ok {
		return c.Node
	}
	return n
}

// neverEffect says what comparing the read written text (op) with the string lit,
// which it never equals, comes to.
func neverEffect(text, op, lit string) string {
	switch op {
	case "==":
		return fmt.Sprintf("%s == '%s' is always false", text, lit)
	case "!=":
		return fmt.Sprintf("%s != '%s' is always true", text, lit)
	}
	return fmt.Sprintf("'%s' in the list never matches %s", lit, text)
}

// diag is the warning for the read compared (op) with lit, which it never is.
func (r *outcomeRead) diag(op, lit string) *hcl.Diagnostic {
	effect := neverEffect(r.text, op, lit)
	detail := fmt.Sprintf("%s is %s, never %q, so %s.", r.whose, quoteList(r.values), lit, effect)
	switch near := nearWord(lit, r.values); {
	case otherWords[strings.ToLower(lit)] != "":
		detail += fmt.Sprintf(" GitHub Actions writes %s where hookflow writes %s: did you mean '%s'?", strings.ToLower(lit), near, near)
	case lit == "cancelled":
		detail += " Only an item of a for_each step is cancelled, when another item failed the step before it started."
	case near != "":
		detail += fmt.Sprintf(" Did you mean '%s'?", near)
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagWarning,
		Summary:  fmt.Sprintf("%s is never %q", r.text, lit),
		Detail:   detail,
	}
}

// nearWord is the word of words that s likely meant: another tool's word for it,
// the nearest by spelling, or the one it starts like ("success" and "failure" mean
// "succeeded" and "failed", as an outcome compared or a test's expect_run).
func nearWord(s string, words []string) string {
	lower := strings.ToLower(s)
	if w := otherWords[lower]; w != "" {
		return w
	}
	if near := suggest(lower, words); near != "" {
		return near
	}
	if len(lower) >= 4 {
		for _, w := range words {
			if strings.HasPrefix(w, lower[:4]) {
				return w
			}
		}
	}
	return ""
}
