package workflows

import (
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// A diagnostic quotes the source line it points at, and one that keeps a file from
// loading may point at a credential written out in it (client_secret = "…" + 1), or at
// another part of its line. So every snippet masks the values of credentials, found
// from the files' syntax alone: the load may not have got far enough to warn of them.

// written is what the files' credentials are: the ranges of their values, by file
// name, and their texts, hidden in a diagnostic's summary and detail too.
type written struct {
	ranges map[string][]hcl.Range
	texts  *strings.Replacer
}

// writtenCredentials finds, in files, what a credential is set to where it is written
// out: each text and number of the expression of an attribute named as a credential
// (client_secret, token, password…; not a token_url), of an auth block's credential
// attributes (a header's value), of a field named as one in an object (headers =
// { Authorization = "…" }, basic_auth = { password = "…" }), at any depth, and of a var
// such an expression reads. Whatever the expression: a text alone, a list of them (a
// verify block's secrets = ["…"]), a heredoc, or one that fails to evaluate ("…" + 1).
// The arguments of secret(), env() and file() are names, not values, and stay shown,
// as does a text holding {{ }}, evaluated at run time.
func writtenCredentials(files map[string]*hcl.File) written {
	w := written{ranges: map[string][]hcl.Range{}}
	var texts []string
	add := func(e hclsyntax.Expression) {
		for _, lit := range valueLiterals(e) {
			w.ranges[lit.rng.Filename] = append(w.ranges[lit.rng.Filename], lit.rng)
			if len(lit.text) >= MinSecret {
				texts = append(texts, lit.text)
			}
		}
	}
	readVars := map[string]bool{} // the vars credentials read, as vars.NAME
	var walk func(b *hclsyntax.Body, auth bool)
	walk = func(b *hclsyntax.Body, auth bool) {
		for name, a := range b.Attributes {
			_, object := a.Expr.(*hclsyntax.ObjectConsExpr) // basic_auth = { username = …, password = … }: its fields say
			if !object && (slices.Contains(credentialAttrs, name) && auth || IsCredentialName(name) && !strings.HasSuffix(name, "url") &&
				!(auth && name == "client_auth")) { // client_auth says how the credentials go: "basic" or "post"
				add(a.Expr)
				notedVars(a.Expr, readVars)
			}
			for _, field := range credentialFields(a.Expr) {
				add(field)
				notedVars(field, readVars)
			}
		}
		for _, blk := range b.Blocks {
			walk(blk.Body, blk.Type == "auth")
		}
	}
	var bodies []*hclsyntax.Body
	for _, f := range files {
		if body, ok := f.Body.(*hclsyntax.Body); ok {
			bodies = append(bodies, body)
			walk(body, false)
		}
	}
	// A var read by a credential is one (a var cannot read another).
	for _, body := range bodies {
		for _, blk := range body.Blocks {
			if blk.Type != "vars" {
				continue
			}
			for name, a := range blk.Body.Attributes {
				if readVars[name] {
					add(a.Expr)
				}
			}
		}
	}
	if len(texts) > 0 {
		w.texts = redactorOf(texts).r
	}
	return w
}

// hide returns d, or a copy of it with the credentials' texts in its summary and
// detail replaced by [redacted].
func (w written) hide(d *hcl.Diagnostic) *hcl.Diagnostic {
	if w.texts == nil {
		return d
	}
	summary, detail := w.texts.Replace(d.Summary), w.texts.Replace(d.Detail)
	if summary == d.Summary && detail == d.Detail {
		return d
	}
	c := *d
	c.Summary, c.Detail = summary, detail
	return &c
}

// HideWrittenCredentials replaces, in the summary and detail of diags, the texts of
// the credentials written out in files (as a snippet masks them) by [redacted].
func HideWrittenCredentials(files map[string]*hcl.File, diags hcl.Diagnostics) {
	w := writtenCredentials(files)
	for i, d := range diags {
		diags[i] = w.hide(d)
	}
}

// credentialFields lists the values of the fields named as credentials in the objects
// written in e, at any depth.
func credentialFields(e hclsyntax.Expression) []hclsyntax.Expression {
	var out []hclsyntax.Expression
	_ = hclsyntax.VisitAll(e, func(n hclsyntax.Node) hcl.Diagnostics {
		if obj, ok := n.(*hclsyntax.ObjectConsExpr); ok {
			for _, item := range obj.Items {
				if IsCredentialName(itemKey(item)) {
					out = append(out, item.ValueExpr)
				}
			}
		}
		return nil
	})
	return out
}

// notedVars adds to vars the names of the vars e reads.
func notedVars(e hclsyntax.Expression, vars map[string]bool) {
	for _, tr := range e.Variables() {
		if tr.RootName() != "vars" || len(tr) < 2 {
			continue
		}
		if attr, ok := tr[1].(hcl.TraverseAttr); ok {
			vars[attr.Name] = true
		}
	}
}

type writtenValue struct {
	rng  hcl.Range
	text string // "" for a number
}

// valueLiterals lists the texts (a quoted one with its quotes) written in e, and e
// itself or its list's items when they are numbers, but for those in the arguments of
// secret(), env() and file(), texts holding {{ }} and a scheme before an
// interpolation ("Bearer ${…}").
func valueLiterals(e hclsyntax.Expression) []writtenValue {
	var names []hcl.Range // the calls whose arguments name a value
	// A number is the value when it is written alone (pin = 1234), or in a list, not
	// when it is an operand ("…" + 1).
	whole := map[hclsyntax.Node]bool{e: true}
	if tuple, ok := e.(*hclsyntax.TupleConsExpr); ok {
		for _, x := range tuple.Exprs {
			whole[x] = true
		}
	}
	var out []writtenValue
	_ = hclsyntax.VisitAll(e, func(n hclsyntax.Node) hcl.Diagnostics {
		switch n := n.(type) {
		case *hclsyntax.FunctionCallExpr:
			if loadTime[n.Name] {
				names = append(names, n.Range())
			}
		case *hclsyntax.TemplateExpr:
			if s := literalString(n); s != "" && !strings.Contains(s, "{{") {
				out = append(out, writtenValue{n.Range(), s})
			}
		case *hclsyntax.LiteralValueExpr:
			switch {
			case n.Val.IsNull() || !n.Val.IsKnown():
			case n.Val.Type() == cty.String:
				if s := n.Val.AsString(); strings.TrimSpace(s) != "" && !strings.Contains(s, "{{") && !scheme.MatchString(s) {
					out = append(out, writtenValue{n.Range(), s})
				}
			case n.Val.Type() == cty.Number && whole[n]:
				out = append(out, writtenValue{rng: n.Range()})
			}
		}
		return nil
	})
	return slices.DeleteFunc(out, func(lit writtenValue) bool {
		return slices.ContainsFunc(names, func(call hcl.Range) bool { return contains(call, lit.rng) })
	})
}

// scheme is the text before a value in a template ("Bearer ${secret("TOKEN")}"),
// which is no credential.
var scheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]* $`)

func contains(outer, inner hcl.Range) bool {
	return outer.Filename == inner.Filename && outer.Start.Byte <= inner.Start.Byte && inner.End.Byte <= outer.End.Byte
}

// literalString is the text of e when it is a quoted string of literal parts only.
func literalString(e hclsyntax.Expression) string {
	t, ok := e.(*hclsyntax.TemplateExpr)
	if !ok || !t.IsStringLiteral() {
		return ""
	}
	v, diags := t.Value(nil)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() {
		return ""
	}
	return v.AsString()
}
