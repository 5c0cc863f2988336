package engine

import (
	"encoding/base64"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
)

// A resume token shows as [redacted] in place of its signature wherever a resume URL
// was written, and what is left names the wait but is no token; text that only looks
// a little like one is left as it is.
func TestRedactResumeTokens(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	token := waitRef{workflow: "refund_request", run: "01JABCDEFGHJKMNPQRSTVWXYZ0", step: "approval"}.token(key)
	payload, _, _ := strings.Cut(token, ".")
	link := "https://hooks.example.com/resume/" + token
	for _, c := range []struct {
		name, in string
	}{
		{"a URL", link},
		{"a Slack link", `{"text":"<` + link + `?decision=approve|Approve> or <` + link + `?decision=decline|Decline>"}`},
		{"a query, percent-encoded", "https://x.example/cb?next=" + url.QueryEscape(link)},
		{"a query, encoded twice", "https://x.example/cb?next=" + url.QueryEscape(url.QueryEscape(link))},
		{"a token alone", token},
		{"a token after a dot", "see." + token + "."},
		{"in HTML", `<pre class="mono">` + link + `</pre>`},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := string(RedactResumeTokens([]byte(c.in)))
			if strings.Contains(out, token) || !strings.Contains(out, payload+".[redacted]") {
				t.Fatalf("%s\nredacted as\n%s", c.in, out)
			}
			if _, err := parseToken(key, payload+".[redacted]"); err == nil {
				t.Error("the redacted token parses")
			}
		})
	}
	// Text cut inside the signature (a list's column, a recorded body's limit) shows
	// none of it.
	for n := 1; n < len(token)-len(payload)-1; n++ {
		cut := link[:len(link)-n] + "…"
		out := string(RedactResumeTokens([]byte(cut)))
		if want := "https://hooks.example.com/resume/" + payload + ".[redacted]…"; out != want {
			t.Errorf("cut %d before the end: %q, want %q", n, out, want)
		}
	}
	// Something shaped as a payload before the token does not take its place.
	lead := base64.RawURLEncoding.EncodeToString([]byte("hello\nworld\nfoo")) + "."
	if out := string(RedactResumeTokens([]byte(lead + token))); out != lead+payload+".[redacted]" {
		t.Errorf("a payload-like part before a token: %q", out)
	}
	for _, keep := range []string{
		"hooks.example.com/resume/",
		// A JWT: its parts are not a payload of names.
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
		// A signature's length after a payload that is not three lines.
		"aGVsbG8gd29ybGQ." + strings.Repeat("A", 22),
		// Three lines, but not names.
		base64.RawURLEncoding.EncodeToString([]byte("a b\nc d\ne f")) + "." + strings.Repeat("A", 22),
		"release-2026.12.03-final.tar.gz",
	} {
		if out := string(RedactResumeTokens([]byte(keep))); out != keep {
			t.Errorf("%q redacted as %q", keep, out)
		}
	}
	// Names of files and ids of the length of a token's parts are left alone.
	rng := rand.New(rand.NewPCG(1, 2))
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range 20000 {
		b := make([]byte, 24+i%20)
		for j := range b {
			b[j] = chars[rng.IntN(len(chars))]
		}
		for _, name := range []string{"uploads/" + string(b) + ".png", string(b) + "." + string(b[:22]), string(b) + ".x"} {
			if out := string(RedactResumeTokens([]byte(name))); out != name {
				t.Fatalf("%q redacted as %q", name, out)
			}
		}
	}
}
