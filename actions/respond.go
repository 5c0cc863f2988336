package actions

import (
	"context"
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/workflows"
)

// respondKind: step "respond" "NAME" { status = 200, json = {…} } sets what a webhook
// with response = "sync" answers.
func respondKind() workflows.StepKind {
	return workflows.StepKind{
		Name:  "respond",
		Attrs: []workflows.Attr{{Name: "status"}, {Name: "headers"}, {Name: "json"}, {Name: "body"}},
		New: func(b *workflows.Block) (workflows.Action, hcl.Diagnostics) {
			r := &Respond{status: b.Template("status"), headers: b.Template("headers"), json: b.Template("json"), body: b.Template("body")}
			diags := b.OnlyOne("json", "body")
			diags = append(diags, b.CheckConst("status", "Invalid status", func(v any) error { _, err := responseStatus(v); return err })...)
			diags = append(diags, b.CheckConst("headers", "headers must be an object", workflows.Object)...)
			return r, diags
		},
	}
}

// Respond is a compiled respond step.
type Respond struct {
	status, headers, json, body *workflows.Template
}

// Do renders the response: {status, headers, body}; json gives a JSON body.
func (r *Respond) Do(ctx context.Context, c *workflows.Call) (any, error) {
	out, err := r.do(ctx, c)
	return out, workflows.Permanent(err) // its values render the same way on another attempt
}

func (r *Respond) do(_ context.Context, c *workflows.Call) (any, error) {
	status := 200
	if r.status != nil {
		v, err := r.status.Render(c.Env)
		if err != nil {
			return nil, fmt.Errorf("status: %w", err)
		}
		if status, err = responseStatus(v); err != nil {
			return nil, fmt.Errorf("status: %w", err)
		}
	}
	headers := map[string]any{}
	if r.headers != nil {
		fields, err := renderFields(r.headers, c.Env)
		if err != nil {
			return nil, fmt.Errorf("headers: %w", err)
		}
		for k := range fields {
			headers[k] = fields.Get(k)
		}
	}
	var body any
	switch {
	case r.json != nil:
		v, err := r.json.Render(c.Env)
		if err != nil {
			return nil, fmt.Errorf("json: %w", err)
		}
		body = v
		if _, ok := headers["Content-Type"]; !ok {
			headers["Content-Type"] = "application/json"
		}
	case r.body != nil:
		s, err := r.body.RenderString(c.Env)
		if err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
		body = s
	}
	return map[string]any{"status": status, "headers": headers, "body": body}, nil
}

func responseStatus(v any) (int, error) {
	n, ok := v.(int)
	if !ok || n < 100 || n > 599 {
		return 0, fmt.Errorf("a status is a number from 100 to 599, got %s", workflows.Text(v))
	}
	return n, nil
}

var _ workflows.Action = (*Respond)(nil)
