package workflows

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/agext/levenshtein"
	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser/lexer"
	"github.com/expr-lang/expr/vm"
	"github.com/hashicorp/hcl/v2"
)

// Env is the run-time expression environment: the names a filter, condition, for_each
// or {{ template }} can read. Every expression is compiled against this type, so a
// misspelled root name is a load-time error rather than a silent nil.
type Env struct {
	Event map[string]any `expr:"event"`
	Steps map[string]any `expr:"steps"`
	Vars  map[string]any `expr:"vars"`
	Run   map[string]any `expr:"run"`
	// Each is the item a for_each step runs for, {key, value} (see Item.EachValue);
	// nil elsewhere. The loader allows it only in the steps that have a for_each.
	Each map[string]any `expr:"each"`
	// Poll is what a poll trigger's request reads of its poll: {cursor, time}; nil
	// elsewhere.
	Poll map[string]any `expr:"poll"`
	// ResumeURL is resume_url("NAME"): the URL that resumes the run's wait step NAME.
	// The engine sets it for the steps of a run; nil elsewhere (the loader allows it
	// only in steps).
	ResumeURL func(step string) (string, error) `expr:"resume_url"`
}

// maxNodes bounds the size of one expression; anything larger is a mistake or an attack.
const maxNodes = 10_000

type exprOption = expr.Option

var (
	valueOptions = append([]exprOption{expr.Env(Env{}), expr.MaxNodes(maxNodes), NilSafe()}, functions...)
	boolOptions  = append([]exprOption{expr.Env(Env{}), expr.MaxNodes(maxNodes), expr.AsBool(), NilSafe()}, functions...)
)

// Programs are shared by every worker; a VM is scratch space, so keep a pool of them.
var vms = sync.Pool{New: func() any { return new(vm.VM) }}

func run(p *vm.Program, env *Env) (any, error) {
	v := vms.Get().(*vm.VM)
	out, err := v.Run(p, env)
	vms.Put(v)
	if err != nil {
		err = explain(p, env, err)
	}
	return out, err
}

// Condition is a compiled boolean expression: a workflow's filter or a step's if.
type Condition struct {
	Source string
	prog   *vm.Program
}

// Eval reports whether the condition holds in env.
func (c *Condition) Eval(env *Env) (bool, error) {
	out, err := run(c.prog, env)
	if err != nil {
		return false, fmt.Errorf("%s: %w", c.Source, err)
	}
	b, ok := out.(bool)
	if !ok {
		// Conditions over event data are typed only when they run.
		return false, fmt.Errorf("%s: gave %s, not true or false", c.Source, Text(out))
	}
	return b, nil
}

// unbraced is t, written as one {{ }}, without the braces.
func unbraced(t string) string {
	return strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(t, "{{"), "}}"))
}

// compileCondition compiles src, which was read from the attribute at loc.
func compileCondition(src string, loc location) (*Condition, hcl.Diagnostics) {
	if t := strings.TrimSpace(src); strings.HasPrefix(t, "{{") && strings.HasSuffix(t, "}}") {
		return nil, hcl.Diagnostics{loc.diag(hcl.DiagError, "Condition written as a template",
			fmt.Sprintf("A condition is a bare expression: drop the {{ }} and write %q.", unbraced(t)))}
	}
	if strings.TrimSpace(src) == "" {
		return nil, hcl.Diagnostics{loc.diag(hcl.DiagError, "Empty condition",
			`A condition needs an expression that is true or false, such as "event.body.amount > 100".`)}
	}
	prog, err := loc.compiler().compile(src, true)
	if err != nil {
		if value, verr := loc.compiler().compile(src, false); verr == nil {
			// It compiles as a value: its type is known and is not bool.
			return nil, loc.hidingSecrets(hcl.Diagnostics{conditionTypeDiag(value.Node(), src, loc)}, 0, len(src))
		}
		return nil, hcl.Diagnostics{exprDiag(err, src, 0, loc)}
	}
	diags := checkRefs(prog, src, 0, loc)
	if diags.HasErrors() {
		return nil, diags
	}
	if d := conditionTypeDiag(prog.Node(), src, loc); d != nil {
		diags = append(diags, loc.hidingSecrets(hcl.Diagnostics{d}, 0, len(src))...)
		if d.Severity == hcl.DiagError {
			return nil, diags
		}
	}
	return &Condition{Source: src, prog: prog}, diags
}

