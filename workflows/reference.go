package workflows

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// reference returns the names an expression reads when it is nothing but a
// reference, such as steps.find.body.id or event.headers["x-id"]: root first, then
// each field. It returns nil for any other expression.
func reference(n ast.Node) []string {
	for { // steps.find?.body, and the chain nilSafe ends a path of fields at
		c, ok := n.(*ast.ChainNode)
		if !ok {
			break
		}
		n = c.Node
	}
	switch n := n.(type) {
	case *ast.IdentifierNode:
		return []string{n.Value}
	case *ast.MemberNode:
		field, ok := n.Property.(*ast.StringNode)
		if !ok {
			return nil
		}
		if base := reference(n.Node); base != nil {
			return append(base, field.Value)
		}
	}
	return nil
}

// whyNil says where a reference that gave nil went missing: the first name on its
// path that is not there, with the nearest field that is; "" when ref is nil.
func whyNil(env *Env, ref []string) string {
	cur, ok := rootOf(env, ref)
	if !ok {
		return ""
	}
	path := make([]any, 0, len(ref)-1)
	for _, field := range ref[1:] {
		path = append(path, field)
	}
	return whyNilFrom(cur, ref[0], path)
}

// whyNilFrom is whyNil from a value, cur, named base, down path: field names
// (strings) and list indexes (ints).
func whyNilFrom(cur any, base string, path []any) string {
	at := base
	for _, step := range path {
		if cur == nil {
			return at + " is nil"
		}
		if i, isIndex := step.(int); isIndex {
			list, ok := cur.([]any)
			if !ok {
				return fmt.Sprintf("%s is %s, not a list", at, kindOf(reflect.TypeOf(cur)))
			}
			if i < 0 {
				i += len(list)
			}
			if i < 0 || i >= len(list) {
				return fmt.Sprintf("%s has %d items: no item [%d]", at, len(list), step)
			}
			cur, at = list[i], fmt.Sprintf("%s[%d]", at, step)
			continue
		}
		field := step.(string)
		m, ok := cur.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s is %s, which has no fields", at, kindOf(reflect.TypeOf(cur)))
		}
		next, ok := m[field]
		if !ok {
			why := fmt.Sprintf("%s: no field %s", at, field)
			if alt := nearField(m, field); alt != "" {
				why += fmt.Sprintf("; did you mean %s.%s?", at, alt)
			}
			return why
		}
		cur, at = next, at+"."+field
	}
	return at + " is null"
}

// nearField finds what a missing field name most likely meant in m: the same name
// one level down (body.id for id), or a name one typo away.
func nearField(m map[string]any, name string) string {
	keys := sortedKeys(m)
	for _, k := range keys {
		if inner, ok := m[k].(map[string]any); ok {
			if _, has := inner[name]; has {
				return k + "." + name
			}
		}
	}
	return suggest(name, keys)
}

// rootOf is the value of a reference's first name; false for a name that is none of
// the env's.
func rootOf(env *Env, ref []string) (any, bool) {
	if len(ref) == 0 {
		return nil, false
	}
	switch ref[0] {
	case "event":
		return env.Event, true
	case "steps":
		return env.Steps, true
	case "vars":
		return env.Vars, true
	case "run":
		return env.Run, true
	case "each":
		return env.Each, true
	}
	return nil, false
}

// noFields says, of a member access that reads a field of a value that has none (a
// string, a number, a list), which value: "event.body is a string, which has no
// fields" for event.body.email of an event whose body was sent as text. Its path may
// go through indexes of lists (event.body.items[0].sku.x). "" when it reads none such,
// or its path is not one of names and indexes.
func noFields(env *Env, m *ast.MemberNode) string {
	var steps []ast.Node // the properties, root last
	var n ast.Node = m
	for {
		if c, ok := n.(*ast.ChainNode); ok {
			n = c.Node
			continue
		}
		mm, ok := n.(*ast.MemberNode)
		if !ok {
			break
		}
		steps = append(steps, mm.Property)
		n = mm.Node
	}
	root, ok := n.(*ast.IdentifierNode)
	if !ok {
		return ""
	}
	cur, ok := rootOf(env, []string{root.Value})
	if !ok {
		return ""
	}
	at := root.Value
	for i := len(steps) - 1; i >= 0 && cur != nil; i-- {
		switch p := steps[i].(type) {
		case *ast.StringNode:
			next, isMap := cur.(map[string]any)
			if !isMap {
				return fmt.Sprintf("%s is %s, which has no fields", at, kindOf(reflect.TypeOf(cur)))
			}
			cur, at = next[p.Value], at+"."+p.Value
		case *ast.IntegerNode:
			list, isList := cur.([]any)
			if !isList {
				return ""
			}
			j := p.Value
			if j < 0 {
				j += len(list)
			}
			if j < 0 || j >= len(list) {
				return ""
			}
			cur, at = list[j], fmt.Sprintf("%s[%d]", at, p.Value)
		default:
			return ""
		}
	}
	return ""
}

// fieldsError is an expression's error, with what made it when that was reading a
// field of a value that has none: expr says only "invalid operation: int(string)".
type fieldsError struct {
	why string
	err error
	// instead: why says all expr's words did, which then go (see Error).
	instead bool
}

// Error is why, then expr's message; or, instead, why where expr's message would be:
// its place and the line with a caret stay, its words ("invalid operation:
// int(string)", said of a field's name taken for an index) go.
func (e *fieldsError) Error() string {
	var fe *file.Error
	if e.instead && errors.As(e.err, &fe) {
		said := *fe
		said.Message = e.why
		return said.Error()
	}
	return e.why + ": " + e.err.Error()
}
func (e *fieldsError) Unwrap() error { return e.err }

// explain adds to err, the error of program p run in env, the reference that read a
// field of a value that has none, when err is the error of such a read (expr says
// "cannot fetch", or of a string "invalid operation: int(string)", as it took the
// field's name for an index): the member access at the error's place.
func explain(p *vm.Program, env *Env, err error) error {
	var fe *file.Error
	if !errors.As(err, &fe) {
		return err
	}
	if out := explainPanic(p, env, fe); out != fe { // see typeerror.go
		return out
	}
	if msg := fe.Message; !strings.Contains(msg, "cannot fetch") && !strings.Contains(msg, "int(string)") {
		return err
	}
	why := ""
	node := p.Node()
	ast.Walk(&node, visitor(func(n ast.Node) {
		if m, ok := n.(*ast.MemberNode); ok && why == "" && m.Location().From == fe.From {
			why = noFields(env, m)
		}
	}))
	if why == "" {
		return err
	}
	return &fieldsError{why: why, err: err, instead: true}
}
