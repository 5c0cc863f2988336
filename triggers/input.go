package triggers

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"unicode/utf8"

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

// parseQuery parses a request's query string whole, or says what is wrong with it
// (an escape that is not one, a ';', a name or value that is not UTF-8 once decoded)
// without quoting a value: an event whose query lost a parameter would be taken as if
// the sender had not sent it, and one whose bytes became U+FFFD as if it had sent
// other text. A control character (%0A, %00) is taken, as in a form body's field: a
// query is data, where a path is what routes the request. None is nil.
func parseQuery(raw string) (url.Values, string) {
	if raw == "" {
		return nil, ""
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, "malformed query string: " + workflows.Unquoted(err.Error())
	}
	if problem := queryNotUTF8(q); problem != "" {
		return nil, "malformed query string: " + problem + " is not valid UTF-8 once its %-escapes are decoded"
	}
	return q, ""
}

// queryNotUTF8 names the first parameter, by name, whose name or value is not UTF-8,
// or is "" when every one is.
func queryNotUTF8(q url.Values) string {
	var bad []string // names, as they decode, of the parameters found wrong
	for k, vs := range q {
		if !utf8.ValidString(k) || slices.ContainsFunc(vs, func(v string) bool { return !utf8.ValidString(v) }) {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return ""
	}
	slices.Sort(bad)
	if !utf8.ValidString(bad[0]) {
		return "a parameter's name"
	}
	return fmt.Sprintf("the value of parameter %q", bad[0])
}
