package workflows

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// The mock block of a test: the answers an http step gets.

func decodeMock(b *hcl.Block, ctx *hcl.EvalContext) (*Mock, hcl.Diagnostics) {
	m := &Mock{Step: b.Labels[0], DefRange: b.DefRange, StepRange: b.LabelRanges[0]}
	content, diags := b.Body.Content(mockSchema)
	aliasUnsupported(diags, b.Body, mockAliases)
	a := content.Attributes["responses"]
	if a == nil {
		r, d := mockResponse(content.Attributes, ctx, b.DefRange)
		m.Responses = []MockResponse{r}
		return m, append(diags, d...)
	}
	for name, other := range content.Attributes {
		if name != "responses" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Conflicting mock attributes",
				Detail:  fmt.Sprintf("%s cannot be given beside responses: give it in each of the responses.", name),
				Subject: other.NameRange.Ptr()})
		}
	}
	x, d := a.Expr.Value(ctx)
	diags = append(diags, d...)
	if d.HasErrors() {
		return m, diags
	}
	if !x.Type().IsTupleType() && !x.Type().IsListType() || x.LengthInt() == 0 {
		return m, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid responses",
			Detail:  "responses is a list of answers given in turn, such as [{ status = 503 }, { status = 200, json = {} }].",
			Subject: a.Expr.Range().Ptr()})
	}
	for it := x.ElementIterator(); it.Next(); {
		_, el := it.Element()
		if !el.Type().IsObjectType() && !el.Type().IsMapType() {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid response",
				Detail: "Each of the responses is an object: { status = 200, json = {…} }.", Subject: a.Expr.Range().Ptr()})
			continue
		}
		attrs := hcl.Attributes{}
		for k, v := range el.AsValueMap() {
			attrs[k] = &hcl.Attribute{Name: k, Expr: &valueExpr{v: v, rng: a.Expr.Range()}, Range: a.Expr.Range(), NameRange: a.Expr.Range()}
			if !mockKey(k) {
				detail := fmt.Sprintf("A response has status, headers, json, body or error, not %q.", k)
				if s := mockAliases[k]; s != "" {
					detail += fmt.Sprintf(" Did you mean %q?", s)
				} else if s := suggest(k, []string{"status", "headers", "json", "body", "error"}); s != "" {
					detail += fmt.Sprintf(" Did you mean %q?", s)
				}
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported response attribute",
					Detail: detail, Subject: a.Expr.Range().Ptr()})
			}
		}
		r, d := mockResponse(attrs, ctx, a.Expr.Range())
		diags = append(diags, d...)
		m.Responses = append(m.Responses, r)
	}
	return m, diags
}

func mockKey(k string) bool {
	switch k {
	case "status", "headers", "json", "body", "error":
		return true
	}
	return false
}

// valueExpr is an expression of a value already known: one of a mock's responses.
type valueExpr struct {
	v   cty.Value
	rng hcl.Range
}

func (e *valueExpr) Value(*hcl.EvalContext) (cty.Value, hcl.Diagnostics) { return e.v, nil }
func (e *valueExpr) Variables() []hcl.Traversal                          { return nil }
func (e *valueExpr) Range() hcl.Range                                    { return e.rng }
func (e *valueExpr) StartRange() hcl.Range                               { return e.rng }

func mockResponse(attrs hcl.Attributes, ctx *hcl.EvalContext, def hcl.Range) (MockResponse, hcl.Diagnostics) {
	r := MockResponse{Status: 200}
	var diags hcl.Diagnostics
	if a := attrs["status"]; a != nil {
		v, d := testValue(a, ctx)
		diags = append(diags, d...)
		n, ok := v.(int)
		if !d.HasErrors() && (!ok || n < 100 || n > 599) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid status",
				Detail: "status is an HTTP status, a whole number from 100 to 599.", Subject: a.Expr.Range().Ptr()})
		}
		r.Status = n
	}
	if a := attrs["headers"]; a != nil {
		var d hcl.Diagnostics
		r.Headers, d = testHeaders(a, ctx)
		diags = append(diags, d...)
	}
	if attrs["json"] != nil && attrs["body"] != nil {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Conflicting mock attributes",
			Detail: "Give the answer's body as json or as body, not both.", Subject: attrs["body"].Expr.Range().Ptr()})
	}
	if a := attrs["json"]; a != nil {
		v, d := testValue(a, ctx)
		diags = append(diags, d...)
		r.Body, _ = json.Marshal(v)
		r.ContentType = "application/json"
	}
	if a := attrs["body"]; a != nil {
		var s string
		diags = append(diags, testString(a, ctx, &s)...)
		r.Body = []byte(s)
		r.ContentType = "text/plain; charset=utf-8"
		if json.Valid(r.Body) {
			r.ContentType = "application/json"
		}
	}
	if a := attrs["error"]; a != nil {
		diags = append(diags, testString(a, ctx, &r.Error)...)
		if r.Error != "" && !slices.Contains(mockErrors, r.Error) {
			detail := fmt.Sprintf("error is %q; use %s.", r.Error, quoteList(mockErrors))
			if s := suggest(r.Error, mockErrors); s != "" {
				detail = fmt.Sprintf("error is %q. Did you mean %q?", r.Error, s)
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown mock error", Detail: detail, Subject: a.Expr.Range().Ptr()})
		}
	}
	return r, diags
}
