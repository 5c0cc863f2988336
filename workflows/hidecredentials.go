package workflows

import (
	"net/url"
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
		if key, err := url.QueryUnescape(k); err != nil || !IsCredentialName(key) {
			continue
		}
		values = append(values, raw)
		if decoded, err := url.QueryUnescape(raw); err == nil {
			values = append(values, decoded)
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
		return CredentialValues(v, into)
	}
	switch t.kind {
	case objectKind:
		for i, k := range t.keys {
			if !IsCredentialName(k) {
				into = t.elems[i].credentialTexts(vars, into)
			} else if v, ok := t.elems[i].loadValue(vars); ok {
				into = SensitiveValues(v, false, into)
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
