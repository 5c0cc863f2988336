package workflows

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/hashicorp/hcl/v2"
)

// The types a kind gives an output field in StepKind.OutputTypes.
const (
	TypeNumber = "number"
	TypeBool   = "bool"
)

// typedRefs warns of a comparison of an output field whose type the step's kind
// gives with a string written in the expression, which it never equals: an http
// step's status is a number, so steps.h.status == 'ok' (or == '200') is always false,
// and the step it guards never runs. It looks where outcomeRefs does: ==, != and in,
// in steps.NAME.FIELD, an item's field read by its index or key, and .FIELD in a
// predicate over a for_each step's items.
func (sc *scope) typedRefs(src string, report func(*hcl.Diagnostic, file.Location)) {
	if !sc.readsTypedField(src) {
		return
	}
	compared(sc, src, sc.typedRead, func(op string, read *typedRead, lit stringLit) {
		report(read.diag(op, lit.value), lit.at)
	})
}

// readsTypedField reports whether src names a field some step's kind gives a type,
// before it is parsed again to look.
func (sc *scope) readsTypedField(src string) bool {
	for _, o := range sc.outputs {
		for field := range o.types {
			if strings.Contains(src, field) {
				return true
			}
		}
	}
	return false
}

// typedRead is a read of a field of a known type in an expression.
type typedRead struct {
	text  string // as written: steps.h.status, .status
	field string
	whose string // "An http step's status", "The status of an item of for_each step \"r\""
	typ   string // TypeNumber or TypeBool
}

// typedRead returns the read of a field of a known type n is; nil when n reads none.
// item is the for_each step whose items a predicate around n reads, "" outside one.
func (sc *scope) typedRead(n ast.Node, item string) *typedRead {
	m, ok := unchained(n).(*ast.MemberNode)
	if !ok {
		return nil
	}
	field, ok := m.Property.(*ast.StringNode)
	if !ok {
		return nil
	}
	ofItem := func(text, step string) *typedRead {
		typ := sc.outputs[step].types[field.Value]
		if typ == "" {
			return nil
		}
		return &typedRead{text: text, field: field.Value, typ: typ,
			whose: fmt.Sprintf("The %s of an item of for_each step %q", field.Value, step)}
	}
	switch of := unchained(m.Node).(type) {
	case *ast.PointerNode:
		if item != "" && of.Name == "" {
			return ofItem("."+field.Value, item)
		}
	case *ast.MemberNode:
		if step, ok := rootField(of, "steps"); ok && sc.stepRef(step) == nil {
			o := sc.outputs[step]
			if o == nil || o.forEach || o.types[field.Value] == "" {
				return nil
			}
			return &typedRead{text: fmt.Sprintf("steps.%s.%s", step, field.Value), field: field.Value, typ: o.types[field.Value],
				whose: fmt.Sprintf("%s %s step's %s", article(o.kind), o.kind, field.Value)}
		}
		if step := sc.itemsOf(of.Node); step != "" {
			return ofItem(fmt.Sprintf("steps.%s[…].%s", step, field.Value), step)
		}
	}
	return nil
}

// diag is the warning for the read compared (op) with the string lit, which it never
// equals.
func (r *typedRead) diag(op, lit string) *hcl.Diagnostic {
	effect := neverEffect(r.text, op, lit)
	// fix writes the comparison with the value v, as it was meant.
	fix := func(v string) string {
		if op == "in" {
			return fmt.Sprintf("write %s in the list", v)
		}
		return fmt.Sprintf("write %s %s %s", r.text, op, v)
	}
	is, detail := "a number", ""
	switch r.typ {
	case TypeNumber:
		detail = fmt.Sprintf("%s is a number, never text, so %s.", r.whose, effect)
		if n, err := strconv.Atoi(strings.TrimSpace(lit)); err == nil {
			detail += fmt.Sprintf(" A number is written without quotes: %s.", fix(strconv.Itoa(n)))
		} else if r.field == "status" {
			detail += fmt.Sprintf(" It is the HTTP status code: %s. Whether it succeeded is its outcome: %s == 'succeeded'.",
				fix("200"), strings.TrimSuffix(r.text, r.field)+"outcome")
		}
	case TypeBool:
		is = "true or false"
		detail = fmt.Sprintf("%s is true or false, never text, so %s.", r.whose, effect)
		if b := strings.ToLower(strings.TrimSpace(lit)); b == "true" || b == "false" {
			detail += fmt.Sprintf(" true and false are written without quotes: %s.", fix(b))
		}
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagWarning,
		Summary:  fmt.Sprintf("%s is %s, never %q", r.text, is, lit),
		Detail:   detail,
	}
}
