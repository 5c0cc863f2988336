package workflows

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// A credential written out in a file (token = "abc…" rather than secret("TOKEN")) is
// stored as the file is: in its repository, and in Redis, where hookflow keeps the
// files of every version it runs so that a process that never loaded that version can
// run it (the engine's versions; language.md, Versions). The files cannot be stored
// without it: such a process reads the value nowhere else. So the load warns, at the
// value, and names the secret() to read it with.

// writtenOut reports whether expr's value is written out in the files: it calls no
// function (secret(), env(), file()) and reads no var but those whose own value is
// written out. An expression not of HCL's native syntax is not judged.
func writtenOut(expr hcl.Expression, literalVars map[string]bool) bool {
	e, ok := expr.(hclsyntax.Expression)
	if !ok {
		return false
	}
	calls := false
	_ = hclsyntax.VisitAll(e, func(n hclsyntax.Node) hcl.Diagnostics {
		if _, ok := n.(*hclsyntax.FunctionCallExpr); ok {
			calls = true
		}
		return nil
	})
	if calls {
		return false
	}
	for _, tr := range expr.Variables() {
		if tr.RootName() != "vars" || len(tr) < 2 {
			return false
		}
		attr, ok := tr[1].(hcl.TraverseAttr)
		if !ok || !literalVars[attr.Name] {
			return false
		}
	}
	return true
}

// fieldExpr returns the expression of field key (matched without regard to case) of
// an object written as { key = value }; nil when expr is not one or has no such field.
func fieldExpr(expr hcl.Expression, key string) hcl.Expression {
	obj, ok := expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return nil
	}
	for _, item := range obj.Items {
		if strings.EqualFold(itemKey(item), key) {
			return item.ValueExpr
		}
	}
	return nil
}

// itemKey is the name of an object's field as written: a bare word or a quoted text;
// "" for a key computed at run time.
func itemKey(item hclsyntax.ObjectConsItem) string {
	if name := hcl.ExprAsKeyword(item.KeyExpr); name != "" {
		return name
	}
	if v, d := item.KeyExpr.Value(nil); !d.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
		return v.AsString()
	}
	return ""
}

// CredentialInFile returns a warning when the attribute's value, or with key its
// object's field key, is a credential written out in the file: text fixed at load
// time, without {{ }}, read from no secret() or env(). what names the value
// ("client_secret", "basic_auth's password"); fix is the attribute written with
// secret(), as the warning suggests it. nil when the value is read from elsewhere.
func (a *BlockAttr) CredentialInFile(key, what, fix string) *hcl.Diagnostic {
	if a == nil || a.expr == nil || a.Template == nil {
		return nil
	}
	v, ok := a.Template.Const()
	if !ok {
		return nil
	}
	expr := a.expr
	if key != "" {
		m, _ := v.(map[string]any)
		v = nil
		for k, x := range m {
			if strings.EqualFold(k, key) {
				v = x
			}
		}
		if expr = fieldExpr(a.expr, key); expr == nil {
			return nil
		}
	}
	if s, _ := v.(string); s == "" || !writtenOut(expr, a.literalVars) {
		return nil
	}
	return credentialWarning(expr, what, fix)
}

// CredentialHeadersInFile returns a warning for each header of the attribute, an
// object written out ({ Name = "value" }), named as a credential's (Authorization,
// X-Api-Key, Cookie: IsCredentialName, but for names that only qualify one, such as
// X-Api-Key-Name) whose value is written out in the file. A value that is a word of
// the kind settings take (X-Session = "active"), but under a password's name, is no
// credential, and not warned of. fix gives, for a header's name, the attribute
// written with secret(), as the warning suggests it.
func (a *BlockAttr) CredentialHeadersInFile(fix func(name string) string) hcl.Diagnostics {
	if a == nil || a.Template == nil {
		return nil
	}
	obj, ok := a.expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return nil
	}
	var diags hcl.Diagnostics
	for _, item := range obj.Items {
		name := itemKey(item)
		if name == "" || !holdsCredential(name) || !writtenOut(item.ValueExpr, a.literalVars) {
			continue
		}
		v, ok := a.Template.fieldValue(name, a.vars)
		if s, _ := v.(string); !ok || s == "" || wordLike(s) && !passwordName(name) {
			continue
		}
		diags = append(diags, credentialWarning(item.ValueExpr, "the "+http.CanonicalHeaderKey(name)+" header", fix(http.CanonicalHeaderKey(name))))
	}
	return diags
}

