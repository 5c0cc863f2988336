package workflows

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// Block is a trigger or step block, or a block nested in one, as its kind's
// constructor sees it: the kind's own attributes, evaluated at load time and compiled
// into templates, and its nested blocks.
type Block struct {
	Kind     string // the block's kind: "http", "webhook", or a nested block's first label
	Name     string // the step's name; empty otherwise
	DefRange hcl.Range
	attrs    map[string]*BlockAttr
	nested   []*hcl.Block
	decode   func(raw *hcl.Block, attrs []Attr) (*Block, hcl.Diagnostics)
	api      *API
	failed   []*hcl.Attribute // the attributes that did not evaluate or compile
	stored   bool             // of a stored version: see Mistakes
	// secrets are the values the workflows' set hides like secret()'s; the block's
	// credentials fixed at load time join them (see HideCredentialFields).
	secrets map[string]bool
}

// API returns the api block a step names with api = "NAME"; nil when it names none.
func (b *Block) API() *API { return b.api }

// BlockAttr is one attribute of a Block.
type BlockAttr struct {
	Name       string
	Template   *Template
	Range      hcl.Range // the whole attribute: name = value
	ValueRange hcl.Range // the value alone
	loc        location  // where the value was written, for expressions compiled from it
	expr       hcl.Expression
	// literalVars are the vars whose values are written out in the files, by name.
	literalVars map[string]bool
	vars        map[string]any // the vars' values, for what a template reading only them gives
	secret      bool           // the value holds what secret() read, directly or through a var
}

// Attr returns the named attribute, or nil when the block does not set it.
func (b *Block) Attr(name string) *BlockAttr { return b.attrs[name] }

// Names returns the names of the attributes the block sets, sorted.
func (b *Block) Names() []string { return sortedKeys(b.attrs) }

// Template returns the named attribute's template, or nil when the block does not set it.
func (b *Block) Template(name string) *Template {
	if a := b.attrs[name]; a != nil {
		return a.Template
	}
	return nil
}

// Nested returns the nested blocks of a type, in file order.
func (b *Block) Nested(typ string) []*hcl.Block {
	var out []*hcl.Block
	for _, n := range b.nested {
		if n.Type == typ {
			out = append(out, n)
		}
	}
	return out
}

// Decode decodes a nested block's body with a schema, the way the block itself was.
func (b *Block) Decode(raw *hcl.Block, attrs []Attr) (*Block, hcl.Diagnostics) {
	return b.decode(raw, attrs)
}

// Error returns an error diagnostic pointing at the attribute's value.
func (a *BlockAttr) Error(summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: sentence(detail), Subject: a.ValueRange.Ptr()}
}

// ExprError returns an error diagnostic for err, what compiling src, the attribute's
// string value read as a bare expression, gave: it points at the characters err
// names, as the loader's own expression errors do. A kind that compiles expressions
// over names of its own (a poll's items, key and cursor) reports with it, and may
// reword its Summary and Detail.
func (a *BlockAttr) ExprError(err error, src string) *hcl.Diagnostic {
	loc := a.loc
	loc.value = src
	return exprDiag(err, src, 0, loc)
}

// Warning returns a warning diagnostic pointing at the attribute.
func (a *BlockAttr) Warning(summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: summary, Detail: sentence(detail), Subject: a.Range.Ptr()}
}

// sentence makes a message read as diagnostic details are written: a capital first
// letter and a full stop. Messages from Go errors come without either. A first word
// that is a name as written in a file (max_parallel, event.body) keeps its case.
func sentence(s string) string {
	if s == "" {
		return s
	}
	first, _, _ := strings.Cut(s, " ")
	if r, size := utf8.DecodeRuneInString(s); unicode.IsLower(r) && !strings.ContainsAny(first, "_.") {
		s = string(unicode.ToUpper(r)) + s[size:]
	}
	if !strings.ContainsAny(s[len(s)-1:], ".?!") {
		s += "."
	}
	return s
}

