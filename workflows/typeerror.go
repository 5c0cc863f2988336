package workflows

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"runtime"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// A function given a value of a type it does not take fails with Go's own words: expr
// reports the panic inside it, "interface conversion: interface {} is nil, not string"
// for upper(steps.find.body.name) when the name is missing, or for
// join(map(steps.list.body.items, .id), ",") when an item has no id; "reflect: call of
// reflect.Value.Len on zero Value" for filter(steps.find.body.tags, …) without tags,
// "reflect: call of reflect.Value.Index on map Value" for map(steps.r, .id) over the
// map a for_each over an object gives; and expr's built-ins say it in their own words,
// "invalid argument for join (type %!s(<nil>))", "cannot get keys from invalid".
// explainCall says instead which value it was, what it was and what was needed, and
// for a nil where it went missing: "map(steps.list.body.items, #.id)[1] is nil
// (steps.list.body.items[1]: no field id), where join needs a string". An operator
// given nil ("invalid operation: <nil> + int") gets its operand named the same way.

// assertionRE reads the types of Go's message: what the value was, and what was needed.
var assertionRE = regexp.MustCompile(`^interface conversion: interface \{\} is (.+), not (.+)$`)

// explainPanic explains fe, the error of program p run in env, when its cause is a
// panic of Go's type assertions or reflection in a function; else it returns fe.
func explainPanic(p *vm.Program, env *Env, fe *file.Error) error {
	if tae := (*runtime.TypeAssertionError)(nil); errors.As(fe, &tae) {
		if m := assertionRE.FindStringSubmatch(tae.Error()); m != nil {
			return explainCall(p, env, fe, m[1], goTypeWords(m[2]), false, tae)
		}
	}
	if ve := (*reflect.ValueError)(nil); errors.As(fe, &ve) {
		switch ve.Kind {
		case reflect.Invalid: // a function measured or read nil
			return explainCall(p, env, fe, "nil", "", false, ve)
		case reflect.Map: // a function of a list read an object's items by index
			return explainCall(p, env, fe, "map[string]interface {}", "a list (values() gives an object's values as one)", true, ve)
		}
	}
	if got, ok := builtinArgType(fe.Message); ok {
		return explainCall(p, env, fe, got, "", false, fe)
	}
	if strings.HasPrefix(fe.Message, "invalid operation: ") && strings.Contains(fe.Message, "<nil>") {
		return explainOperand(p, env, fe)
	}
	return fe
}

// builtinArgRE reads what expr's built-ins say of an argument they do not take: "invalid
// argument for join (type %!s(<nil>))", "cannot get keys from invalid", "cannot
// transform slice to pairs", "invalid operation: float(<nil>)".
var builtinArgRE = regexp.MustCompile(`^(?:invalid argument for \w+ \(type (.+)\)` +
	`|cannot get (?:keys|values) from (.+)|cannot transform (.+) (?:to|from) pairs` +
	`|cannot (?:uniq|concat|flatten) (.+)|invalid operation: (?:int|float)\((.+)\))$`)

// builtinArgType is the Go type, as Go's messages name it, of the argument a built-in's
// message says it does not take.
func builtinArgType(msg string) (string, bool) {
	m := builtinArgRE.FindStringSubmatch(msg)
	if m == nil {
		return "", false
	}
	t := strings.Join(m[1:], "") // one group matched
	if m[5] != "" && !isGoTypeName(t) {
		return "", false // int("abc") quotes the text that is no number, not its type
	}
	switch t {
	case "<nil>", "%!s(<nil>)", "invalid", "<invalid reflect.Value>":
		return "nil", true
	case "map":
		return "map[string]interface {}", true
	case "slice", "array":
		return "[]interface {}", true
	}
	return t, true
}

// isGoTypeName reports whether t is the name Go's %T gives a value int() and float()
// do not take.
func isGoTypeName(t string) bool {
	switch {
	case t == "<nil>", t == "bool", strings.HasPrefix(t, "map["), strings.HasPrefix(t, "[]"), strings.HasPrefix(t, "time."):
		return true
	}
	return false
}

// needs says what the function name takes, for a message about an argument it does not.
func needs(name string) string {
	switch name {
	case "int", "float":
		return "a number or a string"
	case "len":
		return "a string, a list or an object"
	case "abs", "round", "ceil", "floor":
		return "a number"
	case "keys", "values", "toPairs":
		return "an object"
	case "fromPairs":
		return "a list of pairs"
	case "join":
		return "a list of strings"
	case "max", "min", "sum", "mean", "median":
		return "numbers or a list of numbers"
	}
	return "a list"
}

