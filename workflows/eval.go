package workflows

import (
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// runtimeRoots are names that exist only when a run executes. At load time they get an
// error that says how to write what the user meant.
var runtimeRoots = map[string]string{
	"event": "event.body.id",
	"steps": "steps.NAME.body.id",
	"run":   "run.id",
	"each":  "each.value",
}

// evaluator evaluates attributes at load time: literals, ${} interpolation, vars.NAME
// and the functions env, secret and file.
type evaluator struct {
	ctx     *hcl.EvalContext
	vars    map[string]cty.Value
	unset   *unsetLog
	secrets map[string]bool
	env     *environ
	// text is what env(), secret() and file() make of the text they read: literal,
	// for a value whose strings are compiled as templates; or the text as it is, for
	// a var's run-time value.
	text func(string) string
}

// newEvaluator returns an evaluator over vars; env() and secret() read env. secret()
// adds every value it reads to secrets, so that they can be hidden wherever text is
// recorded or shown. env() and secret() report the variables that are not set to
// unset. What env(), secret() and file() read is made literal: the values it gives
// are compiled as templates.
func newEvaluator(vars map[string]cty.Value, secrets map[string]bool, unset *unsetLog, env *environ) *evaluator {
	return newTextEvaluator(vars, secrets, unset, env, literal)
}

func newTextEvaluator(vars map[string]cty.Value, secrets map[string]bool, unset *unsetLog, env *environ, text func(string) string) *evaluator {
	return &evaluator{vars: vars, unset: unset, secrets: secrets, env: env, text: text, ctx: &hcl.EvalContext{
		Variables: map[string]cty.Value{"vars": cty.ObjectVal(vars)},
		Functions: map[string]function.Function{"env": envFunc(unset, env, text), "secret": secretFunc(secrets, unset, env, text)},
	}}
}

// exact returns the evaluator whose env(), secret() and file() give the text they
// read as it is: a var's value as run-time expressions read it, where "{{ vars.x }}"
// is the text that was read, braces and all.
func (e *evaluator) exact() *evaluator {
	return newTextEvaluator(e.vars, e.secrets, e.unset, e.env, func(s string) string { return s })
}

// forFile returns an evaluator whose file() reads relative to the named workflow file.
func (e *evaluator) forFile(filename string) *evaluator {
	child := e.ctx.NewChild()
	child.Functions = map[string]function.Function{"file": fileFunc(filepath.Dir(filename), e.text)}
	return &evaluator{ctx: child, vars: e.vars, unset: e.unset, secrets: e.secrets, env: e.env, text: e.text}
}

// value evaluates an expression to a plain Go value: string, int64, float64, bool, nil,
// map[string]any or []any.
func (e *evaluator) value(x hcl.Expression) (any, hcl.Diagnostics) {
	v, _, diags := e.markedValue(x)
	return v, diags
}

// valueMarks say where a load-time value came from, as far as it matters after.
type valueMarks struct {
	placeholder bool // it holds a placeholder for a variable that is not set
	// secret: it holds what secret() read, set or not. What checks the value itself
	// would miss a secret that is not set, as validate mostly runs without them.
	secret bool
}

// markedValue is value, and also says what the value holds.
func (e *evaluator) markedValue(x hcl.Expression) (any, valueMarks, hcl.Diagnostics) {
	v, diags := e.eval(x)
	if diags.HasErrors() {
		return nil, valueMarks{}, diags
	}
	out, err := goValue(v)
	if err != nil {
		return nil, valueMarks{}, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Unsupported value",
			Detail:   err.Error(),
			Subject:  x.Range().Ptr(),
		}}
	}
	return out, valueMarks{placeholder: v.HasMarkDeep(placeholderMark), secret: v.HasMarkDeep(sensitive)}, nil
}

