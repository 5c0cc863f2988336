package engine

import (
	"bytes"
	"context"
	"encoding/base64"
	"regexp"
	"strings"
	"unicode/utf8"
)

// A resume URL is a capability: whoever has it resumes its run. A step that sent one
// keeps it in its recorded request, and a log, an output or an error may hold one too,
// so what is shown to those who must not resume runs has its tokens' signatures
// redacted. A token is PAYLOAD.SIGNATURE: the workflow, the run and the step, each on
// its line, in base64url, then the HMAC of that, in base64url.

// redactedMAC takes the place of a resume token's signature in what is redacted.
const redactedMAC = "[redacted]"

// macChars is the length of a token's signature in base64url.
var macChars = base64.RawURLEncoding.EncodedLen(macLen)

// payloadRun matches a run of base64url characters with a dot after it: where a
// token's payload may end.
var payloadRun = regexp.MustCompile(`[A-Za-z0-9_-]{4,}\.`)

// maxTokenLead is how many characters of a run may stand before a token's payload: a
// "/" percent-encoded ("2F"), or encoded twice ("252F"), or text written against it.
const maxTokenLead = 64

// RedactResumeTokens redacts resume tokens in data by their shape alone, for a caller
// without the key: the characters of a signature after each payload, whatever they
// are (Engine.RedactTokens also finds each signature wherever else it is written).
func RedactResumeTokens(data []byte) []byte { return redactTokens(data, nil) }

// RedactTokens replaces the signature of every resume token in data by [redacted]:
// what is left still names the run and the step, but resumes nothing. A token is found
// wherever a resume URL was written, in a JSON string, an HTML page, a form or a URL's
// query, percent-encoded once or twice, with text written against it, or cut short
// where the text was cut (a list's column, a recorded body's limit): each payload is
// found by its shape, and its signature computed with the key, then replaced wherever
// it is, after its payload or alone. Without the key (Redis cannot be read), what
// follows each payload is redacted, up to a signature's length.
func (e *Engine) RedactTokens(ctx context.Context, data []byte) []byte {
	key, err := e.resumeKey(ctx)
	if err != nil {
		key = nil
	}
	return redactTokens(data, key)
}

// redactTokens is RedactTokens with key, or with none (nil).
func redactTokens(data, key []byte) []byte {
	type span struct{ from, to int }
	var cut []span
	var macs [][]byte
	for _, m := range payloadRun.FindAllIndex(data, -1) {
		run := data[m[0] : m[1]-1]
		payload, ok := tokenPayload(run)
		if !ok {
			continue
		}
		sig := m[1] // the signature starts after the dot
		n := 0
		for n < macChars && sig+n < len(data) && isBase64URL(data[sig+n]) {
			n++
		}
		if key != nil {
			mac := []byte(base64.RawURLEncoding.EncodeToString(sign(key, payload)))
			macs = append(macs, mac)
			n = commonPrefix(data[sig:sig+n], mac) // a signature, or the start of one where the text was cut
		}
		if n > 0 {
			cut = append(cut, span{sig, sig + n})
		}
	}
	if len(cut) == 0 && len(macs) == 0 {
		return data
	}
	var out bytes.Buffer
	at := 0
	for _, c := range cut {
		if c.from < at {
			continue
		}
		out.Write(data[at:c.from])
		out.WriteString(redactedMAC)
		at = c.to
	}
	out.Write(data[at:])
	redacted := out.Bytes()
	for _, mac := range macs { // a signature written apart from its payload
		redacted = bytes.ReplaceAll(redacted, mac, []byte(redactedMAC))
	}
	return redacted
}

// tokenPayload reads a run of base64url characters that ends with a token's payload:
// the workflow, the run and the step, each on its line, none empty. A line may hold
// any other character, control characters too: a child run's id holds its for_each
// key, which the sender of a webhook chooses, and its token works all the same. The
// payload may start up to maxTokenLead characters into the run.
func tokenPayload(run []byte) (string, bool) {
	for lead := 0; lead <= maxTokenLead && len(run)-lead >= 4; lead++ {
		decoded, err := base64.RawURLEncoding.DecodeString(string(run[lead:]))
		if err != nil || !utf8.Valid(decoded) {
			continue
		}
		lines := strings.Split(string(decoded), "\n")
		if len(lines) == 3 && named(lines[0]) && named(lines[1]) && named(lines[2]) {
			return string(decoded), true
		}
	}
	return "", false
}

// named reports whether s can be a line of a token's payload: not empty.
func named(s string) bool {
	return s != ""
}

func isBase64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// commonPrefix is how many bytes a and b start with alike.
func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
