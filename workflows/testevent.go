package workflows

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// The event block of a test: the event its run starts with.

func decodeTestEvent(b *hcl.Block, ctx *hcl.EvalContext, ev *TestEvent) hcl.Diagnostics {
	content, diags := b.Body.Content(testEventSchema)
	aliasUnsupported(diags, b.Body, eventAliases)
	attrs := content.Attributes
	ev.Headers = map[string]string{}
	if a := attrs["headers"]; a != nil {
		h, d := testHeaders(a, ctx)
		diags = append(diags, d...)
		for k, v := range h {
			ev.Headers[strings.ToLower(k)] = KeptHeader(k, v) // as serve keeps them
		}
	}
	if a := attrs["params"]; a != nil {
		var d hcl.Diagnostics
		ev.Params, d = testStrings(a, ctx)
		diags = append(diags, d...)
	}
	if a := attrs["query"]; a != nil {
		q, d := testStrings(a, ctx)
		diags = append(diags, d...)
		ev.Query = map[string][]string{}
		for k, v := range q {
			ev.Query[k] = []string{v}
		}
	}
	if a := attrs["trigger"]; a != nil {
		ev.TriggerRange = a.Expr.Range()
		diags = append(diags, testString(a, ctx, &ev.Trigger)...)
		switch ev.Trigger {
		case "webhook", "schedule", "poll", "manual":
		default:
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown trigger",
				Detail: fmt.Sprintf("trigger is %q; use webhook, schedule, poll or manual.", ev.Trigger), Subject: a.Expr.Range().Ptr()})
		}
	}
	if a := attrs["content_type"]; a != nil {
		diags = append(diags, testString(a, ctx, &ev.ContentType)...)
	}
	if a := attrs["poll"]; a != nil {
		diags = append(diags, testPoll(a, ctx, ev)...)
	}
	ev.Raw = "{}"
	body := attrs["body"]
	if body != nil {
		v, d := testValue(body, ctx)
		diags = append(diags, d...)
		switch v := v.(type) {
		case string:
			ev.Raw = v // a string is the body as sent: JSON, a form, text
		case map[string]any, []any:
			if data, err := json.Marshal(v); err == nil {
				ev.Raw = string(data)
			}
		default:
			if !d.HasErrors() {
				diags = append(diags, scalarBody(body, v))
			}
		}
	}
	if ev.ContentType == "" {
		ev.ContentType = ev.Headers["content-type"]
	}
	if ev.ContentType == "" && body != nil {
		ev.ContentType = FileContentType(bodyFile(body)) // as hookflow run --event reads the file
	}
	if ev.ContentType == "" {
		ev.ContentType = "application/json"
		if !json.Valid([]byte(ev.Raw)) {
			ev.ContentType = "text/plain; charset=utf-8"
			if looksLikeForm(ev.Raw) {
				diags = append(diags, formAsText(body))
			}
		}
	}
	return diags
}

// testPoll reads a test event's poll, event.poll of a poll's item: { page = N }, and
// time (RFC 3339) when the test reads it. It is a poll's only: the event says trigger =
// "poll" too.
func testPoll(a *hcl.Attribute, ctx *hcl.EvalContext, ev *TestEvent) hcl.Diagnostics {
	invalid := func(detail string) hcl.Diagnostics {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid event poll", Subject: a.Expr.Range().Ptr(),
			Detail: detail + ` Write it as poll = { page = 2 }, with time = "2026-03-02T09:00:00Z" when the workflow reads event.poll.time.`}}
	}
	if ev.Trigger != "poll" {
		return invalid(`poll is event.poll of a poll's item: the event needs trigger = "poll" beside it.`)
	}
	v, diags := testValue(a, ctx)
	if diags.HasErrors() {
		return diags
	}
	m, ok := v.(map[string]any)
	if !ok {
		return invalid(fmt.Sprintf("poll is an object, not %s.", typeName(v)))
	}
	for k, x := range m {
		switch k {
		case "page":
			page, ok := x.(int)
			if !ok || page < 1 {
				return invalid(fmt.Sprintf("page is the page the item came on, a whole number from 1, not %s.", testValueText(x)))
			}
			ev.PollPage = page
		case "time":
			t, ok := x.(string)
			if _, err := time.Parse(time.RFC3339, t); !ok || err != nil {
				return invalid(fmt.Sprintf("time is the poll's time, RFC 3339, not %s.", testValueText(x)))
			}
			ev.PollTime = t
		default:
			detail := fmt.Sprintf("event.poll has page and time, not %s.", k)
			if near := suggest(k, []string{"page", "time"}); near != "" {
				detail = fmt.Sprintf("event.poll has page and time, not %s: did you mean %s?", k, near)
			}
			return invalid(detail)
		}
	}
	return nil
}

