package testexport

import (
	"encoding/json"
	"math"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/hookflow/hookflow/workflows"
)

// event writes the test's event block: the run's event as a test sends it again, less
// its credentials.
func (x *exporter) event(test *hclwrite.Body, ev *workflows.Event) {
	b := test.AppendNewBlock("event", nil).Body()
	switch ev.Trigger {
	case "webhook", "schedule", "poll", "manual": // a child run's, "workflow", is not a test's
		b.SetAttributeValue("trigger", cty.StringVal(ev.Trigger))
	}
	if ev.Trigger == "poll" {
		x.poll(b, ev.Poll)
	}
	headers := map[string]any{}
	for k, v := range ev.Headers {
		lk := strings.ToLower(k)
		if workflows.IsCredentialName(k) || skippedHeaders[lk] || strings.Contains(v, workflows.Redacted) {
			continue
		}
		headers[lk] = x.redact(v)
	}
	if len(headers) > 0 {
		b.SetAttributeRaw("headers", valueTokens(toCty(headers)))
	}
	if len(ev.Query) > 0 {
		q := map[string]any{}
		for k, vs := range ev.Query {
			if len(vs) > 0 && !workflows.IsCredentialName(k) {
				q[k] = x.redact(vs[0])
			}
		}
		if len(q) > 0 {
			b.SetAttributeRaw("query", valueTokens(toCty(q)))
		}
	}
	if len(ev.Params) > 0 {
		p := map[string]any{}
		for k, v := range ev.Params {
			p[k] = x.redact(v)
		}
		b.SetAttributeRaw("params", valueTokens(toCty(p)))
	}
	isJSON := ev.ContentType == "" || strings.Contains(strings.ToLower(ev.ContentType), "json")
	switch body := ev.Body.(type) {
	case map[string]any, []any:
		if isJSON {
			b.SetAttributeRaw("body", valueTokens(toCty(x.redactValue(workflows.RedactCredentialFields(body)))))
			return
		}
	}
	if ev.Raw == "" { // otherwise the body as it came (a form, text), its credentials redacted
		return
	}
	if ev.ContentType != "" && ev.Headers["content-type"] == "" {
		b.SetAttributeValue("content_type", cty.StringVal(ev.ContentType))
	}
	b.SetAttributeValue("body", cty.StringVal(x.redact(ev.Raw)))
}

// poll writes event.poll of a poll's item: the page it came on and the poll's time,
// which the test's event then has too.
func (x *exporter) poll(b *hclwrite.Body, poll map[string]any) {
	p := map[string]any{}
	var page float64
	switch n := poll["page"].(type) {
	case int:
		page = float64(n)
	case int64:
		page = float64(n)
	case float64:
		page = n
	case json.Number:
		page, _ = n.Float64()
	}
	if page >= 1 && page == math.Trunc(page) && page <= math.MaxInt32 {
		p["page"] = int(page)
	}
	if at, ok := poll["time"].(string); ok {
		if _, err := time.Parse(time.RFC3339, at); err == nil { // as the test reads it
			p["time"] = at
		}
	}
	if len(p) > 0 {
		b.SetAttributeRaw("poll", valueTokens(toCty(p)))
	}
}