// explainCall rewrites fe: its message names the value of the call at fe's place that
// was of the Go type got where the call needs want ("": what needs says of it). The
// call is the one at fe's place; with within, else the innermost built-in whose
// arguments hold that place (map(steps.r, .id) fails at .id when steps.r is an
// object). It keeps fe's place, so the error still points at the call, and cause. It
// returns fe when the call is not found.
func explainCall(p *vm.Program, env *Env, fe *file.Error, got, want string, within bool, cause error) error {
	var name string
	var args []ast.Node
	node := p.Node()
	ast.Walk(&node, visitor(func(n ast.Node) {
		if name != "" || n.Location().From != fe.From {
			return
		}
		switch c := n.(type) {
		case *ast.BuiltinNode:
			name, args = c.Name, c.Arguments
		case *ast.CallNode:
			if id, ok := c.Callee.(*ast.IdentifierNode); ok {
				name, args = id.Value, c.Arguments
			}
		}
	}))
	if name == "" && within {
		ast.Walk(&node, visitor(func(n ast.Node) { // from the leaves up: the innermost first
			if c, ok := n.(*ast.BuiltinNode); ok && name == "" && holdsPlace(c.Arguments, fe.From) {
				name, args = c.Name, c.Arguments
			}
		}))
	}
	if name == "" {
		return fe
	}
	if want == "" {
		want = needs(name)
	}
	msg := fmt.Sprintf("a value is %s, where %s needs %s", goTypeWords(got), name, want)
	if what := blame(env, args, got); what != "" {
		msg = fmt.Sprintf("%s, where %s needs %s", what, name, want)
	}
	out := &file.Error{Location: fe.Location, Message: msg, Prev: cause}
	return out.Bind(p.Source())
}

// explainOperand adds to fe, an operator's error over nil, which operand was nil and
// where it went missing.
func explainOperand(p *vm.Program, env *Env, fe *file.Error) error {
	why := ""
	node := p.Node()
	ast.Walk(&node, visitor(func(n ast.Node) {
		b, ok := n.(*ast.BinaryNode)
		if !ok || why != "" || b.Location().From != fe.From {
			return
		}
		for _, operand := range []ast.Node{b.Left, b.Right} {
			if v, known := valueOf(env, operand, nil, false); known && v == nil && why == "" {
				why = printed(operand) + " is nil" + nilWhy(nil, func() string { return whyNilAt(env, operand) })
			}
		}
	}))
	if why == "" {
		return fe
	}
	return &fieldsError{why: why, err: fe}
}

// holdsPlace reports whether a node of args, at any depth, is at the place from.
func holdsPlace(args []ast.Node, from int) bool {
	found := false
	for i := range args {
		ast.Walk(&args[i], visitor(func(n ast.Node) {
			found = found || n.Location().From == from
		}))
	}
	return found
}

// blame names the argument, or the item of a list argument, whose value is of the Go
// type got, with what it is: "steps.find.body.name is nil (steps.find.body: no field
// name)". "" when no argument's value is known without running the expression.
func blame(env *Env, args []ast.Node, got string) string {
	values := make([]any, len(args))
	known := make([]bool, len(args))
	for i, a := range args {
		values[i], known[i] = valueOf(env, a, nil, false)
		if known[i] && isGoType(values[i], got) {
			return printed(a) + " is " + valueWords(values[i]) + nilWhy(values[i], func() string { return whyNilAt(env, a) })
		}
	}
	for i, a := range args {
		list, ok := values[i].([]any)
		if !known[i] || !ok {
			continue
		}
		for k, item := range list {
			if isGoType(item, got) {
				at := fmt.Sprintf("%s[%d]", printed(a), k)
				return at + " is " + valueWords(item) + nilWhy(item, func() string { return whyItemNil(env, a, k) })
			}
		}
	}
	return ""
}

// nilWhy is " (where it went missing)" for a nil value whose why says so; "" otherwise.
func nilWhy(v any, why func() string) string {
	if v != nil {
		return ""
	}
	if w := why(); w != "" {
		return " (" + w + ")"
	}
	return ""
}

// whyNilAt says where the value of n, a path of fields and indexes from a root
// (steps.find.body.items[1].id), went missing; "" for any other expression.
func whyNilAt(env *Env, n ast.Node) string {
	root, path, ok := memberPath(n)
	id, isIdent := root.(*ast.IdentifierNode)
	if !ok || !isIdent {
		return ""
	}
	cur, ok := rootOf(env, []string{id.Value})
	if !ok {
		return ""
	}
	return whyNilFrom(cur, id.Value, path)
}