// eval evaluates an expression to a load-time value, with messages written for the
// mistakes people make: a run-time name outside {{ }}, a misspelt var, an unset
// environment variable or secret.
func (e *evaluator) eval(x hcl.Expression) (cty.Value, hcl.Diagnostics) {
	if diags := checkLoadTimeRefs(x); diags.HasErrors() {
		return cty.NilVal, diags
	}
	if diags := e.checkVars(x); diags.HasErrors() {
		return cty.NilVal, diags
	}
	e.unset.at, e.unset.expr = x.Range(), x
	v, diags := x.Value(e.ctx)
	for _, d := range diags {
		if extra, ok := hcl.DiagnosticExtra[hclsyntax.FunctionCallDiagExtra](d); ok {
			var u *unsetError
			var le *loadError
			switch {
			case errors.As(extra.FunctionCallError(), &u):
				d.Summary, d.Detail = u.summary(), u.detail()
				d.Extra = &UnsetVariable{Name: u.name, Secret: u.secret, extra: d.Extra}
			case errors.As(extra.FunctionCallError(), &le):
				d.Summary, d.Detail = le.summary, le.detail
			}
		}
	}
	return v, diags
}

// loadError is a load-time function's failure, said as a diagnostic says it, in place
// of HCL's "Error in function call".
type loadError struct{ summary, detail string }

func (e *loadError) Error() string { return e.detail }

// checkVars reports vars.NAME references to vars that no vars block defines.
func (e *evaluator) checkVars(x hcl.Expression) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, tr := range x.Variables() {
		if tr.RootName() != "vars" || len(tr) < 2 {
			continue
		}
		attr, ok := tr[1].(hcl.TraverseAttr)
		if !ok {
			continue
		}
		if _, defined := e.vars[attr.Name]; defined {
			continue
		}
		diags = append(diags, unknownVar(attr.Name, sortedKeys(e.vars), attr.SrcRange))
	}
	return diags
}

// UnsetVariable is the Extra of a diagnostic about env() or secret() reading an
// environment variable that is not set: hcl.DiagnosticExtra[*UnsetVariable] finds it,
// so that a caller can say what to do in its own terms (a reload cannot see a variable
// exported after the process started).
type UnsetVariable struct {
	Name   string
	Secret bool
	extra  any // hcl's own, still found through this one
}

// UnwrapDiagnosticExtra gives hcl the Extra this one wraps.
func (u *UnsetVariable) UnwrapDiagnosticExtra() any { return u.extra }

// unsetError is env() or secret() asked for an environment variable that is not set.
type unsetError struct {
	secret bool
	name   string
}

func (u *unsetError) Error() string { return u.summary() }

func (u *unsetError) summary() string {
	if u.secret {
		return fmt.Sprintf("Secret %s is not set", u.name)
	}
	return fmt.Sprintf("Environment variable %s is not set", u.name)
}

func (u *unsetError) detail() string {
	if u.secret {
		return fmt.Sprintf("secret(%q) reads the environment variable %s when the file loads. Export it where hookflow runs.", u.name, u.name)
	}
	return fmt.Sprintf("Export %s where hookflow runs, or give a default: env(%q, \"...\").", u.name, u.name)
}

// literal keeps text read by env(), secret() or file() from being taken for a
// template: a password holding "{{", or a Mustache file, is text, not an expression.
// It is for values compiled as templates, where "${env("X")}" puts the text; a var's
// run-time value holds the text itself (evaluator.exact).
// Each "{{" becomes {{ "{{" }}, which the template compiler folds back into text; so
// does a final "{", which could form "{{" with what follows it in the file.
func literal(s string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	s = strings.ReplaceAll(s, "{{", `{{ "{{" }}`)
	if strings.HasSuffix(s, "{") && !strings.HasSuffix(s, `{{ "{{" }}`) {
		s = s[:len(s)-1] + `{{ "{" }}`
	}
	return s
}

// traversalText is tr as an expression would write it: event.body.items[0].id.
func traversalText(tr hcl.Traversal) string {
	var b strings.Builder
	for _, step := range tr {
		switch step := step.(type) {
		case hcl.TraverseRoot:
			b.WriteString(step.Name)
		case hcl.TraverseAttr:
			b.WriteString("." + step.Name)
		case hcl.TraverseIndex:
			if step.Key.Type() == cty.String {
				fmt.Fprintf(&b, "['%s']", step.Key.AsString())
			} else if step.Key.Type() == cty.Number {
				b.WriteString("[" + step.Key.AsBigFloat().Text('f', -1) + "]")
			}
		}
	}
	return b.String()
}

