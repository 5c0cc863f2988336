package workflows

import (
	"net/url"
	"slices"
	"strings"
)

// A credential written into a step (headers = { Authorization = "Bearer abc…" },
// basic_auth's password, query = { api_key = "…" }) is sent as one read with
// secret() is, and an API may echo it back in its answer, or an error quote it. Like
// the credentials of an api block's auth, it is hidden like a secret wherever it could
// reappear, whether or not it was read with secret(): the values fixed when the file
// loads under names that say they are credentials (IsCredentialName) join the
// workflows' secrets, which hide them in every encoding a request gives them (and, for
// basic_auth's password, in the base64 of user:password). A value that a run renders
// ({{ steps.login.token }}) is not known at load time, and not hidden so.
//
// They are the step's workflow's secrets, not the whole set's: an ordinary word a step
// writes under such a name hides nothing in the other workflows. And not every value
// under such a name is a credential: one under a name that says what kind of
// credential it is or where it is (token_type = "Bearer", token_type_hint =
// "access_token", auth_method = "client_secret_post", secret_name = "production": see
// qualifierWords) names it, and a word (session = "active", credentials = "include":
// see wordLike) is a setting. Neither is hidden so: hidden, it would hide that word in
// every answer of the workflow ({"[redacted]": "…"} for a key "access_token"). The run
// history shows the field itself [redacted] all the same, by its name, as it does any
// credential's.

// HideCredentialFields hides like secrets the values fixed when the file loads of the
// fields named as credentials, at any depth, in the named attributes: a password in
// basic_auth, an api_key in query, a client_secret in form or json. Only texts of
// MinSecret bytes or more are hidden, as with secret().
func (b *Block) HideCredentialFields(names ...string) {
	for _, name := range names {
		a := b.attrs[name]
		if a == nil || a.Template == nil {
			continue
		}
		b.hide(a.Template.credentialTexts(a.vars, nil))
	}
}

// HideCredentialHeaders hides like secrets the values fixed when the file loads of
// the credential headers (Authorization, X-Api-Key) in the named attribute: of a value
// with a scheme, the credential after it ("abc…" of "Bearer abc…"), so that an answer
// that repeats the token alone hides it too, and one that repeats the header shows
// "Bearer [redacted]", as the recorded request does.
func (b *Block) HideCredentialHeaders(name string) {
	a := b.attrs[name]
	if a == nil || a.Template == nil {
		return
	}
	values := a.Template.credentialTexts(a.vars, nil)
	for i, v := range values {
		if _, credential, ok := cutScheme(v); ok {
			values[i] = strings.TrimSpace(credential)
		}
	}
	b.hide(values)
}

// HideURLCredentials hides like secrets the values of the query parameters named as
// credentials (?api_key=…) in a URL fixed when the file loads, as they are and as
// the query decodes them.
func (b *Block) HideURLCredentials(name string) {
	a := b.attrs[name]
	if a == nil || a.Template == nil {
		return
	}
	v, ok := a.Template.loadValue(a.vars)
	s, _ := v.(string)
	_, query, found := strings.Cut(s, "?")
	if !ok || !found {
		return
	}
	query, _, _ = strings.Cut(query, "#")
	var values []string
	for _, pair := range strings.Split(query, "&") {
		k, raw, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil || !holdsCredential(key) {
			continue
		}
		decoded, err := url.QueryUnescape(raw)
		if err != nil {
			decoded = raw
		}
		if isCredentialText(key, decoded) {
			values = append(values, raw, decoded)
		}
	}
	b.hide(values)
}

// hide adds values of MinSecret bytes or more to the secrets of the block's set.
func (b *Block) hide(values []string) {
	if b.secrets == nil {
		return
	}
	for _, v := range values {
		if len(v) >= MinSecret {
			b.secrets[v] = true
		}
	}
}

// credentialTexts appends to into the texts, fixed when the file loads, under the
// fields of t named as credentials at any depth: CredentialValues of what t renders
// to, for the parts of it that render the same in every run (constants, and templates
// that read only vars).
func (t *Template) credentialTexts(vars map[string]any, into []string) []string {
	if v, ok := t.loadValue(vars); ok {
		return fixedCredentials(v, into)
	}
	switch t.kind {
	case objectKind:
		for i, k := range t.keys {
			if !IsCredentialName(k) {
				into = t.elems[i].credentialTexts(vars, into)
			} else if v, ok := t.elems[i].loadValue(vars); ok {
				into = credentialsUnder(k, v, into)
			}
		}
	case listKind:
		for _, e := range t.elems {
			into = e.credentialTexts(vars, into)
		}
	}
	return into
}

