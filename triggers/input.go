package triggers

import (
	"net/http"
	"net/url"

	"github.com/hookflow/hookflow/workflows"
)

// What a webhook or a resume must be for hookflow to read it whole: a request it would
// read only in part, or read otherwise than it was sent, is refused with the reason.

// errLengthRequired is the answer to a request lengthRequired refuses.
const errLengthRequired = "HTTP/1.0 request without Content-Length: its body cannot be read; send a Content-Length, or use HTTP/1.1"

// lengthRequired reports whether r is an HTTP/1.0 request that may carry a body
// (any method but GET, HEAD, OPTIONS and TRACE: a webhook takes DELETE's body as it
// takes POST's) but has no Content-Length. HTTP/1.0 has no chunked encoding (Go's
// server ignores a Transfer-Encoding on it), so its body would end only where the
// connection does: Go's server takes such a request for one without a body and drops
// what follows, and a run would start on an event without the body that was sent. An
// HTTP/1.1 request without a Content-Length or a Transfer-Encoding has no body (RFC
// 9112, 6.3): it is read as that, an empty POST.
func lengthRequired(r *http.Request) bool {
	if r.ProtoAtLeast(1, 1) {
		return false
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	_, ok := r.Header["Content-Length"]
	return !ok
}

// parseQuery is workflows.ParseQuery, with what is wrong as the text of a 400.
func parseQuery(raw string) (url.Values, string) {
	q, err := workflows.ParseQuery(raw)
	if err != nil {
		return nil, err.Error()
	}
	return q, ""
}