// conditionTypeDiag checks what a condition gives. One that cannot give true or false
// is an error; one whose type is known only when it runs (event.body.status) is a
// warning, as anything but true or false then fails the run. It returns nil for a
// condition that gives a bool.
func conditionTypeDiag(n ast.Node, src string, loc location) *hcl.Diagnostic {
	text := strings.TrimSpace(src)
	kind := formKind(n)
	var d *hcl.Diagnostic
	switch kind {
	case "true or false":
		return nil
	case "":
		d = loc.diag(hcl.DiagWarning, "Condition may not be true or false",
			fmt.Sprintf("The type of %s is known only when the run reaches it, and a condition that gives anything but "+
				"true or false fails then. Compare it with something, such as %s == 'paid', or %s != nil to test that it is there, "+
				"or %s == true for a field that holds true or false.", text, text, text, text))
	default:
		d = loc.diag(hcl.DiagError, "Condition is not true or false",
			fmt.Sprintf("A condition must give true or false, but %q gives %s. Compare it with something, such as %s.",
				text, kind, comparison(text, kind)))
	}
	d.Subject = loc.at(0, len(src)).Ptr()
	return d
}

// comparison suggests a condition on an expression that gives kind.
func comparison(text, kind string) string {
	switch kind {
	case "a number":
		return text + " > 0"
	case "a string", "a number or a string":
		return text + " == 'value'"
	case "a list", "an object":
		return "len(" + text + ") > 0"
	}
	return text + " != nil"
}

// formKind names what an expression gives, as far as its types and its form tell:
// "a number" for event.body.total + 1, though event.body.total is typed only when it
// runs. It is "" when the type is known only at run time.
func formKind(n ast.Node) string {
	if k := TypeKind(n.Type()); k != "" {
		return k
	}
	switch n := n.(type) {
	case *ast.NilNode:
		return "nil"
	case *ast.BinaryNode:
		switch n.Operator {
		case "-", "*", "/", "%", "**", "^":
			return "a number"
		case "..":
			return "a list"
		case "+":
			l, r := formKind(n.Left), formKind(n.Right)
			switch {
			case l == "a string" || r == "a string":
				return "a string"
			case l == "a number" || r == "a number":
				return "a number"
			}
			return "a number or a string"
		}
	case *ast.UnaryNode:
		if n.Operator == "-" || n.Operator == "+" {
			return "a number"
		}
	}
	return ""
}

// TypeKind names a type the way a user reads it; "" for a type known only at run time.
func TypeKind(t reflect.Type) string {
	switch {
	case t == nil, t.Kind() == reflect.Interface:
		return ""
	case t == reflect.TypeOf(time.Time{}):
		return "a time"
	case t == reflect.TypeOf(time.Duration(0)):
		return "a duration"
	case t.Kind() == reflect.Bool:
		return "true or false"
	}
	return kindOf(t)
}

// loadTime are the functions of the file's own language, read when it loads: an
// expression meets them only where they were written inside {{ }} by mistake.
var loadTime = map[string]bool{"env": true, "secret": true, "file": true}

