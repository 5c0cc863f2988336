package workflows

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/internal/httpjson"
)

// Redacted replaces a secret wherever hookflow records or shows text.
const Redacted = "[redacted]"

// MinSecret is the shortest value secret() takes. Secrets are hidden wherever they
// appear in recorded text, and a shorter one would match ordinary words and numbers.
const MinSecret = 6

// Redactor hides the values read with secret() in text: run history, errors, logs,
// diagnostics and API answers. A secret is found however it got into the text, whole
// or inside a longer value ("Bearer <token>").
type Redactor struct {
	r       *strings.Replacer // nil when there are no secrets; finds their quoted forms too
	secrets []string          // longest first

	encodeOnce sync.Once
	encoded    *Redactor // Encoded's, built once
}

func newRedactor(secrets map[string]bool) *Redactor {
	olds := make([]string, 0, len(secrets))
	for s := range secrets {
		olds = append(olds, s)
	}
	if len(olds) == 0 {
		return &Redactor{}
	}
	return redactorOf(olds)
}

func redactorOf(secrets []string) *Redactor {
	// Longest first, so that a secret containing another is replaced whole.
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	forms := quotings(secrets)
	sort.Slice(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	pairs := make([]string, 0, 2*len(forms))
	for _, s := range forms {
		pairs = append(pairs, s, Redacted)
	}
	return &Redactor{r: strings.NewReplacer(pairs...), secrets: secrets}
}

// quotings are the values and the forms they take once quoted in text, once each: a
// value rendered into a log line or an error inside JSON (a template's object, an
// event's raw body) is escaped as a JSON string is, and one quoted by Go's %q (an
// expression's error quoting its source) as a text log line quotes it. A value none
// of whose characters is escaped has no other form, and costs nothing more to find.
func quotings(values []string) []string {
	var forms []string // nil until a value has other forms: values then stay as given
	for _, s := range values {
		if !escaped(s) {
			continue
		}
		if forms == nil {
			forms = slices.Clone(values)
		}
		quoted, _ := json.Marshal(s)   // as encoding/json writes it, <, > and & too
		sent, _ := httpjson.Marshal(s) // as templates and http steps write it
		goQuoted := strconv.Quote(s)
		own := []string{s}
		for _, f := range []string{string(quoted[1 : len(quoted)-1]), string(sent[1 : len(sent)-1]), goQuoted[1 : len(goQuoted)-1]} {
			if !slices.Contains(own, f) {
				own = append(own, f)
			}
		}
		forms = append(forms, own[1:]...)
	}
	if forms == nil {
		return values
	}
	return forms
}

// escaped reports whether a quoting of s in JSON or by Go writes any of its bytes
// otherwise: a quote, a backslash, a control character, <, > or &, or one that is
// not ASCII.
func escaped(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return true
		}
	}
	return false
}

// Encoded returns a redactor that also finds the secrets as they appear once encoded
// for the wire: percent-encoded in a URL's path or query or a form, escaped in a JSON
// string, or as a URL written with the secret in it is sent. For showing requests as they were sent, and answers that repeat them. It is
// built once per redactor.
func (r *Redactor) Encoded() *Redactor {
	if r == nil || r.r == nil {
		return r
	}
	r.encodeOnce.Do(func() { r.encoded = redactorOf(encodings(r.secrets)) })
	return r.encoded
}

// encodings are the values with each of their encodings for the wire, once each.
func encodings(values []string) []string {
	seen := map[string]bool{}
	var all []string
	for _, s := range values {
		quoted, _ := json.Marshal(s)   // escaped as encoding/json writes it, <, > and & too
		sent, _ := httpjson.Marshal(s) // as http steps send it, <, > and & as they are
		forms := []string{s, url.QueryEscape(s), url.PathEscape(s), string(quoted[1 : len(quoted)-1]), string(sent[1 : len(sent)-1])}
		// Written into a URL as it is, a secret is sent with what a request-target
		// may not hold escaped (EscapeTarget), in the path as in the query.
		forms = append(forms, escapeFrom(s, 0))
		for _, v := range forms {
			if !seen[v] {
				seen[v] = true
				all = append(all, v)
			}
		}
	}
	return all
}

// Unquoted is msg without what it quotes, and the space before each: what a parse
// error of a URL or a query string quotes of its input may be part of a secret, which
// no redactor finds there.
func Unquoted(msg string) string {
	return quotedRE.ReplaceAllString(msg, "")
}

var quotedRE = regexp.MustCompile(` ?"(?:[^"\\]|\\.)*"`)

// Spans reports whether a secret in s begins before its byte i and ends after it:
// whether cutting s at i would cut a secret in two.
func (r *Redactor) Spans(s string, i int) bool {
	if r == nil {
		return false
	}
	for _, secret := range r.secrets {
		if overlaps(s, secret, i, i) {
			return true
		}
	}
	return false
}

// overlaps reports whether secret occurs in s beginning before to and ending after
// from: across s[from:to], or, for from == to, where a cut of s there would cut it.
func overlaps(s, secret string, from, to int) bool {
	for at := 0; secret != ""; {
		j := strings.Index(s[at:], secret)
		if j < 0 {
			return false
		}
		start := at + j
		if start < to && from < start+len(secret) {
			return true
		}
		at = start + 1
	}
	return false
}