// constant returns an attribute that must be fixed at load time (no {{ }}).
func (b *Block) constant(name string) (any, *BlockAttr, hcl.Diagnostics) {
	a := b.attrs[name]
	if a == nil {
		return nil, nil, nil
	}
	v, ok := a.Template.Const()
	if !ok {
		return nil, a, hcl.Diagnostics{a.Error(fmt.Sprintf("%s cannot use {{ }}", name),
			fmt.Sprintf("The value of %s is fixed when the file loads; it cannot depend on the event.", name))}
	}
	return v, a, nil
}

// ConstString returns an attribute that must be a string fixed at load time, or def
// when the block does not set it.
func (b *Block) ConstString(name, def string) (string, hcl.Diagnostics) {
	v, a, diags := b.constant(name)
	if a == nil || diags.HasErrors() {
		return def, diags
	}
	s, ok := v.(string)
	if !ok {
		return def, hcl.Diagnostics{a.Error(fmt.Sprintf("%s must be a string", name),
			fmt.Sprintf("Got %s. Put the value in double quotes.", typeName(v)))}
	}
	return s, nil
}

// Bool returns an attribute that must be true or false, fixed at load time, or def.
func (b *Block) Bool(name string, def bool) (bool, hcl.Diagnostics) {
	v, a, diags := b.constant(name)
	if a == nil || diags.HasErrors() {
		return def, diags
	}
	x, ok := v.(bool)
	if !ok {
		return def, hcl.Diagnostics{a.Error(fmt.Sprintf("%s must be true or false", name),
			fmt.Sprintf("Got %s. Write %s = true or %s = false, without quotes.", typeName(v), name, name))}
	}
	return x, nil
}

// OneOf returns a string attribute that must be one of options, or def.
func (b *Block) OneOf(name, def string, options ...string) (string, hcl.Diagnostics) {
	s, diags := b.ConstString(name, def)
	if diags.HasErrors() || slices.Contains(options, s) {
		return s, diags
	}
	return def, hcl.Diagnostics{b.attrs[name].Error(fmt.Sprintf("Invalid %s %q", name, s),
		fmt.Sprintf("%s is one of %s.", name, quoteList(options)))}
}

// Duration returns an attribute that must be a duration fixed at load time ("30s",
// "5m", "1h30m", "2d"), or def.
func (b *Block) Duration(name string, def time.Duration) (time.Duration, hcl.Diagnostics) {
	if v, a, _ := b.constant(name); a != nil {
		if _, isNumber := v.(int); isNumber {
			return def, hcl.Diagnostics{a.Error(fmt.Sprintf("Invalid %s", name),
				fmt.Sprintf(`A duration needs a unit: write %s = "%vs" for %v seconds.`, name, v, v))}
		}
	}
	s, diags := b.ConstString(name, "")
	if diags.HasErrors() || b.attrs[name] == nil {
		return def, diags
	}
	d, err := ParseDuration(s)
	if err != nil || d <= 0 {
		return def, hcl.Diagnostics{b.attrs[name].Error(fmt.Sprintf("Invalid duration %q", s), durationHelp)}
	}
	return d, nil
}

// Int returns an attribute that must be a whole number in [min, max], or def.
func (b *Block) Int(name string, def, min, max int) (int, hcl.Diagnostics) {
	v, a, diags := b.constant(name)
	if a == nil || diags.HasErrors() {
		return def, diags
	}
	n, ok := v.(int)
	if !ok || n < min || n > max {
		limit := fmt.Sprintf("at least %d", min)
		if max < math.MaxInt {
			limit = fmt.Sprintf("from %d to %d", min, max)
		}
		return def, hcl.Diagnostics{a.Error(fmt.Sprintf("Invalid %s", name),
			fmt.Sprintf("%s must be a whole number %s, without quotes; got %s.", name, limit, Text(describe(v))))}
	}
	return n, nil
}