// whyItemNil says where item k of a map(LIST, #.a.b) went missing: LIST[k]: no field a.
func whyItemNil(env *Env, n ast.Node, k int) string {
	b, ok := unchain(n).(*ast.BuiltinNode)
	if !ok || b.Name != "map" || len(b.Arguments) != 2 {
		return ""
	}
	pred, ok := b.Arguments[1].(*ast.PredicateNode)
	if !ok {
		return ""
	}
	root, path, ok := memberPath(pred.Node)
	_, isItem := root.(*ast.PointerNode)
	list, known := valueOf(env, b.Arguments[0], nil, false)
	items, isList := list.([]any)
	if !ok || !isItem || !known || !isList || k >= len(items) {
		return ""
	}
	return whyNilFrom(items[k], fmt.Sprintf("%s[%d]", printed(b.Arguments[0]), k), path)
}

// memberPath splits n, a path of fields and indexes, into its root (a name, or the
// item # of a predicate) and the path: field names and indexes. False for any other
// expression.
func memberPath(n ast.Node) (ast.Node, []any, bool) {
	switch n := unchain(n).(type) {
	case *ast.IdentifierNode:
		return n, nil, true
	case *ast.PointerNode:
		return n, nil, n.Name == ""
	case *ast.MemberNode:
		root, path, ok := memberPath(n.Node)
		switch p := n.Property.(type) {
		case *ast.StringNode:
			return root, append(path, p.Value), ok
		case *ast.IntegerNode:
			return root, append(path, p.Value), ok
		}
	}
	return nil, nil, false
}

// valueOf is the value of n in env when it is found without computing anything: a
// name, a field or an index of one, a literal, or map() of a list by a path of its
// items' fields (map(steps.list.body.items, .id)). item is the item # stands for,
// when inItem. False for any other expression.
func valueOf(env *Env, n ast.Node, item any, inItem bool) (any, bool) {
	switch n := unchain(n).(type) {
	case *ast.IdentifierNode:
		return rootOf(env, []string{n.Value})
	case *ast.PointerNode:
		return item, inItem && n.Name == ""
	case *ast.NilNode:
		return nil, true
	case *ast.StringNode:
		return n.Value, true
	case *ast.IntegerNode:
		return n.Value, true
	case *ast.FloatNode:
		return n.Value, true
	case *ast.BoolNode:
		return n.Value, true
	case *ast.MemberNode:
		base, ok := valueOf(env, n.Node, item, inItem)
		if !ok || base == nil {
			return nil, ok
		}
		switch p := n.Property.(type) {
		case *ast.StringNode:
			m, isMap := base.(map[string]any)
			return m[p.Value], isMap
		case *ast.IntegerNode:
			list, isList := base.([]any)
			j := p.Value
			if j < 0 {
				j += len(list)
			}
			if !isList || j < 0 || j >= len(list) {
				return nil, false
			}
			return list[j], true
		}
	case *ast.BuiltinNode:
		if n.Name != "map" || len(n.Arguments) != 2 {
			return nil, false
		}
		pred, ok := n.Arguments[1].(*ast.PredicateNode)
		list, known := valueOf(env, n.Arguments[0], item, inItem)
		items, isList := list.([]any)
		if !ok || !known || !isList {
			return nil, false
		}
		out := make([]any, len(items))
		for i, it := range items {
			if out[i], ok = valueOf(env, pred.Node, it, true); !ok {
				return nil, false
			}
		}
		return out, true
	}
	return nil, false
}

func unchain(n ast.Node) ast.Node {
	for {
		c, ok := n.(*ast.ChainNode)
		if !ok {
			return n
		}
		n = c.Node
	}
}

// printed is an expression as it was written, near enough: expr prints the ?. that
// every field read has in a workflow (NilSafe) where the file has a plain dot.
func printed(n ast.Node) string {
	return strings.NewReplacer("?.[", "[", "?.", ".").Replace(n.String())
}

// isGoType reports whether v's Go type is named t, as Go's messages name it.
func isGoType(v any, t string) bool {
	if v == nil {
		return t == "nil"
	}
	return reflect.TypeOf(v).String() == t
}

// valueWords says what a value is: nil, a string, a number, an object, a list.
func valueWords(v any) string {
	if v == nil {
		return "nil"
	}
	return kindOf(reflect.TypeOf(v))
}

// goTypeWords says a Go type, named as Go's messages name it, as valueWords would.
func goTypeWords(t string) string {
	switch t {
	case "nil":
		return "nil"
	case "string":
		return "a string"
	case "bool":
		return "a bool"
	case "int", "int64", "float64":
		return "a number"
	case "[]interface {}", "[]string":
		return "a list"
	case "map[string]interface {}":
		return "an object"
	case "time.Time":
		return "a date"
	case "time.Duration":
		return "a duration"
	}
	switch {
	case strings.HasPrefix(t, "map["):
		return "an object"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	}
	return t
}