// Secret reports whether s holds a secret.
func (r *Redactor) Secret(s string) bool {
	return r != nil && r.r != nil && r.r.Replace(s) != s
}

// WithBasicAuth returns the encoded redactor that also hides the Authorization value
// of basic auth with these credentials, when either holds a secret: the base64 of
// "user:password" hides the secret from a plain search, not from a reader. r itself
// when neither does.
func (r *Redactor) WithBasicAuth(user, password string) *Redactor {
	enc := r.Encoded()
	if !r.Secret(user) && !r.Secret(password) {
		return enc
	}
	token := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	return redactorOf(append(encodings([]string{token}), enc.secrets...))
}

// With returns a redactor that hides what r, an Encoded redactor, hides and values
// too, in each of their encodings: a credential obtained at run time, such as an
// OAuth2 token.
func (r *Redactor) With(values ...string) *Redactor {
	all := encodings(values)
	if r != nil {
		all = append(all, r.secrets...)
	}
	return redactorOf(all)
}

// Plus returns a redactor that hides what r hides and values too: the values of a
// run's sensitive outputs. Its Encoded finds them encoded as well.
func (r *Redactor) Plus(values ...string) *Redactor {
	all := slices.Clone(values)
	if r != nil {
		all = append(all, r.secrets...)
	}
	if len(all) == 0 {
		return &Redactor{}
	}
	return redactorOf(all)
}

// PlusCredentials returns a redactor that hides what r hides and the values of
// event's credential fields (EventCredentialValues): for text written about an event
// before its run's steps, such as the error of a filter evaluated on it. r itself when
// the event has none. event is the event's value (Event.Value).
func (r *Redactor) PlusCredentials(event map[string]any) *Redactor {
	values := EventCredentialValues(event, nil)
	if len(values) == 0 {
		return r
	}
	return r.Plus(values...)
}

// SensitiveShown is what is shown of the output of a step with sensitive = true.
const SensitiveShown = "[sensitive]"

// SensitiveValues appends to into the values of a sensitive step's output that are
// hidden like secrets wherever they appear again: its strings of MinSecret bytes or
// more, but for its outcome and an http step's headers (a content type is no secret,
// nor is "succeeded"). With forEach, v is the output of a for_each step, the list or
// map of its items' outputs, and each item is read as a step's output. Each is added
// once.
func SensitiveValues(v any, forEach bool, into []string) []string {
	var walk func(v any, top bool)
	walk = func(v any, top bool) {
		switch v := v.(type) {
		case string:
			if len(v) >= MinSecret && !slices.Contains(into, v) {
				into = append(into, v)
			}
		case map[string]any:
			for k, e := range v {
				if top && (k == "headers" || k == "outcome") {
					continue
				}
				walk(e, false)
			}
		case []any:
			for _, e := range v {
				walk(e, false)
			}
		}
	}
	if !forEach {
		walk(v, true)
		return into
	}
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			walk(e, true)
		}
	case []any:
		for _, e := range v {
			walk(e, true)
		}
	}
	return into
}

// String returns s with every secret replaced by [redacted].
func (r *Redactor) String(s string) string {
	if r == nil || r.r == nil {
		return s
	}
	return r.r.Replace(s)
}

// Value returns a copy of v, a decoded JSON-like value, with every secret in its
// strings and object keys replaced. Numbers and bools are left alone: a secret is text.
func (r *Redactor) Value(v any) any {
	if r == nil || r.r == nil {
		return v
	}
	switch v := v.(type) {
	case string:
		return r.r.Replace(v)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[r.r.Replace(k)] = r.Value(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = r.Value(e)
		}
		return out
	}
	return v
}

// Hide returns a copy of v, a decoded JSON-like value, with every string that holds
// a secret replaced whole by shown, and reports whether it replaced any. Object keys
// are redacted as Value redacts them. A copy of a sensitive value kept after its run
// is shown as the value itself is: [sensitive], not [redacted].
func (r *Redactor) Hide(v any, shown string) (any, bool) {
	if r == nil || r.r == nil {
		return v, false
	}
	switch v := v.(type) {
	case string:
		if r.Secret(v) {
			return shown, true
		}
		return v, false
	case map[string]any:
		out, hid := make(map[string]any, len(v)), false
		for k, e := range v {
			h, did := r.Hide(e, shown)
			key := r.r.Replace(k)
			out[key], hid = h, hid || did || key != k
		}
		return out, hid
	case []any:
		out, hid := make([]any, len(v)), false
		for i, e := range v {
			var did bool
			out[i], did = r.Hide(e, shown)
			hid = hid || did
		}
		return out, hid
	}
	return v, false
}

// Diagnostics hides secrets in diagnostics' messages: a secret given where a
// duration was expected must not be printed back.
func (r *Redactor) Diagnostics(diags hcl.Diagnostics) {
	if r == nil || r.r == nil {
		return
	}
	for _, d := range diags {
		d.Summary, d.Detail = r.r.Replace(d.Summary), r.r.Replace(d.Detail)
	}
}