// testValueText is a value of a test file as an error names it: 0, "x", a list.
func testValueText(v any) string {
	switch v.(type) {
	case map[string]any, []any, nil:
		return typeName(v)
	}
	data, _ := json.Marshal(v)
	return string(data)
}

// scalarBody is the error for a test event's body written as a number, a bool or
// null: a body is an object or a list, sent as JSON, or a string, sent as it is.
func scalarBody(body *hcl.Attribute, v any) *hcl.Diagnostic {
	detail := fmt.Sprintf("An event's body is an object or a list, sent as JSON, or a string, sent as it is (JSON, a form, text), not %s.", typeName(v))
	if v == nil {
		detail += " Leave body out for an event with an empty object, {}."
	} else {
		data, _ := json.Marshal(v)
		detail += fmt.Sprintf(" To send the JSON %s as the body, write it as a string: body = %q.", data, string(data))
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid event body", Detail: detail, Subject: body.Expr.Range().Ptr()}
}

// bodyFile is the name of the file that body = file("NAME") reads; "" for a body
// written otherwise.
func bodyFile(a *hcl.Attribute) string {
	call, ok := a.Expr.(*hclsyntax.FunctionCallExpr)
	if !ok || call.Name != "file" || len(call.Args) != 1 {
		return ""
	}
	v, d := call.Args[0].Value(nil)
	if d.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return ""
	}
	return v.AsString()
}

// looksLikeForm reports whether s, a body, reads as a form: name=value pairs joined
// by &, with nothing else, and something only a form writes so: two pairs or more, or
// a value encoded as a form encodes it (%2F, a + for a space). One pair of plain words
// ("ok=fine") is as likely text, and a URL with a query (https://…?a=1&b=2) is one.
func looksLikeForm(s string) bool {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "=") || strings.ContainsAny(s, " \t\r\n?") || strings.Contains(s, "://") {
		return false
	}
	q, err := url.ParseQuery(s)
	if err != nil {
		return false
	}
	for k := range q {
		if k == "" || strings.ContainsAny(k, "/:") {
			return false
		}
	}
	return strings.Contains(s, "&") || strings.Contains(s, "+") || percentEncoded.MatchString(s)
}

// percentEncoded is a byte a form encodes: %2F.
var percentEncoded = regexp.MustCompile(`%[0-9A-Fa-f]{2}`)

// formAsText is the warning for a test event's body that reads as a form but is
// taken as text, as nothing says it is a form.
func formAsText(body *hcl.Attribute) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagWarning,
		Summary:  "Event body taken as text",
		Detail: "The body is a form (name=value&…), but neither content_type nor a Content-Type header says so, and it is not read " +
			"from a .form file, so the run takes it as text: event.body is the string, with no fields. " +
			`Add content_type = "application/x-www-form-urlencoded" to read it as a form (or "text/plain" to keep it text).`,
		Subject: body.Expr.Range().Ptr(),
	}
}

// testTrigger checks a test's event against the workflow: a trigger kind it names is
// one of the workflow's, or manual, which starts any workflow.
func testTrigger(t *Test, wf *Workflow) hcl.Diagnostics {
	kind := t.Event.Trigger
	switch kind {
	case "webhook", "schedule", "poll": // the others are manual, or not a trigger kind (an error already)
	default:
		return nil
	}
	var kinds []string
	for _, tr := range wf.Triggers {
		if tr.Kind == kind {
			return nil
		}
		if !slices.Contains(kinds, tr.Kind) {
			kinds = append(kinds, tr.Kind)
		}
	}
	detail := fmt.Sprintf("Workflow %q has no %s trigger, so no %s event starts it; its triggers are %s. "+
		"Write one of them, or \"manual\" for a start by hand, which every workflow takes; without trigger, the event is its first trigger's.",
		wf.Name, kind, kind, strings.Join(kinds, ", "))
	if len(kinds) == 0 {
		detail = fmt.Sprintf("Workflow %q has no trigger, so no %s event starts it: a workflow step or a start by hand does. "+
			"Write trigger = \"manual\", or leave trigger out.", wf.Name, kind)
	}
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Trigger the workflow does not have",
		Detail: detail, Subject: t.Event.TriggerRange.Ptr()}}
}
