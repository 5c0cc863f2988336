package workflows

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/expr-lang/expr/ast"
)

// reference returns the names an expression reads when it is nothing but a
// reference, such as steps.find.body.id or event.headers["x-id"]: root first, then
// each field. It returns nil for any other expression.
func reference(n ast.Node) []string {
	if c, ok := n.(*ast.ChainNode); ok { // steps.find?.body
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
	if len(ref) == 0 {
		return ""
	}
	var cur any
	switch ref[0] {
	case "event":
		cur = env.Event
	case "steps":
		cur = env.Steps
	case "vars":
		cur = env.Vars
	case "run":
		cur = env.Run
	case "each":
		cur = env.Each
	default:
		return ""
	}
	for i := 1; i < len(ref); i++ {
		at := strings.Join(ref[:i], ".")
		if cur == nil {
			return at + " is nil"
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s is %s, which has no fields", at, kindOf(reflect.TypeOf(cur)))
		}
		next, ok := m[ref[i]]
		if !ok {
			why := fmt.Sprintf("%s: no field %s", at, ref[i])
			if alt := nearField(m, ref[i]); alt != "" {
				why += fmt.Sprintf("; did you mean %s.%s?", at, alt)
			}
			return why
		}
		cur = next
	}
	return fmt.Sprintf("%s is null", strings.Join(ref, "."))
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
