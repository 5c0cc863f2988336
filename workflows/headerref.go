package workflows

import (
	"fmt"
	"net/http"

	"github.com/expr-lang/expr/ast"
	"github.com/hashicorp/hcl/v2"
)

// eventHeader reads event.headers["NAME"] (or event.headers.NAME, event.headers?.NAME)
// in a member node: the header's name as written.
func eventHeader(m *ast.MemberNode) (string, bool) {
	name, ok := m.Property.(*ast.StringNode)
	if !ok {
		return "", false
	}
	field, ok := unchained(m.Node).(*ast.MemberNode)
	if !ok {
		return "", false
	}
	if headers, ok := rootField(field, "event"); !ok || headers != "headers" {
		return "", false
	}
	return name.Value, true
}

// redactedHeaderRef warns of a read of a header that an event keeps [redacted]: one
// whose name speaks of a credential (KeptHeader). What reads it gets "[redacted]" on
// every event, whether the webhook's verify checked it or not, which is never what
// was meant. where names what reads it ("the filter", `step "notify"`).
func redactedHeaderRef(name, where string) *hcl.Diagnostic {
	if !IsCredentialName(http.CanonicalHeaderKey(name)) {
		return nil
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagWarning,
		Summary:  fmt.Sprintf("event.headers[%q] is always %s", name, Redacted),
		Detail: fmt.Sprintf("The name %s speaks of a credential, and hookflow keeps no sender credential: an event keeps such a header %s, "+
			"whether or not the webhook's verify checks it, so %s reads %q on every event. "+
			"A webhook's dedupe reads it as sent; to accept only a sender that knows it, check it with a verify block.",
			name, Redacted, where, Redacted),
	}
}