// exprDiag turns an expr compile error into a diagnostic pointing inside the attribute.
// src is the expression's source and offset its byte position within the string value.
func exprDiag(err error, src string, offset int, loc location) *hcl.Diagnostic {
	msg := err.Error()
	var fe *file.Error
	at := 0
	if errors.As(err, &fe) {
		msg = fe.Message
		at = runeToByte(src, fe.From)
	}
	msg = strings.TrimSpace(msg)
	summary, detail := "Invalid expression", exprText(msg, src)
	end := len(src) // where the marked part ends
	if name, ok := strings.CutPrefix(msg, "unknown name "); ok && isCall(src, at+len(name)) {
		summary = fmt.Sprintf("Unknown function %q", name)
		end = at + len(name)
		detail = fmt.Sprintf("There is no function %q. Expressions have expr's built-in functions (len, upper, filter, …) and hookflow's (sha256, hmac, uuid, …).", name)
		if s := suggestFunction(name, loc.compiler().functionNames()); s != "" {
			detail = fmt.Sprintf("There is no function %q. Did you mean %q?", name, s)
		}
		if loadTime[name] {
			detail = fmt.Sprintf("The function %s() is read once, when the file loads, not in an expression: write it outside {{ }}, as \"${%s(\"NAME\")}\" in a string or %s(\"NAME\") as the whole value.", name, name, name)
		}
	} else if ok {
		summary = fmt.Sprintf("Unknown name %q", name)
		detail = fmt.Sprintf("Expressions read event, steps, vars and run (and each, in a for_each step); %q is none of them.", name)
		if s := suggest(name, roots); s != "" {
			detail = fmt.Sprintf("Expressions read event, steps, vars and run (and each, in a for_each step). Did you mean %q?", s)
		}
		// A {{ after a $ is GitHub Actions' ${{ … }} meant as text, which githubText
		// explains.
		asText := loc.inTemplate(offset) && offset >= 3 && loc.value[offset-3] == '$'
		if hint := githubRead(name, src, loc.inTemplate(offset), loc.attrName()); hint != "" && !asText {
			detail = fmt.Sprintf("Expressions read event, steps, vars and run (and each, in a for_each step); %q is none of them.%s", name, hint)
		}
	} else if msg == "unexpected token EOF" {
		// expr says it met the end of the source where more was to come, and marks
		// the end: the expression stops short.
		last, open := incomplete(src)
		detail = fmt.Sprintf("%q ends too soon: something must follow %q.", strings.TrimSpace(src), last)
		if open != "" {
			detail = fmt.Sprintf("%q ends too soon: a %s is not closed.", strings.TrimSpace(src), open)
		}
		if hint := pipeHint(src, fe); hint != "" {
			detail = fmt.Sprintf("%q ends too soon. %s", strings.TrimSpace(src), hint)
		}
	} else if hint, from, to, ok := operatorCall(src, fe); ok {
		summary, detail, at, end = "Operator called as a function", hint, from, to
	} else if hint, from, to, ok := objectFilter(src, fe); ok {
		summary, detail, at, end = "Object filter .*. in an expression", hint, from, to
	} else if hint := pipeHint(src, fe); hint != "" {
		detail = exprText(msg, src) + " " + hint
	} else if word, ok := spelledOperator(msg); ok {
		end = at + len(word)
		detail = fmt.Sprintf("%s Expressions write %s as %q or %q.", exprText(msg, src), word,
			strings.ToLower(word), map[string]string{"AND": "&&", "OR": "||", "NOT": "!"}[word])
	} else if op, ok := strictEquality(msg, src, at); ok {
		// JavaScript's === and !==: expr reads == or != and meets one = too many.
		summary = fmt.Sprintf("Use %s to compare", op)
		at, end = at-2, at+1
		detail = fmt.Sprintf("%s is how JavaScript compares without converting types; an expression writes it %s, "+
			"which never converts them ('1' %s 1 is %t). Did you mean %q?",
			src[at:end], op, op, op == "!=", strings.TrimSpace(src[:at]+op+src[end:]))
	} else if strings.HasPrefix(msg, `unexpected token Operator("=")`) && at < len(src) && src[at] == '=' {
		summary = "Use == to compare"
		end = at + 1
		detail = fmt.Sprintf("A single = sets a value in the file; an expression compares with ==. Did you mean %q?",
			strings.TrimSpace(src[:at]+"=="+src[at+1:]))
	}
	d := loc.diag(hcl.DiagError, summary, sentence(detail))
	d.Subject = loc.at(offset+at, offset+end).Ptr()
	if loc.secretIn(offset, offset+len(src)) {
		d.Subject = loc.at(offset, offset+len(src)).Ptr()
		return secretSource(d)
	}
	return d
}

// strictEquality returns == or != when msg is expr's complaint about the = at byte at
// of src that ends a === or !==, JavaScript's comparisons.
func strictEquality(msg, src string, at int) (string, bool) {
	if !strings.HasPrefix(msg, `unexpected token Operator("=")`) || at < 2 || at >= len(src) {
		return "", false
	}
	switch src[at-2 : at+1] {
	case "===":
		return "==", true
	case "!==":
		return "!=", true
	}
	return "", false
}

// spelledOperator returns AND, OR or NOT when msg is expr's complaint about one, as
// SQL writes them.
func spelledOperator(msg string) (string, bool) {
	for _, w := range []string{"AND", "OR", "NOT"} {
		if strings.HasPrefix(msg, `unexpected token Identifier("`+w+`")`) {
			return w, true
		}
	}
	return "", false
}

