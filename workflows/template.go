package workflows

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/internal/httpjson"
	"github.com/hookflow/hookflow/internal/jsonenc"
)

// Template is a value read from a workflow file whose strings may hold {{ expr }} parts.
// It is compiled once when the file loads; Render evaluates it against a run's Env.
//
//   - A string that is exactly one {{ expr }} renders to the expression's own value, with
//     its type: a number, a bool, a list, an object.
//   - Any other string with {{ }} renders to text: each part is joined as a string,
//     objects and lists as JSON, nil as "".
//   - Objects and lists render element by element; a part without {{ }} is constant
//     and costs nothing to render.
type Template struct {
	kind  templateKind
	value any         // constKind: the value itself
	prog  *vm.Program // exprKind
	src   string      // exprKind: the expression source, for errors
	ref   []string    // exprKind: the names it reads, when it is one, such as steps.a.body.id
	parts []part      // joinKind
	keys  []string    // objectKind, sorted
	elems []*Template // objectKind values (by keys) or listKind items
}

type templateKind uint8

const (
	constKind templateKind = iota
	exprKind
	joinKind
	objectKind
	listKind
)

// part is a piece of joined text: either literal text or an expression.
type part struct {
	text string
	prog *vm.Program
	src  string
	ref  []string // the names the expression reads, when it is one: event.body.id
}

// LiteralPrefix returns the text a string template starts with before its first {{ }}:
// all of it for a constant string, "" for a value that is not a string.
func (t *Template) LiteralPrefix() string {
	switch {
	case t.kind == constKind:
		s, _ := t.value.(string)
		return s
	case t.kind == joinKind && len(t.parts) > 0 && t.parts[0].prog == nil:
		return t.parts[0].text
	}
	return ""
}

