package workflows

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"unicode/utf8"
)

// What the run history keeps of a request and of its answer; the rest is cut, and the
// cut is said at the end (cutText). One recorded request is bounded so: a few KiB of
// URL and headers, each way, besides its two bodies.
const (
	// MaxRecordedBody is how much of a request's or an answer's body is kept.
	MaxRecordedBody = 64 << 10
	// MaxRecordedValue is how much of a request's URL, and of each header's value, is
	// kept. 2 KiB shows any URL a person would read to see a mistyped path or a wrong
	// id (browsers and CDNs have long held URLs to about 2 KiB), and any header value but
	// large cookies, which are credentials and shown [redacted] anyway. A value made
	// from an event can be as long as the event: without it, each item of a for_each
	// step would record the event again.
	MaxRecordedValue = 2 << 10
	// MaxRecordedHeaders is how much of a request's headers, or an answer's, is kept in
	// all (names and values as shown): those past it, in the order of their names, are
	// left out, and HeadersCut says how many. APIs refuse requests whose headers pass
	// 8 – 16 KiB (nginx's default buffers hold 8 KiB a line, 32 KiB in all), so a
	// request that was answered fits.
	MaxRecordedHeaders = 16 << 10
)

// HeadersCut is the name under which recorded headers say how many of them were left
// out (MaxRecordedHeaders): no header has it, as a header's name holds no brackets.
const HeadersCut = "[cut]"

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
		shown := make(map[string]string, len(h))
		for name, v := range h {
			s, _ := v.(string)
			if IsCredentialName(name) {
				s = credentialShown(s)
			}
			shown[http.CanonicalHeaderKey(name)] = s
		}
		out.Headers = cutHeaders(shown, func(name string) int { return len(shown[name]) })
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
// ("Bearer [redacted]"), and secrets redacted by r in the others; then cut as
// cutHeaders cuts.
func RecordHeaders(h http.Header, r *Redactor) map[string]string {
	if len(h) == 0 {
		return nil
	}
	shown := make(map[string]string, len(h))
	for name, values := range h {
		shown[name] = ShownHeader(name, strings.Join(values, ", "), r.String)
	}
	return cutHeaders(shown, func(name string) int {
		n := 2 * (len(h[name]) - 1) // the ", " between values
		for _, v := range h[name] {
			n += len(v)
		}
		return n
	})
}

// cutHeaders cuts headers as shown (redacted already, so that a cut never keeps a
// part of a secret) as the run history keeps them: each value at MaxRecordedValue,
// and, in the order of their names, those past MaxRecordedHeaders in all left out,
// HeadersCut saying how many. size is a header's value as it was sent, for the marker
// of a cut value.
func cutHeaders(shown map[string]string, size func(name string) int) map[string]string {
	names := make([]string, 0, len(shown))
	for name := range shown {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make(map[string]string, len(shown))
	total := 0
	for i, name := range names {
		v := shown[name]
		if len(v) > MaxRecordedValue {
			v = cutText(v, MaxRecordedValue, " ", "the value", size(name))
		}
		if total += len(name) + len(v); total > MaxRecordedHeaders {
			out[HeadersCut] = fmt.Sprintf("%d of the %d headers are not kept: the history keeps %d bytes of headers",
				len(names)-i, len(names), MaxRecordedHeaders)
			break
		}
		out[name] = v
	}
	return out
}

// RecordURL is a URL as the run history keeps it, shown already (its secrets redacted,
// its password hidden): cut at MaxRecordedValue. size is its length as sent.
func RecordURL(shown string, size int) string {
	if len(shown) <= MaxRecordedValue {
		return shown
	}
	return cutText(shown, MaxRecordedValue, " ", "the url", size)
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
	return cutText(s, MaxRecordedBody, "\n", "the body", len(data))
}

// cutText is s, longer than max, cut at max bytes (at a character's start) with the
// marker every cut the history shows ends with: after sep, what was cut, how long it
// was (size) and how much of it is kept.
func cutText(s string, max int, sep, what string, size int) string {
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("%s[cut: %s is %d bytes; the first %d are kept]", sep, what, size, cut)
}

// IsCut reports whether s, a URL, a header value or a body the history recorded, was
// cut: it holds its start only.
func IsCut(s string) bool {
	return strings.Contains(s, "[cut: the ") && strings.HasSuffix(s, " are kept]")
}
