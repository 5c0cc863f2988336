package engine

import (
	"strings"

	"github.com/hookflow/hookflow/workflows"
)

// The credential headers of an http step's answer (a login's Set-Cookie, an
// X-Auth-Token, an echoed X-Api-Key) are shown [redacted] in the step's own record.
// The steps after it read them as they came, and may write them again: a Cookie
// header, a body field, a log line. The run records those steps as they ran, since
// what a step recorded is what the steps after it read; the history hides the values
// where it shows the run (Engine.Run: the admin API, the inspector, `hookflow runs
// show`), in every step's output, error and requests, and in the run's error.

// answeredValues appends to into the values of the credential headers of out, an http
// step's output, that look like tokens (tokenLike): each header's value (after its
// scheme, for an Authorization), and the values of a Set-Cookie's cookies that are
// credentials (cookieValues).
func answeredValues(out any, into []string) []string {
	m, _ := out.(map[string]any)
	headers, _ := m["headers"].(map[string]any)
	for name, v := range headers {
		s, ok := v.(string)
		if !ok || !IsCredentialHeader(name) {
			continue
		}
		if strings.EqualFold(name, "set-cookie") {
			into = cookieValues(s, into)
			continue
		}
		if scheme, rest, ok := strings.Cut(s, " "); ok && scheme != "" && !strings.ContainsAny(scheme, "=,;") {
			s = strings.TrimSpace(rest) // an Authorization's credentials, after their scheme (Bearer, Basic)
		}
		if tokenLike(s) {
			into = addSecret(into, s)
		}
	}
	return into
}

// cookieValues appends to into the values of the cookies in s, the Set-Cookie
// headers of an answer joined with ", ", that are credentials: what a later step's
// Cookie header sends. An attribute's value (Path=/, an Expires date) is none, nor is a
// word (consent=accepted, a session's value deleted at a logout) or a short value of a
// cookie not named as a credential (region=us-east-1), which would hide ordinary text
// wherever it appears in the run: a cookie's value is a credential when it looks like
// a token, and either its name says so (session, JSESSIONID, auth_token) or it is
// long (PHPSESSID's, connect.sid's).
func cookieValues(s string, into []string) []string {
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' }) {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		name = strings.TrimSpace(name)
		if !ok || cookieAttributes[strings.ToLower(name)] {
			continue
		}
		value = strings.Trim(strings.TrimSpace(value), `"`)
		if tokenLike(value) && (workflows.IsCredentialName(name) || len(value) >= longToken) {
			into = addSecret(into, value)
		}
	}
	return into
}

// longToken is how long a value is to be taken for a token whatever names it.
const longToken = 16

// tokenLike reports whether s may be a token rather than a word: MinSecret bytes or
// more, no space, and a digit in it or longToken bytes or more.
func tokenLike(s string) bool {
	if len(s) < workflows.MinSecret || strings.ContainsAny(s, " \t") {
		return false
	}
	return len(s) >= longToken || strings.ContainsAny(s, "0123456789")
}

// cookieAttributes are the names of a Set-Cookie's attributes that take a value.
var cookieAttributes = map[string]bool{"expires": true, "max-age": true, "domain": true, "path": true, "samesite": true, "priority": true}

// addSecret appends s to into when it is long enough to be hidden and not there yet.
func addSecret(into []string, s string) []string {
	if len(s) < workflows.MinSecret {
		return into
	}
	for _, v := range into {
		if v == s {
			return into
		}
	}
	return append(into, s)
}

// hideAnswered hides, in the run as shown, the values of the credential headers its
// http steps got back (StepRun.answered).
func (r *Run) hideAnswered() {
	var values []string
	seen := map[string]bool{}
	var gather func(steps []StepRun)
	gather = func(steps []StepRun) {
		for i := range steps {
			for _, v := range steps[i].answered {
				if !seen[v] {
					seen[v] = true
					values = append(values, v)
				}
			}
			gather(steps[i].Items)
		}
	}
	gather(r.Steps)
	if len(values) == 0 {
		return
	}
	red := (*workflows.Redactor)(nil).Plus(values...).Encoded()
	r.Error = red.String(r.Error)
	var hide func(steps []StepRun)
	hide = func(steps []StepRun) {
		for i := range steps {
			s := &steps[i]
			s.Output = red.Value(s.Output)
			s.Error = red.String(s.Error)
			for k := range s.Requests {
				hideRequest(red, &s.Requests[k])
			}
			hide(s.Items)
		}
	}
	hide(r.Steps)
}

// hideRequest hides red's values in a recorded request and its answer.
func hideRequest(red *workflows.Redactor, q *workflows.Request) {
	q.URL, q.Body, q.Error = red.String(q.URL), red.String(q.Body), red.String(q.Error)
	q.Headers = hideHeaders(red, q.Headers)
	if q.Response != nil {
		resp := *q.Response // the record's, not to be changed in place
		resp.Headers, resp.Body = hideHeaders(red, resp.Headers), red.String(resp.Body)
		q.Response = &resp
	}
}

func hideHeaders(red *workflows.Redactor, h map[string]string) map[string]string {
	if len(h) == 0 {
		return h
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[k] = red.String(v)
	}
	return out
}
