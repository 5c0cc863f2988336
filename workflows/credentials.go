package workflows

import (
	"net/http"
	"strings"
)

// A name speaks of a credential when it holds one of credentialWords, one of
// credentialPhrases written in any way (privateKey, private-key, PRIVATE_KEY), "auth"
// where authWord takes it, or one of the words credentialSegment takes as a word of
// its own.

// credentialWords mark names whose values are credentials wherever the word is in the
// name, in any case: cookies, sessions, tokens, passwords, signatures.
var credentialWords = []string{"cookie", "session", "token", "secret", "password", "passwd",
	"passphrase", "credential", "signature", "hmac"}

// credentialPhrases are words that make a credential's name together, found with the
// separators between them left out and in any case: api_key, apiKey, X-Api-Key and
// apikey alike. "key" alone is none: a sort key, an object's key in a bucket, an
// idempotency key and a map's key are no credentials.
var credentialPhrases = []string{"apikey", "accesskey", "privatekey", "signingkey", "clientkey",
	"subscriptionkey", "functionskey", "transmissionsig", "cardnumber"}

// wordsAt are credentialWords, credentialPhrases and "auth" by their first letter:
// IsCredentialName reads a name once, looking at each letter for the words it starts.
var wordsAt [256][]nameWord

// nameWord is a word IsCredentialName looks for.
type nameWord struct {
	word   string
	phrase bool // found with separators left out
	auth   bool // "auth", as authWord reads it
}

func init() {
	for _, w := range credentialWords {
		wordsAt[w[0]] = append(wordsAt[w[0]], nameWord{word: w})
	}
	for _, w := range credentialPhrases {
		wordsAt[w[0]] = append(wordsAt[w[0]], nameWord{word: w, phrase: true})
	}
	wordsAt['a'] = append(wordsAt['a'], nameWord{word: "auth", auth: true})
}

// credentialSegment reports whether a word of a name, in lower case, is a credential's
// name: words too short to be searched for inside others (otp is in footprint, ssn in
// classname, pin in shipping and opinion), so found only as words of their own. pin
// counts as the last word of a name (pin, card_pin, X-Pin), or before "code" or
// "number": before other words it names what is pinned (pin_count, pin_to_top).
func credentialSegment(word, next string, last bool) bool {
	switch word {
	case "pwd", "jwt", "otp", "totp", "hotp", "cvv", "ssn", "bearer":
		return true
	case "pin":
		return last || next == "code" || next == "number"
	}
	return false
}

// plainHeaders are the usual headers of a webhook, a request hookflow sends and an API's
// answer, named as net/http names them, that are no credential's: IsCredentialName
// finds them here, without lower-casing them and looking for each word.
var plainHeaders = map[string]bool{}

func init() {
	for _, name := range []string{"Accept", "Accept-Encoding", "Accept-Language", "Accept-Ranges",
		"Access-Control-Allow-Origin", "Age", "Cache-Control", "Connection", "Content-Encoding",
		"Content-Language", "Content-Length", "Content-Type", "Date", "Etag", "Expires",
		"Idempotency-Key", "Keep-Alive", "Last-Modified", "Link", "Location", "Origin", "Pragma",
		"Referer", "Retry-After", "Server", "Strict-Transport-Security", "Traceparent",
		"Transfer-Encoding", "User-Agent", "Vary", "Via", "X-Content-Type-Options",
		"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Github-Delivery",
		"X-Github-Event", "X-Github-Hook-Id", "X-Powered-By", "X-Ratelimit-Limit",
		"X-Ratelimit-Remaining", "X-Ratelimit-Reset", "X-Real-Ip", "X-Request-Id"} {
		plainHeaders[name] = true
	}
	for name := range challengeHeaders {
		plainHeaders[http.CanonicalHeaderKey(name)] = true
	}
}

// challengeHeaders are the headers, in lower case, in which a server says how to
// authenticate and why it refused (WWW-Authenticate: Bearer error="insufficient_scope",
// scope="admin:write"): no credential's, though "auth" starts a word of their names, and
// the only place an RFC 6750 API says why it answered 401.
var challengeHeaders = map[string]bool{"www-authenticate": true, "proxy-authenticate": true}

// IsCredentialName reports whether a header or field name says its value is a
// credential (x-api-key, x-hub-signature-256, refresh_token, password, privateKey,
// X-Otp). Incoming webhooks keep no such header, and the run history never shows such
// a value. A server's challenge (WWW-Authenticate, Proxy-Authenticate) is none.
func IsCredentialName(name string) bool {
	if plainHeaders[name] {
		return false
	}
	lower := strings.ToLower(name)
	if challengeHeaders[lower] {
		return false
	}
	for i := 0; i < len(lower); i++ {
		for _, w := range wordsAt[lower[i]] {
			if w.startsOf(lower[i:]) {
				return true
			}
		}
	}
	return hasSegment(name, lower)
}

