package workflows

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
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
}

// maxNodes bounds the size of one expression; anything larger is a mistake or an attack.
const maxNodes = 10_000

type exprOption = expr.Option

var (
	valueOptions = append([]exprOption{expr.Env(Env{}), expr.MaxNodes(maxNodes)}, functions...)
	boolOptions  = append([]exprOption{expr.Env(Env{}), expr.MaxNodes(maxNodes), expr.AsBool()}, functions...)
)

// Programs are shared by every worker; a VM is scratch space, so keep a pool of them.
var vms = sync.Pool{New: func() any { return new(vm.VM) }}

func run(p *vm.Program, env *Env) (any, error) {
	v := vms.Get().(*vm.VM)
	out, err := v.Run(p, env)
	vms.Put(v)
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

// compileCondition compiles src, which was read from the attribute at loc.
func compileCondition(src string, loc location) (*Condition, hcl.Diagnostics) {
	if t := strings.TrimSpace(src); strings.HasPrefix(t, "{{") && strings.HasSuffix(t, "}}") {
		return nil, hcl.Diagnostics{loc.diag(hcl.DiagError, "Condition written as a template",
			"A condition is a bare expression: drop the {{ }} and write, for example, "+
				`"event.body.amount > 100".`)}
	}
	if strings.TrimSpace(src) == "" {
		return nil, hcl.Diagnostics{loc.diag(hcl.DiagError, "Empty condition",
			`A condition needs an expression that is true or false, such as "event.body.amount > 100".`)}
	}
	prog, err := loc.compiler().compile(src, true)
	if err != nil {
		return nil, hcl.Diagnostics{exprDiag(err, src, 0, loc)}
	}
	if diags := checkRefs(prog, src, 0, loc); diags.HasErrors() {
		return nil, diags
	}
	return &Condition{Source: src, prog: prog}, nil
}

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
	summary, detail := "Invalid expression", fmt.Sprintf("%s, in %q.", msg, strings.TrimSpace(src))
	if name, ok := strings.CutPrefix(msg, "unknown name "); ok {
		summary = fmt.Sprintf("Unknown name %q", name)
		detail = fmt.Sprintf("Expressions read event, steps, vars and run (and each, in a for_each step); %q is none of them.", name)
		if s := suggest(name, roots); s != "" {
			detail = fmt.Sprintf("Expressions read event, steps, vars and run (and each, in a for_each step). Did you mean %q?", s)
		}
	} else if got, ok := strings.CutPrefix(msg, "expected bool, but got "); ok {
		summary = "Condition is not true or false"
		detail = fmt.Sprintf("A condition must give true or false, but %q gives %s. Compare it with something, such as %s > 0.",
			strings.TrimSpace(src), got, strings.TrimSpace(src))
	}
	d := loc.diag(hcl.DiagError, summary, sentence(detail))
	d.Subject = loc.at(offset+at, offset+len(src)).Ptr()
	return d
}

// roots are the names every run-time expression can start with.
var roots = []string{"event", "steps", "vars", "run", "each"}

func runeToByte(s string, runes int) int {
	i := 0
	for n := 0; n < runes && i < len(s); n++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return i
}