// Strings returns an attribute that must be a string or a list of strings fixed at
// load time.
func (b *Block) Strings(name string) ([]string, hcl.Diagnostics) {
	v, a, diags := b.constant(name)
	if a == nil || diags.HasErrors() {
		return nil, diags
	}
	switch v := v.(type) {
	case string:
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, hcl.Diagnostics{a.Error(fmt.Sprintf("%s must be a list of strings", name),
					fmt.Sprintf("Got %s in the list.", typeName(e)))}
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, hcl.Diagnostics{a.Error(fmt.Sprintf("%s must be a list of strings", name),
		fmt.Sprintf("Got %s. Write [\"a\", \"b\"].", typeName(v)))}
}

// CheckString reports an attribute that must be a string, such as a url, written as a
// value of another type: a number, a bool, a list or an object, with {{ }} in it or
// not. A value that is exactly one {{ }} is not checked: its type is known when it
// renders. example is how the attribute is written, for the detail.
func (b *Block) CheckString(name, example string) hcl.Diagnostics {
	a := b.attrs[name]
	if a == nil {
		return nil
	}
	var got string
	switch t := a.Template; t.kind {
	case constKind:
		if _, ok := t.value.(string); ok {
			return nil
		}
		got = typeName(t.value)
	case objectKind:
		got = "an object"
	case listKind:
		got = "a list"
	default:
		return nil
	}
	return hcl.Diagnostics{a.Error(fmt.Sprintf("%s must be a string", name),
		fmt.Sprintf("Got %s. Write it as one string in double quotes: %s.", got, example))}
}

// CheckConst runs check on an attribute's value when it is fixed at load time, so that
// a mistake in a constant is found when the file loads rather than when the step
// runs. A template is checked when it renders.
func (b *Block) CheckConst(name, summary string, check func(v any) error) hcl.Diagnostics {
	a := b.attrs[name]
	if a == nil {
		return nil
	}
	v, ok := a.Template.Const()
	if !ok {
		return nil
	}
	if err := check(v); err != nil {
		return hcl.Diagnostics{a.Error(summary, err.Error())}
	}
	return nil
}

// CheckConstField runs check on field key of an attribute written as an object,
// { key = value, … }, when that field's value is fixed at load time, whether the rest
// of the object is or not; the diagnostic points at the field's value. A template is
// checked when it renders.
func (b *Block) CheckConstField(name, key, summary string, check func(v any) error) hcl.Diagnostics {
	a := b.attrs[name]
	if a == nil {
		return nil
	}
	var v any
	switch t := a.Template; t.kind {
	case constKind:
		m, ok := t.value.(map[string]any)
		if v, ok = m[key]; !ok {
			return nil
		}
	case objectKind:
		i, found := slices.BinarySearch(t.keys, key)
		if !found {
			return nil
		}
		var ok bool
		if v, ok = t.elems[i].Const(); !ok {
			return nil
		}
	default:
		return nil
	}
	err := check(v)
	if err == nil {
		return nil
	}
	d := a.Error(summary, err.Error())
	if e := fieldExpr(a.expr, key); e != nil {
		d.Subject = e.Range().Ptr()
	}
	return hcl.Diagnostics{d}
}

// Object is a CheckConst check for attributes written as { name = value }.
func Object(v any) error {
	if _, ok := v.(map[string]any); !ok {
		return fmt.Errorf(`write it as { name = "value" }, not %s`, typeName(v))
	}
	return nil
}

// OnlyOne reports an error when the block sets more than one of names.
func (b *Block) OnlyOne(names ...string) hcl.Diagnostics {
	var set []*BlockAttr
	for _, n := range names {
		if a := b.attrs[n]; a != nil {
			set = append(set, a)
		}
	}
	if len(set) < 2 {
		return nil
	}
	sort.Slice(set, func(i, j int) bool { return set[i].Range.Start.Byte < set[j].Range.Start.Byte })
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Both %s and %s are set", set[0].Name, set[1].Name),
		Detail:   fmt.Sprintf("Set only one of %s.", quoteList(names)),
		Subject:  set[1].Range.Ptr(),
	}}
}

func quoteList(options []string) string {
	q := make([]string, len(options))
	for i, o := range options {
		q[i] = fmt.Sprintf("%q", o)
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// describe makes a value readable in a message: strings quoted.
func describe(v any) any {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return v
}