// exprText is expr's message about src, and src, as a sentence. A message of one
// sentence comes first; one of several (each with its full stop) after src.
func exprText(msg, src string) string {
	src, msg = strings.TrimSpace(src), strings.TrimSuffix(msg, ".")
	if !strings.Contains(msg, ". ") {
		return fmt.Sprintf("%s, in %q.", msg, src)
	}
	if r, size := utf8.DecodeRuneInString(msg); unicode.IsUpper(r) {
		msg = string(unicode.ToLower(r)) + msg[size:]
	}
	return fmt.Sprintf("In %q: %s.", src, msg)
}

// incomplete looks at src, an expression that ends too soon: it returns its last
// token, and the bracket it leaves open, if any.
func incomplete(src string) (last, open string) {
	tokens, err := lexer.Lex(file.NewSource(src))
	if err != nil {
		return strings.TrimSpace(src), ""
	}
	var opened []string
	for _, t := range tokens {
		switch {
		case t.Kind == lexer.EOF:
			continue
		case t.Is(lexer.Bracket, "(", "[", "{"):
			opened = append(opened, t.Value)
		case t.Kind == lexer.Bracket && len(opened) > 0:
			opened = opened[:len(opened)-1]
		}
		last = src[runeToByte(src, t.From):runeToByte(src, t.To)]
	}
	if len(opened) > 0 {
		open = opened[len(opened)-1]
	}
	return last, open
}

// pipeHint explains fe when it is the error of a pipe into a bare name, x | upper:
// expr pipes only into a call, x | upper(), and reports the token after the name as
// unexpected. It returns "" for any other error.
func pipeHint(src string, fe *file.Error) string {
	if fe == nil || !strings.HasPrefix(fe.Message, "unexpected token ") {
		return ""
	}
	tokens, err := lexer.Lex(file.NewSource(src))
	if err != nil {
		return ""
	}
	for i := 2; i < len(tokens); i++ {
		pipe, name, next := tokens[i-2], tokens[i-1], tokens[i]
		if !pipe.Is(lexer.Operator, "|") || name.Kind != lexer.Identifier || next.Is(lexer.Bracket, "(") {
			continue
		}
		if next.From != fe.From {
			return "" // the first pipe into a bare name is not what failed
		}
		// The pipe binds loosest: what it pipes is everything before it, back to an
		// open bracket, a comma or a branch of ?: around it.
		start, depth := 0, 0
	back:
		for j := i - 3; j >= 0; j-- {
			switch t := tokens[j]; {
			case t.Is(lexer.Bracket, ")", "]", "}"):
				depth++
			case t.Is(lexer.Bracket, "(", "[", "{") && depth > 0:
				depth--
			case depth == 0 && (t.Kind == lexer.Bracket || t.Is(lexer.Operator, ",", "?", ":", ";")):
				start = runeToByte(src, t.To)
				break back
			}
		}
		left := strings.TrimSpace(src[start:runeToByte(src, pipe.From)])
		if left == "" {
			return ""
		}
		return fmt.Sprintf("A pipe goes into a function call: write %s(%s) or %s | %s().", name.Value, left, left, name.Value)
	}
	return ""
}

// roots are the names every run-time expression can start with.
var roots = []string{"event", "steps", "vars", "run", "each", "poll"}

func runeToByte(s string, runes int) int {
	i := 0
	for n := 0; n < runes && i < len(s); n++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return i
}

// isCall reports whether the name that ends at byte end of src is called: name(…).
func isCall(src string, end int) bool {
	return end <= len(src) && strings.HasPrefix(strings.TrimLeft(src[end:], " \t"), "(")
}

// suggestFunction returns the function a misspelled name most likely meant: the one
// fewest edits away, if that is at most half the name's length (lenght is len), the
// one sharing the longer start with it on a tie.
func suggestFunction(name string, known []string) string {
	limit := max(2, len(name)/2)
	best, bestDist, bestPrefix := "", limit+1, 0
	for _, k := range known {
		d := levenshtein.Distance(name, k, nil)
		p := commonPrefix(name, k)
		if d <= limit && (d < bestDist || d == bestDist && p > bestPrefix) {
			best, bestDist, bestPrefix = k, d, p
		}
	}
	return best
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
