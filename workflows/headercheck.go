package workflows

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// A header written in a file is checked where it is written: an http step's and a
// poll's headers, a respond step's, an api block's and its auth header, and the
// headers of a test's events, mocks, resumes and expects. Its name is known when the
// file loads, and is checked then, at its key; so is a value fixed then, at the value:
// a constant, what a template reading only vars gives, and the text a template writes
// around its {{ }} (X = "a\n{{ event.body.id }}" holds a line break whatever the event). A value only a run knows is checked as it renders,
// by a dry run as by a run, with the same two functions.

// HeaderNameError says why name cannot be a header's name, which is a token (RFC
// 9110): letters, digits and marks such as - and _, with no space or separator. nil
// when it can.
func HeaderNameError(name string) error {
	if name == "" {
		return errors.New("a header's name cannot be empty")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return fmt.Errorf("%q is not a valid header name: a header name is letters, digits and marks such as - and _ (X-Api-Key), "+
				"with no space, colon, quote, slash or bracket", name)
		}
	}
	return nil
}

// BasicAuthUsernameError says why basic auth cannot carry username, nil when it can:
// RFC 7617 forbids a ":" in it, as the server reads the user up to the first one and
// the rest as the start of the password ("a:b" with password "p" is user "a" with
// password "b:p"). It never quotes the username, which may be a secret.
func BasicAuthUsernameError(username string) error {
	if strings.Contains(username, ":") {
		return errors.New(`the username holds a ":", which basic auth cannot carry (RFC 7617): the server would read ` +
			`the username up to the ":" and the rest as the start of the password`)
	}
	return nil
}

// HeaderValueError says why v cannot be a header's value, as "the value …" goes on:
// a line break would end the header and start another, and no request or answer
// carries any other control character but a tab (Go's HTTP client refuses to send
// one). nil when it can.
func HeaderValueError(v string) error {
	if strings.ContainsAny(v, "\r\n") {
		return errLineBreak
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return fmt.Errorf("holds the control character %U", rune(c))
		}
	}
	return nil
}

var errLineBreak = errors.New("holds a line break")

// CheckHeaders checks the headers an attribute writes, { Name = "value" } (a list
// gives a name several values): every name, and every value fixed when the file
// loads. An attribute that is not an object is left to its own check. The errors are
// Mistakes: a stored version that an older build accepted warns of them, and its
// step fails when a run reaches it, as it did there.
func (b *Block) CheckHeaders(name string) hcl.Diagnostics {
	return b.checkHeaders(name, false)
}

// CheckRequestHeaders is CheckHeaders for the headers of a request (an http step's,
// an api's), which cannot name one the HTTP client sets itself, nor a Host that no
// request can send (requestHeaderDiags).
func (b *Block) CheckRequestHeaders(name string) hcl.Diagnostics {
	return b.checkHeaders(name, true)
}

func (b *Block) checkHeaders(name string, request bool) hcl.Diagnostics {
	a := b.attrs[name]
	if a == nil || a.Template == nil {
		return nil
	}
	fields := map[string][]string{}
	whole := map[string]bool{} // the names whose values are known whole, not only the text around a {{ }}
	switch t := a.Template; {
	case t.kind == objectKind:
		for i, k := range t.keys {
			e := t.elems[i]
			fields[k] = e.fixedText(a.vars)
			whole[k] = e.kind == constKind || a.vars != nil && e.readsOnlyVars()
		}
	default: // a constant, or one {{ }}, whose names too are known when it renders
		v, ok := t.Const()
		if !ok && a.vars != nil && t.readsOnlyVars() {
			var err error
			v, err = t.Render(&Env{Vars: a.vars})
			ok = err == nil
		}
		m, isObject := v.(map[string]any)
		if !ok || !isObject {
			return nil
		}
		for k, v := range m {
			fields[k], whole[k] = headerValues(v), true
		}
	}
	var more []found
	if request {
		more = requestHeaderDiags(fields, whole, a.expr, a.ValueRange)
	}
	return b.Mistakes(headerDiags(fields, a.expr, a.ValueRange, more...))
}

// headerValues are the values of a header fixed when the file loads: a list's
// elements, or the one value.
func headerValues(v any) []string {
	if list, ok := v.([]any); ok {
		out := make([]string, len(list))
		for i, e := range list {
			out[i] = Text(e)
		}
		return out
	}
	return []string{Text(v)}
}

// fixedText is what a header's value template is known to hold when the file loads:
// a constant's values, what a template that reads only vars gives, or else the text
// written around a string's {{ }}; nothing for a value that is one {{ }} of more.
func (t *Template) fixedText(vars map[string]any) []string {
	if t.kind != constKind && vars != nil && t.readsOnlyVars() {
		if v, err := t.Render(&Env{Vars: vars}); err == nil {
			return headerValues(v)
		}
	}
	switch t.kind {
	case constKind:
		return headerValues(t.value)
	case joinKind:
		var sb strings.Builder
		for _, p := range t.parts {
			if p.prog == nil {
				sb.WriteString(p.text)
			}
		}
		return []string{sb.String()}
	case listKind:
		var out []string
		for _, e := range t.elems {
			out = append(out, e.fixedText(vars)...)
		}
		return out
	}
	return nil
}