// HeaderFix is header name of the headers of block (a step, an api) written with
// secret(), as a warning of it written out in the file suggests it: an Authorization
// header keeps its scheme.
func HeaderFix(name, block string) string {
	if strings.EqualFold(name, "Authorization") {
		return fmt.Sprintf(`headers = { Authorization = "Bearer ${secret(%q)}" }`, EnvName(block, "token"))
	}
	return fmt.Sprintf(`headers = { %s = secret(%q) }`, name, EnvName(block, name))
}

// fieldValue is the value of field key of t, an object, when it is known at load
// time (loadValue).
func (t *Template) fieldValue(key string, vars map[string]any) (any, bool) {
	if v, ok := t.loadValue(vars); ok {
		m, _ := v.(map[string]any)
		x, ok := m[key]
		return x, ok
	}
	if t.kind == objectKind {
		for i, k := range t.keys {
			if k == key {
				return t.elems[i].loadValue(vars)
			}
		}
	}
	return nil, false
}

// CredentialsInFile is CredentialInFile for an attribute that takes a text or a list
// of them (a verify block's secrets, password or tokens): a warning for each one
// written out in the file.
func (a *BlockAttr) CredentialsInFile(what, fix string) hcl.Diagnostics {
	if a == nil || a.expr == nil || a.Template == nil {
		return nil
	}
	v, ok := a.Template.Const()
	if !ok {
		return nil
	}
	list, _ := v.([]any)
	exprs := []hcl.Expression{a.expr}
	if tuple, ok := a.expr.(*hclsyntax.TupleConsExpr); ok {
		exprs = exprs[:0]
		for _, e := range tuple.Exprs {
			exprs = append(exprs, e)
		}
	} else {
		list = []any{v}
	}
	var diags hcl.Diagnostics
	for i, e := range exprs {
		if i >= len(list) {
			break
		}
		if s, _ := list[i].(string); s != "" && writtenOut(e, a.literalVars) {
			diags = append(diags, credentialWarning(e, what, fix))
		}
	}
	return diags
}

// credentialWarning is the warning for a credential written out in the file at expr.
func credentialWarning(expr hcl.Expression, what, fix string) *hcl.Diagnostic {
	if tr, ok := expr.(*hclsyntax.ScopeTraversalExpr); ok && len(tr.Traversal) == 2 && tr.Traversal.RootName() == "vars" {
		if name, ok := tr.Traversal[1].(hcl.TraverseAttr); ok {
			what = fmt.Sprintf("%s (vars.%s)", what, name.Name)
			fix = fmt.Sprintf("%s = secret(%q) in the vars block", name.Name, EnvName(name.Name))
		}
	}
	var extra any = MaskValue{}
	if tr, ok := expr.(*hclsyntax.ScopeTraversalExpr); ok && len(tr.Traversal) == 2 {
		extra = nil // the snippet shows vars.name, not the value
	}
	return &hcl.Diagnostic{Severity: hcl.DiagWarning,
		Summary: "Credential written in the file",
		Detail: fmt.Sprintf("The value of %s is stored as the file is: in its repository, and in Redis, where hookflow "+
			"keeps the workflow files so that every process sharing it can run this version. Read it from the "+
			"environment instead: %s.", what, fix),
		Subject: expr.Range().Ptr(), Extra: extra}
}

// MaskValue, as a diagnostic's Extra, says that its Subject is a value not to print
// again (a credential written in the file): WriteDiagnostics shows [redacted] in its
// place in the source line, with the carets under that.
type MaskValue struct{}

// EnvName makes an environment variable name to suggest of parts: upper case, with _
// for anything but letters and digits (API_NAME_CLIENT_SECRET).
func EnvName(parts ...string) string {
	s := strings.ToUpper(strings.Join(parts, "_"))
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
}
