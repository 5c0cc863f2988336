package actions

import (
	"net/http"
	"strings"
)

// scopeRefusal is what a 401's WWW-Authenticate says of a token that is good but not
// for the call (Bearer error="insufficient_scope", RFC 6750 section 3.1): a new token of
// the same grant would be refused too.
type scopeRefusal struct {
	scope string // the scope the call needs, as the API names it; "" when it names none
}

// maxShownScope bounds how much of a scope an error shows.
const maxShownScope = 200

// lacksScope reports whether a 401 says the token is good but not for this call
// (WWW-Authenticate: Bearer error="insufficient_scope"): a new token of the same grant
// would be refused too, so none is fetched.
func lacksScope(resp *http.Response) bool {
	_, ok := scopeRefusalOf(resp)
	return ok
}

// scopeRefusalOf returns what a 401's WWW-Authenticate says of a token that lacks a
// scope, and whether it says so; its scope whole (see shown).
func scopeRefusalOf(resp *http.Response) (scopeRefusal, bool) {
	for _, v := range resp.Header.Values("WWW-Authenticate") {
		params := challengeParams(v)
		if params["error"] == "insufficient_scope" {
			return scopeRefusal{scope: params["scope"]}, true
		}
	}
	return scopeRefusal{}, false
}

// shown is r as an error shows it: its scope redacted by redact, then cut to
// maxShownScope bytes. Redacting first means a secret the cut would split is never
// half shown.
func (r scopeRefusal) shown(redact func(string) string) scopeRefusal {
	scope := redact(r.scope)
	if len(scope) > maxShownScope {
		scope = strings.ToValidUTF8(scope[:maxShownScope], "") + "…"
	}
	return scopeRefusal{scope: scope}
}

// challengeParams returns the auth-params of a WWW-Authenticate value (RFC 9110
// section 11.6.1), names in lower case, quoted values unquoted; of a name given twice
// (two challenges in one value), the first. Schemes and token68s are skipped: a
// parameter is a name followed by "=".
func challengeParams(v string) map[string]string {
	params := map[string]string{}
	i := 0
	for i < len(v) {
		for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == ',') {
			i++
		}
		start := i
		for i < len(v) && v[i] != ' ' && v[i] != '\t' && v[i] != ',' && v[i] != '=' {
			i++
		}
		name := strings.ToLower(v[start:i])
		j := i
		for j < len(v) && (v[j] == ' ' || v[j] == '\t') {
			j++
		}
		if j == len(v) || v[j] != '=' || name == "" {
			if i == start {
				i++ // a stray "=": step past it
			}
			continue // a scheme, or a token68
		}
		i = j + 1
		for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
			i++
		}
		var value string
		value, i = paramValue(v, i)
		if _, ok := params[name]; !ok {
			params[name] = value
		}
	}
	return params
}

// paramValue reads the value of an auth-param at v[i:]: a quoted string, its quoted
// pairs unescaped, or a token up to a comma or a space; and returns where it ended.
func paramValue(v string, i int) (string, int) {
	if i < len(v) && v[i] == '"' {
		var b strings.Builder
		for i++; i < len(v); i++ {
			switch c := v[i]; {
			case c == '"':
				return b.String(), i + 1
			case c == '\\' && i+1 < len(v):
				i++
				b.WriteByte(v[i])
			default:
				b.WriteByte(c)
			}
		}
		return b.String(), i // no closing quote: what there is
	}
	start := i
	for i < len(v) && v[i] != ',' && v[i] != ' ' && v[i] != '\t' {
		i++
	}
	return v[start:i], i
}

// String is what a step's error says of the refusal: "the API says
// insufficient_scope: scope admin:write".
func (r scopeRefusal) String() string {
	if r.scope == "" {
		return "the API says insufficient_scope"
	}
	return "the API says insufficient_scope: scope " + r.scope
}