// loadValue is what t renders to in every run, when that is known at load time: a
// constant's value, or what a template that reads only vars gives.
func (t *Template) loadValue(vars map[string]any) (any, bool) {
	if t.kind == constKind {
		return t.value, true
	}
	if vars == nil || !t.readsOnlyVars() {
		return nil, false
	}
	v, err := t.Render(&Env{Vars: vars})
	return v, err == nil
}

// fixedCredentials appends to into the credentials in v, a value fixed when the file
// loads: the texts under the fields named as credentials, at any depth, that
// isCredentialText takes.
func fixedCredentials(v any, into []string) []string {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if IsCredentialName(k) {
				into = credentialsUnder(k, e, into)
			} else {
				into = fixedCredentials(e, into)
			}
		}
	case []any:
		for _, e := range v {
			into = fixedCredentials(e, into)
		}
	}
	return into
}

// credentialsUnder appends to into the texts of v, the value of the field named name
// (a credential's), that isCredentialText takes.
func credentialsUnder(name string, v any, into []string) []string {
	if !holdsCredential(name) {
		return into
	}
	for _, s := range SensitiveValues(v, false, nil) {
		if isCredentialText(name, s) && !slices.Contains(into, s) {
			into = append(into, s)
		}
	}
	return into
}

// holdsCredential reports whether the value of a field of this name, fixed in the file,
// is a credential: its name is a credential's (IsCredentialName) and does not end in
// one of qualifierWords, which say what a credential is or where, not what it holds.
func holdsCredential(name string) bool {
	return IsCredentialName(name) && !qualifierWords[lastWord(name)]
}

// qualifierWords end names of fields that say of a credential what kind it is, how it
// is sent, where it is or when it ends (token_type, token_type_hint, auth_method,
// oauth_signature_method, secret_name, X-Api-Key-Name, X-Auth-Scheme, password_reset,
// token_url, token_expires_at), not what it is. "id" is none of them: a session_id is
// the session's credential.
var qualifierWords = map[string]bool{"type": true, "hint": true, "method": true, "name": true,
	"scheme": true, "mode": true, "version": true, "reset": true, "policy": true, "url": true,
	"uri": true, "endpoint": true, "path": true, "format": true, "alg": true, "algorithm": true,
	"scope": true, "header": true, "field": true, "param": true, "prefix": true, "provider": true,
	"at": true, "expiry": true, "expires": true}

// lastWord is the last word of name in lower case, words as hasSegment reads them
// (token_type_hint: hint; X-Api-Key-Name: name; authMethod: method).
func lastWord(name string) string {
	lower := strings.ToLower(name)
	if len(lower) != len(name) {
		name = lower
	}
	end := len(name)
	for end > 0 && !isAlnum(name[end-1]) {
		end--
	}
	start := end - 1
	for start > 0 && !wordBreak(name, start) {
		start--
	}
	if start < 0 {
		return ""
	}
	return lower[start:end]
}

// isCredentialText reports whether s, a text under a field named name that
// holdsCredential takes, is hidden as a credential: one of MinSecret bytes or more
// and, unless name is a password's (which a person chose, and which may be a word),
// not a word of the kind settings take (wordLike).
func isCredentialText(name, s string) bool {
	if len(s) < MinSecret {
		return false
	}
	return passwordName(name) || !wordLike(s)
}

// passwordName reports whether name is a password's, whose value a person chose and
// may be a word.
func passwordName(name string) bool {
	switch lastWord(name) {
	case "password", "passwd", "passphrase", "pwd", "pin":
		return true
	}
	return false
}

// maxWord and maxCapitalsWord are the longest words wordLike takes, and in capitals.
const maxWord, maxCapitalsWord = 20, 10

// wordLike reports whether s is written as the words of a setting or an identifier
// are, which a generated token or key is not: letters only, with "_", "-" or "."
// between words, and no capital but at a word's start or in a word all in capitals
// (active, include, access_token, client-secret-post, Bearer, Production, HMAC-SHA).
// A token holds digits or capitals inside its words (a random text of letters has
// them), or runs of letters longer than words (a base32 key in capitals may hold no
// digit: JBSWYDPEHPKPXPQR).
func wordLike(s string) bool {
	word := 0  // the letters of the current word read
	upper := 0 // how many of them are capitals
	lowerSeen := false
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '_' || s[i] == '-' || s[i] == '.' {
			// a word's capitals: none, its first only, or all of a short word's
			if word > 0 && upper > 1 && (upper != word || word > maxCapitalsWord) || word > maxWord {
				return false
			}
			word, upper, lowerSeen = 0, 0, false
			continue
		}
		c := s[i]
		switch {
		case isLower(c):
			lowerSeen = true
		case isUpper(c):
			if lowerSeen {
				return false // a capital after a small letter: aBc
			}
			upper++
		default:
			return false
		}
		word++
	}
	return true
}
