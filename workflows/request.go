package workflows

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"unicode/utf8"
)

// MaxRecordedBody is how much of a request's or an answer's body the run history
// keeps; the rest is cut, and the cut is said at the end.
const MaxRecordedBody = 64 << 10

// Request is one attempt of a step that calls out (an http step) as its run records
// it: what was sent and what came back, with the workflow's secrets redacted and
// bodies cut at MaxRecordedBody. Later steps do not read it; people do.
type Request struct {
	Attempt    int               `json:"attempt"`
	Page       int               `json:"page,omitempty"` // of a paginated step: 1 for the first page
	Method     string            `json:"method"`
	URL        string            `json:"url"`
	Headers    map[string]string `json:"headers,omitempty"`
	Body       string            `json:"body,omitempty"`
	Status     int               `json:"status,omitempty"` // 0 when no answer came
	DurationMS int64             `json:"duration_ms"`
	Response   *Response         `json:"response,omitempty"`
	Error      string            `json:"error,omitempty"`
	// Lost marks an attempt whose worker stopped while it ran (it was killed, or out of
	// reach of Redis past its lease): what it sent, if anything, is not known, and
	// its request may have reached the API. Error says so; the attempt after it sends
	// the same Idempotency-Key.
	Lost bool `json:"lost,omitempty"`
}

// Response is the answer to a recorded request. A request that got an answer (Status
// set) but has none recorded had its answer read and parsed into its step's output,
// {status, headers, body}, which the run keeps once: AnswerOf gives it back.
type Response struct {
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
}

// AnswerOf is the answer an http step's output holds, as a recorded Response: header
// names in their canonical form, credentials hidden as RecordHeaders hides them, and
// the body as RecordJSON or RecordBody keeps it; nil for an output of another shape.
// The output's values are redacted already (as the run records outputs).
func AnswerOf(output any) *Response {
	m, ok := output.(map[string]any)
	if !ok {
		return nil
	}
	if _, ok := m["status"]; !ok {
		return nil
	}
	out := &Response{}
	if h, ok := m["headers"].(map[string]any); ok && len(h) > 0 {
		out.Headers = make(map[string]string, len(h))
		for name, v := range h {
			s, _ := v.(string)
			if IsCredentialName(name) {
				s = credentialShown(s)
			}
			out.Headers[http.CanonicalHeaderKey(name)] = s
		}
	}
	switch b := m["body"].(type) {
	case nil:
	case string:
		out.Body = RecordBody([]byte(b), nil)
	default:
		out.Body = RecordJSON(b, nil)
	}
	return out
}

// RecordHeaders is headers as the run history keeps them: one value per name (several
// joined by ", "), the values of credential headers hidden but for their scheme
// ("Bearer [redacted]"), and secrets redacted by r in the others.
func RecordHeaders(h http.Header, r *Redactor) map[string]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string]string, len(h))
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		out[name] = ShownHeader(name, strings.Join(h[name], ", "), r.String)
	}
	return out
}

// ShownHeader is what is shown of a header that a request sent: a credential header's
// scheme only ("Basic [redacted]"), and another's value passed through redact (which
// hides secrets: a Redactor's String). The run history, the dry run and the tests'
// output all show headers so.
func ShownHeader(name, value string, redact func(string) string) string {
	if IsCredentialName(name) {
		return credentialShown(value)
	}
	return redact(value)
}

// credentialShown is what is shown of a credential: its scheme, when it has one.
func credentialShown(v string) string {
	if scheme, _, ok := cutScheme(v); ok {
		return scheme + " " + Redacted
	}
	return Redacted
}

// cutScheme cuts a credential header's value at the space after its scheme ("Bearer",
// "Basic"): a word of at most 20 letters and hyphens. ok is false when it has none.
func cutScheme(v string) (scheme, credential string, ok bool) {
	scheme, credential, ok = strings.Cut(v, " ")
	if !ok || scheme == "" || len(scheme) > 20 {
		return "", "", false
	}
	for _, c := range scheme {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			return "", "", false
		}
	}
	return scheme, credential, true
}

// RecordJSON is a JSON body, decoded as v, as the run history keeps it: its secrets
// redacted in the decoded strings, so that those the sender escaped (in a URL it
// repeats, say) are found too, then encoded again and cut as RecordBody cuts.
func RecordJSON(v any, r *Redactor) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r.Value(v)); err != nil {
		return Redacted
	}
	return RecordBody([]byte(strings.TrimSuffix(b.String(), "\n")), nil)
}

// RecordBody is a body as the run history keeps it: secrets redacted by r, then cut at
// MaxRecordedBody (at a character's start) with a marker that says how long it was.
// Redacting first means a secret the cut would split is never half shown.
func RecordBody(data []byte, r *Redactor) string {
	s := r.String(string(data))
	if len(s) <= MaxRecordedBody {
		return s
	}
	cut := MaxRecordedBody
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("\n[cut: the body is %d bytes; the first %d are kept]", len(data), cut)
}