// checkLoadTimeRefs reports references to names that only exist when a run executes.
func checkLoadTimeRefs(x hcl.Expression) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, tr := range x.Variables() {
		root := tr.RootName()
		example, ok := runtimeRoots[root]
		if !ok {
			continue
		}
		if written := traversalText(tr); written != root {
			example = written // what was written, with its braces changed
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("%q is not known when the file loads", root),
			Detail: fmt.Sprintf("Values outside quotes and inside ${} are computed once, when the file loads. "+
				"For values known when the step runs, use a template in a string: \"{{ %s }}\".", example),
			Subject: tr.SourceRange().Ptr(),
		})
	}
	return diags
}

// goValue converts a load-time value into the plain Go values templates and JSON use.
// Whole numbers become int64 so that they print and compare as integers.
func goValue(v cty.Value) (any, error) {
	v, _ = v.UnmarkDeep()
	switch {
	case v.IsNull():
		return nil, nil
	case !v.IsKnown():
		return nil, fmt.Errorf("the value is not known when the file loads")
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return v.AsString(), nil
	case t == cty.Bool:
		return v.True(), nil
	case t == cty.Number:
		return goNumber(v.AsBigFloat()), nil
	case t.IsObjectType() || t.IsMapType():
		out := make(map[string]any, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			gv, err := goValue(e)
			if err != nil {
				return nil, err
			}
			out[k.AsString()] = gv
		}
		return out, nil
	case t.IsTupleType() || t.IsListType() || t.IsSetType():
		out := make([]any, 0, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			gv, err := goValue(e)
			if err != nil {
				return nil, err
			}
			out = append(out, gv)
		}
		return out, nil
	}
	return nil, fmt.Errorf("values of type %s cannot be used here", t.FriendlyName())
}

func goNumber(f *big.Float) any {
	if f.IsInt() {
		if i, acc := f.Int64(); acc == big.Exact {
			return int(i)
		}
	}
	out, _ := f.Float64()
	return out
}

func envFunc(unset *unsetLog, env *environ, text func(string) string) function.Function {
	return function.New(&function.Spec{
		Description: "Reads an environment variable, with an optional default.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		VarParam:    &function.Parameter{Name: "default", Type: cty.String},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if len(args) > 2 {
				return cty.NilVal, fmt.Errorf("env takes a name and at most one default")
			}
			name := args[0].AsString()
			test := placeholderValue(name) // what hookflow test reads
			if len(args) == 2 {
				test = args[1].AsString()
			}
			if v, ok := env.lookup(name); ok {
				env.note(name, v, test)
				return cty.StringVal(text(v)), nil
			}
			if len(args) == 1 {
				return unset.placeholder(&unsetError{name: name})
			}
			return cty.StringVal(text(test)), nil
		},
	})
}

// sensitive marks a value read with secret(). Marks travel with the value through
// ${} interpolation.
const sensitive = "sensitive"

func secretFunc(secrets map[string]bool, unset *unsetLog, env *environ, text func(string) string) function.Function {
	return function.New(&function.Spec{
		Description: "Reads a secret from the environment and marks it sensitive.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			name := args[0].AsString()
			v, ok := env.lookup(name)
			if !ok || v == "" {
				p, err := unset.placeholder(&unsetError{secret: true, name: name})
				if err != nil {
					return cty.NilVal, err
				}
				return p.Mark(sensitive), nil
			}
			if len(v) < MinSecret {
				return cty.NilVal, &loadError{summary: "Secret too short", detail: fmt.Sprintf("Secret %s is shorter than %d characters: hookflow hides secrets wherever they appear in what it records, and one this short would hide ordinary text.", name, MinSecret)}
			}
			secrets[v] = true
			return cty.StringVal(text(v)).Mark(sensitive), nil
		},
	})
}

func fileFunc(dir string, text func(string) string) function.Function {
	return function.New(&function.Spec{
		Description: "Reads a file, relative to the workflow file that calls it, without its final newline.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			data, err := ReadFile(p)
			if err != nil {
				return cty.NilVal, fmt.Errorf("reading %s: %w", p, err)
			}
			return cty.StringVal(text(strings.TrimSuffix(string(data), "\n"))), nil
		},
	})
}