// Source returns the template as one text, the same for templates written alike
// whatever their layout: a constant as JSON, an expression as {{ its source }}, text
// with its {{ }} parts, an object by its sorted keys. It tells templates apart (a
// poll's json is part of its key).
func (t *Template) Source() string {
	quote := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	switch t.kind {
	case constKind:
		b, err := json.Marshal(t.value)
		if err != nil {
			return fmt.Sprintf("%#v", t.value)
		}
		return string(b)
	case exprKind:
		return "{{ " + t.src + " }}"
	case joinKind:
		var sb strings.Builder
		for _, p := range t.parts {
			if p.prog == nil {
				sb.WriteString(p.text)
			} else {
				sb.WriteString("{{ " + p.src + " }}")
			}
		}
		return quote(sb.String())
	case objectKind:
		parts := make([]string, len(t.keys))
		for i, k := range t.keys {
			parts[i] = quote(k) + ":" + t.elems[i].Source()
		}
		return "{" + strings.Join(parts, ",") + "}"
	default: // listKind
		parts := make([]string, len(t.elems))
		for i, e := range t.elems {
			parts[i] = e.Source()
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
}

// NamesFixed reports whether the template's object names are fixed in the file: it
// writes them out, { Name = value }, or is a constant; not when a {{ }} gives the
// object. The names of headers so written are checked when the file loads.
func (t *Template) NamesFixed() bool { return t.kind == objectKind || t.kind == constKind }

// Const reports the template's value when it has no {{ }} anywhere.
func (t *Template) Const() (any, bool) {
	if t.kind == constKind {
		return t.value, true
	}
	return nil, false
}

// Render evaluates the template against env.
func (t *Template) Render(env *Env) (any, error) {
	switch t.kind {
	case constKind:
		return t.value, nil
	case exprKind:
		out, err := run(t.prog, env)
		if err == nil {
			out, err = plain(out)
		}
		if err != nil {
			return nil, fmt.Errorf("{{ %s }}: %w", t.src, err)
		}
		return out, nil
	case joinKind:
		return t.renderText(env)
	case objectKind:
		out := make(map[string]any, len(t.keys))
		for i, k := range t.keys {
			v, err := t.elems[i].Render(env)
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	default: // listKind
		out := make([]any, len(t.elems))
		for i, e := range t.elems {
			v, err := e.Render(env)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
}

// RenderString renders the template and formats the result as text, the way a joined
// template formats each part.
func (t *Template) RenderString(env *Env) (string, error) {
	if t.kind == joinKind {
		return t.renderText(env)
	}
	v, err := t.Render(env)
	if err != nil {
		return "", err
	}
	return Text(v), nil
}

func (t *Template) renderText(env *Env) (string, error) {
	return t.renderJoined(env, nil)
}

// renderJoined joins a joined template's parts. place, when not nil, gives what is
// written for each part's value, from what was written before it; its errors are
// returned as they are.
func (t *Template) renderJoined(env *Env, place func(before string, p *part, value any) (string, error)) (string, error) {
	var b strings.Builder
	for i := range t.parts {
		p := &t.parts[i]
		if p.prog == nil {
			b.WriteString(p.text)
			continue
		}
		v, err := run(p.prog, env)
		if err != nil {
			return "", fmt.Errorf("{{ %s }}: %w", p.src, err)
		}
		if place == nil {
			if err := writeText(&b, v); err != nil {
				return "", fmt.Errorf("{{ %s }}: %w", p.src, err)
			}
			continue
		}
		s, err := place(b.String(), p, v)
		if err != nil {
			return "", err
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// Text formats a value as it appears inside joined text: strings as they are, nil as
// "", numbers as JSON writes them (5, 19.99, 1e+21), bools as true and false, a time
// as RFC 3339, a duration as Go writes it (1h30m0s), objects and lists as JSON. A
// number JSON cannot hold, which a template refuses (see textOf), is written as Go
// writes it, +Inf or NaN, for messages; in an object or a list, as a string.
func Text(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	s, err := textOf(v)
	if err != nil {
		if s, err = textOf(numbersAsText(plainCopy(v))); err != nil {
			return typeName(v) // no value of an expression: a message still names it
		}
	}
	return s
}

// textOf is v as Text formats it, and the error of a number JSON cannot hold,
// wherever it is in v: a template fails rather than send what no JSON reader takes,
// as it does for such a number as a whole value.
func textOf(v any) (string, error) {
	var b strings.Builder
	err := writeText(&b, v)
	return b.String(), err
}

func writeText(b *strings.Builder, v any) error {
	switch v := v.(type) {
	case nil:
	case string:
		b.WriteString(v)
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case int:
		b.WriteString(strconv.Itoa(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case float64:
		if _, err := isPlain(v); err != nil {
			return err
		}
		var buf [32]byte
		data, _ := jsonenc.Append(buf[:0], v, false) // as a whole value is sent: 0.5, 1e+21
		b.Write(data)
	case time.Time:
		b.WriteString(v.Format(time.RFC3339Nano))
	default:
		// As a whole value is kept: a list or a map groupBy gave, a duration (as
		// text), checked for numbers JSON cannot hold.
		p, err := plain(v)
		if err != nil {
			return err
		}
		if s, ok := p.(string); ok {
			b.WriteString(s)
			return nil
		}
		data, err := httpjson.Marshal(p)
		if err != nil {
			return fmt.Errorf("gave %s, which cannot be written as text: %w", typeName(p), err)
		}
		b.Write(data)
	}
	return nil
}

// numbersAsText returns v, a value plainCopy gave, with each number JSON cannot hold
// written as text, +Inf or NaN.
func numbersAsText(v any) any {
	switch v := v.(type) {
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return strconv.FormatFloat(v, 'g', -1, 64)
		}
	case map[string]any:
		for k, e := range v {
			v[k] = numbersAsText(e)
		}
	case []any:
		for i, e := range v {
			v[i] = numbersAsText(e)
		}
	}
	return v
}

// programs are the template's compiled expressions.
func (t *Template) programs() []*vm.Program {
	var progs []*vm.Program
	var collect func(t *Template)
	collect = func(t *Template) {
		if t.prog != nil {
			progs = append(progs, t.prog)
		}
		for _, p := range t.parts {
			if p.prog != nil {
				progs = append(progs, p.prog)
			}
		}
		for _, e := range t.elems {
			collect(e)
		}
	}
	collect(t)
	return progs
}

// reads reports whether any expression of the template reads the name as a root,
// as each in {{ each.key }}.
func (t *Template) reads(name string) bool {
	found := false
	for _, p := range t.programs() {
		node := p.Node()
		ast.Walk(&node, visitor(func(n ast.Node) {
			if id, ok := n.(*ast.IdentifierNode); ok && id.Value == name {
				found = true
			}
		}))
	}
	return found
}

// stepsRead are the steps whose values the template's expressions read, as
// steps.NAME or steps["NAME"]; reads of a step's outcome, status or error alone, which
// a sensitive step shows, are left out. A step named by a value (steps[each.value])
// is not known.
func (t *Template) stepsRead() []string {
	var out []string
	for _, p := range t.programs() {
		node := p.Node()
		steps := map[*ast.MemberNode]string{} // steps.NAME, by node
		shown := map[*ast.MemberNode]bool{}   // those read only as steps.NAME.outcome
		ast.Walk(&node, visitor(func(n ast.Node) {
			m, ok := n.(*ast.MemberNode)
			if !ok {
				return
			}
			root, ok := m.Node.(*ast.IdentifierNode)
			name, named := m.Property.(*ast.StringNode)
			if ok && named && root.Value == "steps" {
				steps[m] = name.Value
				return
			}
			inner, ok := m.Node.(*ast.MemberNode)
			field, named := m.Property.(*ast.StringNode)
			if _, isStep := steps[inner]; ok && isStep && named && slices.Contains([]string{"outcome", "status", "error"}, field.Value) {
				shown[inner] = true
			}
		}))
		for m, name := range steps {
			if !shown[m] {
				out = append(out, name)
			}
		}
	}
	return out
}

// holds reports whether any text of the template, as written, holds one of values.
func (t *Template) holds(values map[string]bool) bool {
	in := func(s string) bool {
		for v := range values {
			if v != "" && strings.Contains(s, v) {
				return true
			}
		}
		return false
	}
	if s, ok := t.value.(string); ok && t.kind == constKind && in(s) {
		return true
	}
	if t.kind == constKind && t.value != nil {
		if _, ok := t.value.(string); !ok {
			if data, err := httpjson.Marshal(t.value); err == nil && in(string(data)) {
				return true
			}
		}
	}
	for _, p := range t.parts {
		if in(p.text) {
			return true
		}
	}
	for _, e := range t.elems {
		if e.holds(values) {
			return true
		}
	}
	return false
}

// compileTemplate compiles a value already evaluated at load time (strings, numbers,
// bools, nil, map[string]any, []any) into a Template.
func compileTemplate(v any, loc location) (*Template, hcl.Diagnostics) {
	switch v := v.(type) {
	case string:
		loc.value = v
		return compileString(v, loc)
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		t := &Template{kind: objectKind, keys: keys, elems: make([]*Template, len(keys))}
		var diags hcl.Diagnostics
		for i, k := range keys {
			var d hcl.Diagnostics
			t.elems[i], d = compileTemplate(v[k], loc)
			diags = append(diags, d...)
		}
		return t.foldConst(), diags
	case []any:
		t := &Template{kind: listKind, elems: make([]*Template, len(v))}
		var diags hcl.Diagnostics
		for i, e := range v {
			var d hcl.Diagnostics
			t.elems[i], d = compileTemplate(e, loc)
			diags = append(diags, d...)
		}
		return t.foldConst(), diags
	default:
		return &Template{kind: constKind, value: v}, nil
	}
}

// foldConst turns an object or list whose elements are all constant into one constant.
func (t *Template) foldConst() *Template {
	for _, e := range t.elems {
		if e == nil || e.kind != constKind {
			return t
		}
	}
	if t.kind == listKind {
		out := make([]any, len(t.elems))
		for i, e := range t.elems {
			out[i] = e.value
		}
		return &Template{kind: constKind, value: out}
	}
	out := make(map[string]any, len(t.keys))
	for i, k := range t.keys {
		out[k] = t.elems[i].value
	}
	return &Template{kind: constKind, value: out}
}

func compileString(s string, loc location) (*Template, hcl.Diagnostics) {
	if !strings.Contains(s, "{{") {
		return &Template{kind: constKind, value: s}, nil
	}
	var parts []part
	var diags hcl.Diagnostics
	rest, offset := s, 0
	for {
		open := strings.Index(rest, "{{")
		if open < 0 {
			if rest != "" {
				parts = append(parts, part{text: rest})
			}
			break
		}
		if open > 0 {
			parts = append(parts, part{text: rest[:open]})
		}
		body := rest[open+2:]
		end := exprEnd(body)
		if end < 0 {
			// A }} the brackets before it hid: the expression's own mistake (a bracket
			// not closed, or one too many) is the one to report.
			if at := strings.Index(body, "}}"); at >= 0 && strings.TrimSpace(body[:at]) != "" {
				if _, err := loc.compiler().compile(body[:at], false); err != nil {
					return nil, append(diags, exprDiag(err, body[:at], offset+open+2, loc))
				}
			}
			d := loc.diag(hcl.DiagError, "Unclosed {{",
				`This {{ has no matching }}. To write a literal "{{", use {{ "{{" }}.`)
			d.Subject = loc.at(offset+open, len(s)).Ptr()
			return nil, append(diags, d)
		}
		src := body[:end]
		srcAt := offset + open + 2
		before := len(diags)
		if strings.TrimSpace(src) == "" {
			d := loc.diag(hcl.DiagError, "Empty {{ }}", "Write an expression between the braces, such as {{ event.body.id }}.")
			d.Subject = loc.at(offset+open, srcAt+end+2).Ptr()
			diags = append(diags, d)
		} else if prog, err := loc.compiler().compile(src, false); err != nil {
			diags = append(diags, exprDiag(err, src, srcAt, loc))
		} else if text, ok := prog.Node().(*ast.StringNode); ok {
			parts = append(parts, part{text: text.Value}) // {{ "{{" }}: text known now
		} else {
			diags = append(diags, checkRefs(prog, src, srcAt, loc)...)
			parts = append(parts, part{prog: prog, src: strings.TrimSpace(src), ref: reference(prog.Node())})
		}
		if open > 0 && rest[open-1] == '$' {
			githubText(diags[before:], src, loc.secretIn(srcAt, srcAt+len(src)))
		}
		consumed := open + 2 + end + 2
		rest, offset = rest[consumed:], offset+consumed
	}
	if diags.HasErrors() {
		return nil, diags
	}
	parts = mergeText(parts)
	switch { // diags holds warnings only
	case len(parts) == 0:
		return &Template{kind: constKind, value: ""}, diags
	case len(parts) == 1 && parts[0].prog == nil:
		return &Template{kind: constKind, value: parts[0].text}, diags
	case len(parts) == 1:
		return &Template{kind: exprKind, prog: parts[0].prog, src: parts[0].src, ref: parts[0].ref}, diags
	}
	return &Template{kind: joinKind, parts: parts}, diags
}

// githubText adds to the errors of diags, those of a {{ src }} written after a $,
// how to write GitHub Actions' ${{ … }} as text: HCL's $${ escape makes the $ text,
// but the {{ after it is still a template's. An src that holds a secret is not quoted.
func githubText(diags hcl.Diagnostics, src string, secret bool) {
	example := `"$${{ '{{' }}` + src + `}}"`
	if secret {
		example = `"$${{ '{{' }} … }}"`
	}
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			d.Detail += ` This {{ follows a $: GitHub Actions' ${{ … }}, written $${{ … }} in a hookflow file, ` +
				`is still a template there, as every {{ is. To send it as text, write its {{ as {{ '{{' }}: ` + example + `.`
		}
	}
}

// mergeText joins neighbouring text parts.
func mergeText(parts []part) []part {
	out := parts[:0]
	for _, p := range parts {
		if n := len(out); n > 0 && p.prog == nil && out[n-1].prog == nil {
			out[n-1].text += p.text
			continue
		}
		out = append(out, p)
	}
	return out
}

// exprEnd finds the "}}" that closes an expression, skipping braces and string
// literals inside it, so {{ {"a": {"b": 1}} }} and {{ "}}" }} both work. It returns
// the index of the closing "}}" in s, or -1.
func exprEnd(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\'', '`':
			j := i + 1
			for ; j < len(s) && s[j] != c; j++ {
				if s[j] == '\\' && c != '`' {
					j++
				}
			}
			i = j
		case '(', '[', '{':
			depth++
		case ')', ']':
			depth--
		case '}':
			if depth == 0 && i+1 < len(s) && s[i+1] == '}' {
				return i
			}
			depth--
		}
	}
	return -1
}