// readsOnlyVars reports whether the template's expressions read nothing a run gives:
// no name but vars, and no function of hookflow's (resume_url), so that it renders
// the same at load as in every run.
func (t *Template) readsOnlyVars() bool {
	only := true
	for _, p := range t.programs() {
		node := p.Node()
		ast.Walk(&node, visitor(func(n ast.Node) {
			switch n := n.(type) {
			case *ast.IdentifierNode:
				only = only && n.Value == "vars"
			case *ast.CallNode:
				only = false
			}
		}))
	}
	return only
}

// checkHeaderStrings checks headers read as names and values, such as a test's.
func checkHeaderStrings(h map[string]string, expr hcl.Expression) hcl.Diagnostics {
	fields := make(map[string][]string, len(h))
	for k, v := range h {
		fields[k] = []string{v}
	}
	return headerDiags(fields, expr, expr.Range())
}

// headerDiags reports the names and values of fields that no header can have: a
// name at its key in expr, a value at the value, when expr writes the object out,
// { Name = "value" }; at whole otherwise (headers = vars.headers). more are other
// findings, sorted in with them. The diagnostics never quote a value: it may be a
// credential.
func headerDiags(fields map[string][]string, expr hcl.Expression, whole hcl.Range, more ...found) hcl.Diagnostics {
	all := more
	for name, values := range fields {
		keyAt, valueAt := whole, whole
		if item, ok := objectItem(expr, name); ok {
			keyAt, valueAt = item.KeyExpr.Range(), item.ValueExpr.Range()
		}
		if err := HeaderNameError(name); err != nil {
			detail := sentence(err.Error())
			if strings.Contains(name, "{{") {
				detail = "A header's name is fixed when the file loads: the {{ }} of a name is not rendered. Write the name as it " +
					`is sent, or give all the headers as one {{ }}: headers = "{{ steps.a.body.headers }}".`
			}
			all = append(all, found{keyAt, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid header name",
				Detail: detail, Subject: keyAt.Ptr()}})
		}
		for _, v := range values {
			if err := HeaderValueError(v); err != nil {
				detail := fmt.Sprintf("The value of header %s %s, which no request or answer can carry.", name, err)
				if err == errLineBreak {
					detail += " A line break would end the header and start another: join the lines with a space, or send the text in the body."
				}
				all = append(all, found{valueAt, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid header value",
					Detail: detail, Subject: valueAt.Ptr()}})
				break
			}
		}
	}
	all = append(all, sameHeaders(fields, expr, whole)...)
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].at.Start.Byte != all[j].at.Start.Byte {
			return all[i].at.Start.Byte < all[j].at.Start.Byte
		}
		return all[i].diag.Detail < all[j].diag.Detail
	})
	diags := make(hcl.Diagnostics, len(all))
	for i, f := range all {
		diags[i] = f.diag
	}
	return diags
}

// found is a diagnostic and where it sorts.
type found struct {
	at   hcl.Range
	diag *hcl.Diagnostic
}

// sameHeaders reports the names of fields that differ only in case: HTTP names
// ignore it, so they name one header and a request would carry only one of their
// values. Each is reported at the key of the name written later in expr, or at whole.
func sameHeaders(fields map[string][]string, expr hcl.Expression, whole hcl.Range) []found {
	byFold := map[string][]string{}
	for name := range fields {
		k := strings.ToLower(name)
		byFold[k] = append(byFold[k], name)
	}
	var all []found
	for _, names := range byFold {
		if len(names) < 2 {
			continue
		}
		at := make(map[string]hcl.Range, len(names))
		for _, name := range names {
			at[name] = whole
			if item, ok := objectItem(expr, name); ok {
				at[name] = item.KeyExpr.Range()
			}
		}
		sort.Slice(names, func(i, j int) bool {
			if at[names[i]].Start.Byte != at[names[j]].Start.Byte {
				return at[names[i]].Start.Byte < at[names[j]].Start.Byte
			}
			return names[i] < names[j]
		})
		for _, name := range names[1:] {
			r := at[name]
			all = append(all, found{r, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate header",
				Detail: fmt.Sprintf("%s and %s name one header: HTTP header names ignore case, and a request would carry only one of them. "+
					"Write it once; a list gives a header several values: %s = [\"a\", \"b\"].", names[0], name, names[0]),
				Subject: r.Ptr()}})
		}
	}
	return all
}

// objectItem is the item of an object written out, { key = value }, whose key is
// name as written; false when expr is not one or has none.
func objectItem(expr hcl.Expression, name string) (hclsyntax.ObjectConsItem, bool) {
	obj, ok := expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return hclsyntax.ObjectConsItem{}, false
	}
	for _, item := range obj.Items {
		if itemKey(item) == name {
			return item, true
		}
	}
	return hclsyntax.ObjectConsItem{}, false
}
