package workflows

import (
	"net/http"
	"strings"
)

// credentialWords mark names whose values are credentials: cookies, sessions, API
// keys, tokens, passwords, signatures; and auth, which authWord reads.
var credentialWords = []string{"cookie", "session", "token", "secret", "password", "passwd",
	"signature", "hmac", "apikey", "api-key", "api_key", "access-key", "access_key", "private-key", "private_key",
	"secret-key", "subscription-key", "functions-key", "transmission-sig", "client-key", "client_key"}

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
}

// IsCredentialName reports whether a header or field name says its value is a
// credential (x-api-key, x-hub-signature-256, refresh_token, password). Incoming
// webhooks keep no such header, and the run history never shows such a value.
func IsCredentialName(name string) bool {
	if plainHeaders[name] {
		return false
	}
	name = strings.ToLower(name)
	for _, w := range credentialWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return authWord(name)
}

// authWord reports whether a name in lower case holds "auth" as a credential's names
// do (authorization, x-auth-token, oauth, authentication), not as "author" or
// "authority" do: a commit's author is no credential.
func authWord(name string) bool {
	for rest := name; ; {
		i := strings.Index(rest, "auth")
		if i < 0 {
			return false
		}
		rest = rest[i+4:]
		if !strings.HasPrefix(rest, "or") || strings.HasPrefix(rest, "oriz") || strings.HasPrefix(rest, "oris") {
			return true
		}
	}
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
				into = SensitiveValues(e, into)
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

// KeptHeaders are the headers of a request as an event or a resume keeps them: names
// in lower case, repeated values joined with ", ", and the value of every credential
// header (a signature, an API key) [redacted].
func KeptHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, vs := range h {
		if IsCredentialName(k) {
			out[strings.ToLower(k)] = Redacted
			continue
		}
		out[strings.ToLower(k)] = strings.Join(vs, ", ")
	}
	return out
}
