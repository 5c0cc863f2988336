package workflows

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/net/http/httpguts"
)

// A request's framing and its connection are the HTTP client's to write: it sets
// Content-Length and Transfer-Encoding (and a Trailer) from the body, and the headers
// that govern one connection (Connection, Keep-Alive, Proxy-Connection, Upgrade) are
// hop-by-hop, which HTTP/2 does not carry. A request that wrote its own would send
// something other than the run history records: HTTP/1 leaves out the first, HTTP/2
// the others, and a call over https may go either way. So an http step's headers (and
// an api's) cannot name them: a load error at the key when the file writes the name,
// a failure of the step when one {{ }} gives the headers.
//
// Host is the one the client takes from a request: an http step sends it as the
// request's Host, as a virtual host called by its address needs, while the connection
// goes to the URL's host, which the outbound guard checks. It must be fixed when the
// file loads: written out, or from vars, never from a run. Headers that one {{ }}
// gives (a relay of event.headers, which holds the sender's Host, Content-Length and
// Connection) leave these names out, as the client would, and send the rest.

// clientHeaders say why the client writes each of them itself.
var clientHeaders = map[string]string{
	"Content-Length":    "is set by the HTTP client from the body",
	"Transfer-Encoding": "is set by the HTTP client from the body",
	"Trailer":           "is set by the HTTP client from the body",
	"Connection":        "governs one connection, which the HTTP client keeps (and HTTP/2 does not carry it)",
	"Keep-Alive":        "governs one connection, which the HTTP client keeps (and HTTP/2 does not carry it)",
	"Proxy-Connection":  "governs one connection, which the HTTP client keeps (and HTTP/2 does not carry it)",
	"Upgrade":           "governs one connection, which the HTTP client keeps (and HTTP/2 does not carry it)",
}

// ClientHeaderError says why a request cannot carry a header of this name as a step
// writes it: the HTTP client writes it itself, and would not send the step's. nil
// when it can.
func ClientHeaderError(name string) error {
	why, ok := clientHeaders[http.CanonicalHeaderKey(name)]
	if !ok {
		return nil
	}
	return fmt.Errorf("%s %s: one written in headers would not be sent; leave it out", http.CanonicalHeaderKey(name), why)
}

// RequestHost is the Host a request sends for the values of a Host header: one, a
// host with an optional port, a name not in ASCII sent as its punycode (as the client
// sends it).
func RequestHost(values []string) (string, error) {
	if len(values) != 1 {
		return "", fmt.Errorf("a request has one Host, not %d", len(values))
	}
	if values[0] == "" {
		return "", errors.New("the Host cannot be empty")
	}
	host, err := httpguts.PunycodeHostPort(values[0])
	if err != nil || !httpguts.ValidHostHeader(host) {
		return "", errors.New("the Host is not a host with an optional port (api.example.com, 10.0.0.5:8443)")
	}
	return host, nil
}

// requestHeaderDiags reports, of fields, the headers of a request as the file writes
// them, those the client writes itself (ClientHeaderError), at the key in expr, and a
// Host whose values, known whole when the file loads (known), are several or one that
// no Host can be, at the value; at all when expr does not write the object out.
func requestHeaderDiags(fields map[string][]string, known map[string]bool, expr hcl.Expression, all hcl.Range) []found {
	var out []found
	for name, values := range fields {
		keyAt, valueAt := all, all
		if item, ok := objectItem(expr, name); ok {
			keyAt, valueAt = item.KeyExpr.Range(), item.ValueExpr.Range()
		}
		if err := ClientHeaderError(name); err != nil {
			out = append(out, found{keyAt, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Header the HTTP client sets",
				Detail: sentence(err.Error()), Subject: keyAt.Ptr()}})
		}
		if http.CanonicalHeaderKey(name) != "Host" {
			continue
		}
		if !known[name] {
			out = append(out, found{valueAt, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Host not fixed when the file loads",
				Detail: "A request's Host picks the site at the address the URL names, past the outbound guard's check of that address: " +
					"it cannot come from a run (the event, a step). Write it out, or read it from vars.", Subject: valueAt.Ptr()}})
			continue
		}
		if _, err := RequestHost(values); err != nil {
			out = append(out, found{valueAt, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid Host header",
				Detail: sentence(err.Error()), Subject: valueAt.Ptr()}})
		}
	}
	return out
}
