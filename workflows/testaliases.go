package workflows

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// The names other tools give the attributes of a test's blocks, with hookflow's: a
// mock's status_code is its status. HCL suggests a name only when it is spelt nearly
// the same (and then sometimes the wrong one: code is nearest body), so these are
// looked up first.
var (
	statusAliases = map[string]string{
		"status_code": "status", "statusCode": "status", "StatusCode": "status", "statuscode": "status",
		"status-code": "status", "code": "status", "http_status": "status", "httpStatus": "status",
	}
	headersAliases = map[string]string{
		"header": "headers", "Headers": "headers", "response_headers": "headers", "responseHeaders": "headers",
	}
	mockAliases = merged(statusAliases, headersAliases, map[string]string{
		"data": "json", "payload": "json", "json_body": "json", "text": "body", "raw": "body",
	})
	eventAliases = merged(headersAliases, map[string]string{
		"contentType": "content_type", "content-type": "content_type", "Content-Type": "content_type",
		"json": "body", "data": "body", "payload": "body",
	})
)

func merged(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// aliasUnsupported rewrites HCL's complaint of an attribute the block does not have
// when its name is another tool's for one it has, to suggest that one.
func aliasUnsupported(diags hcl.Diagnostics, body hcl.Body, aliases map[string]string) {
	eachUnsupported(diags, body, func(name string, d *hcl.Diagnostic) {
		if to := aliases[name]; to != "" {
			d.Detail = aliasDetail(name, to)
		}
	})
}

// eachUnsupported calls do for each of diags that says an attribute of body is not
// expected there, with the attribute's name.
func eachUnsupported(diags hcl.Diagnostics, body hcl.Body, do func(name string, d *hcl.Diagnostic)) {
	syntax, ok := body.(*hclsyntax.Body)
	if !ok {
		return
	}
	for _, d := range diags {
		if d.Summary != "Unsupported argument" || d.Subject == nil {
			continue
		}
		for name, a := range syntax.Attributes {
			if a.NameRange == *d.Subject {
				do(name, d)
			}
		}
	}
}

func aliasDetail(name, to string) string {
	return fmt.Sprintf("An argument named %q is not expected here. Did you mean %q?", name, to)
}

// withAliases adds to hints, by attribute name, the same hint for each alias of a
// name it has.
func withAliases(hints, aliases map[string]string) map[string]string {
	for alias, name := range aliases {
		if h, ok := hints[name]; ok {
			hints[alias] = h
		}
	}
	return hints
}
