package actions

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/internal/httpjson"
	"github.com/hookflow/hookflow/workflows"
)

// respondKind: step "respond" "NAME" { status = 200, json = {…} } sets what a webhook
// with response = "sync" answers.
func respondKind() workflows.StepKind {
	return workflows.StepKind{
		Name:        "respond",
		Output:      []string{"status", "headers", "body"}, // status: the HTTP status it answers with
		OutputTypes: map[string]string{"status": workflows.TypeNumber},
		Attrs:       []workflows.Attr{{Name: "status"}, {Name: "headers"}, {Name: "json"}, {Name: "body"}},
		New: func(b *workflows.Block) (workflows.Action, hcl.Diagnostics) {
			r := &Respond{status: b.Template("status"), headers: b.Template("headers"), json: b.Template("json"), body: b.Template("body")}
			diags := b.OnlyOne("json", "body")
			diags = append(diags, b.CheckConst("status", "Invalid status", func(v any) error { _, err := responseStatus(v); return err })...)
			diags = append(diags, b.CheckConst("headers", "headers must be an object", workflows.Object)...)
			diags = append(diags, b.CheckHeaders("headers")...)
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
		// By name, as an http step sends them: of content-type and Content-Type, one
		// header, the last name's values are answered, whatever the map's order.
		for _, k := range sortedNames(fields) {
			if err := workflows.HeaderNameError(k); err != nil {
				return nil, fmt.Errorf("headers: %w", err)
			}
			vs := fields[k]
			for _, v := range vs {
				if err := workflows.HeaderValueError(v); err != nil {
					return nil, fmt.Errorf("headers: %s: value %w; refusing to answer with it", k, err)
				}
			}
			// A list gives the header several values, as in an http step: each its own
			// line. One value is kept as text.
			var v any = vs[0]
			if len(vs) > 1 {
				list := make([]any, len(vs))
				for i, x := range vs {
					list[i] = x
				}
				v = list
			}
			headers[http.CanonicalHeaderKey(k)] = v
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

// responseStatus reads a final status, a whole number or one written as text (form
// fields and headers are text): 1xx ones are interim, not an answer.
func responseStatus(v any) (int, error) {
	n, ok := 0, false
	switch v := v.(type) {
	case int:
		n, ok = v, true
	case float64:
		n, ok = int(v), v == float64(int(v))
	case string:
		i, err := strconv.Atoi(strings.TrimSpace(v))
		n, ok = i, err == nil
	}
	if !ok || n < 200 || n > 599 {
		got := workflows.Text(v)
		if _, isText := v.(string); isText {
			got = strconv.Quote(got)
		}
		return 0, fmt.Errorf("a status is a whole number from 200 to 599, got %s", got)
	}
	return n, nil
}

// framing headers are the server's to set: an answer's own would break the connection.
var framing = map[string]bool{"Content-Length": true, "Transfer-Encoding": true, "Connection": true,
	"Keep-Alive": true, "Upgrade": true, "Trailer": true, "Te": true, "Proxy-Connection": true}

// Response turns the output Do recorded into the answer of a webhook waiting for the
// run: json is sent as JSON, body as it is (text/plain unless headers say otherwise).
func (r *Respond) Response(output any) (int, http.Header, []byte, error) {
	out, ok := output.(map[string]any)
	if !ok {
		return 0, nil, nil, fmt.Errorf("respond output is %T, not an object", output)
	}
	status, err := responseStatus(out["status"])
	if err != nil {
		return 0, nil, nil, err
	}
	header := http.Header{}
	if hs, ok := out["headers"].(map[string]any); ok {
		for k, v := range hs {
			name := http.CanonicalHeaderKey(k)
			if framing[name] || workflows.HeaderNameError(k) != nil {
				continue
			}
			values, several := v.([]any) // a header given several values: one line each
			if !several {
				values = []any{v}
			}
			for _, x := range values {
				if value := workflows.Text(x); workflows.HeaderValueError(value) == nil {
					header.Add(name, value)
				}
			}
		}
	}
	var body []byte
	text, isText := out["body"].(string)
	switch {
	case isText && r.json == nil:
		body = []byte(text)
		if header.Get("Content-Type") == "" {
			header.Set("Content-Type", "text/plain; charset=utf-8")
		}
	case out["body"] != nil:
		if body, err = httpjson.Marshal(out["body"]); err != nil {
			return 0, nil, nil, fmt.Errorf("json: %w", err)
		}
		if header.Get("Content-Type") == "" {
			header.Set("Content-Type", "application/json")
		}
	}
	return status, header, body, nil
}

var _ workflows.Responder = (*Respond)(nil)