// startsOf reports whether s, in lower case, starts with the word.
func (w nameWord) startsOf(s string) bool {
	switch {
	case w.phrase:
		return hasWordsPrefix(s, w.word)
	case w.auth:
		return strings.HasPrefix(s, w.word) && authWord(s)
	}
	return strings.HasPrefix(s, w.word)
}

// hasWordsPrefix reports whether s starts with w, skipping the characters of s that
// are neither letters nor digits after w's first.
func hasWordsPrefix(s, w string) bool {
	j := 0
	for k := 0; k < len(w); {
		switch {
		case j == len(s):
			return false
		case s[j] == w[k]:
			j, k = j+1, k+1
		case k > 0 && !isAlnum(s[j]):
			j++
		default:
			return false
		}
	}
	return true
}

// hasSegment reports whether one of the words of name is credentialSegment's. A word
// is a run of letters or of digits, and a capital starts one (privateKey,
// X-Card-PIN, SSNLast4: SSN, Last, 4); lower is name in lower case.
func hasSegment(name, lower string) bool {
	if len(lower) != len(name) {
		name = lower // a character changed length in lower case: no capitals to go by
	}
	var words [2]string // the word being read, and the one before it
	count := 0
	start := -1
	for i := 0; i <= len(name); i++ {
		if start >= 0 && (i == len(name) || wordBreak(name, i)) {
			words[0], words[1] = lower[start:i], words[0]
			count++
			if count > 1 && credentialSegment(words[1], words[0], false) {
				return true
			}
			start = -1
		}
		if i < len(name) && start < 0 && isAlnum(name[i]) {
			start = i
		}
	}
	return count > 0 && credentialSegment(words[0], "", true)
}

// wordBreak reports whether a word of name ends before its byte i (i > 0, i <
// len(name)): at a character that is neither a letter nor a digit, between letters
// and digits, before a capital after a small letter (privateKey), and before the
// last capital of a run of them followed by a small letter (JWTToken: JWT, Token).
func wordBreak(name string, i int) bool {
	c, prev := name[i], name[i-1]
	switch {
	case !isAlnum(c) || !isAlnum(prev):
		return true
	case isDigit(c) != isDigit(prev):
		return true
	case isUpper(c) && isLower(prev):
		return true
	case isUpper(c) && isUpper(prev) && i+1 < len(name) && isLower(name[i+1]):
		return true
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isAlnum(c byte) bool { return isDigit(c) || isUpper(c) || isLower(c) }

// authWord reports whether "auth", which s in lower case starts with, is a
// credential's word there (authorization, x-auth-token, oauth, authentication), not
// as "author" or "authority" hold it: a commit's author is no credential.
func authWord(s string) bool {
	rest := s[len("auth"):]
	return !strings.HasPrefix(rest, "or") || strings.HasPrefix(rest, "oriz") || strings.HasPrefix(rest, "oris")
}

// RedactCredentialFields returns a copy of v in which the value of every object field
// whose name is a credential's (see IsCredentialName), at any depth, is [redacted]. v
// is not changed.
func RedactCredentialFields(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			if IsCredentialName(k) {
				out[k] = Redacted
			} else {
				out[k] = RedactCredentialFields(e)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = RedactCredentialFields(e)
		}
		return out
	}
	return v
}

// CredentialValues appends to into the values that RedactCredentialFields hides in v:
// the strings of MinSecret bytes or more under a field named as a credential's, at any
// depth. A run hides them like secrets wherever a step writes them again, as the
// history shows the fields themselves [redacted]. Each is added once.
func CredentialValues(v any, into []string) []string {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if IsCredentialName(k) {
				into = SensitiveValues(e, false, into)
			} else {
				into = CredentialValues(e, into)
			}
		}
	case []any:
		for _, e := range v {
			into = CredentialValues(e, into)
		}
	}
	return into
}

// EventCredentialValues appends to into the values that an event hides like secrets
// wherever they are written again, as the history shows them [redacted] in the
// event: CredentialValues of its body and of its query (?token=…&api_key=…). event
// is the event's value (Event.Value).
func EventCredentialValues(event map[string]any, into []string) []string {
	into = CredentialValues(event["body"], into)
	return CredentialValues(event["query"], into)
}

// KeptHeaders are the headers of a request as an event or a resume keeps them: names
// in lower case, repeated values joined with ", ", and the value of every credential
// header (a signature, an API key) [redacted].
func KeptHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, vs := range h {
		out[strings.ToLower(k)] = KeptHeader(k, strings.Join(vs, ", "))
	}
	return out
}

// KeptHeader is a header's value as an event keeps it: [redacted] for a credential
// header's. hookflow run and hookflow test give their events' headers through it, so
// that templates read what they read under serve.
func KeptHeader(name, value string) string {
	if IsCredentialName(name) {
		return Redacted
	}
	return value
}
