package engine

import (
	"encoding/base64"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
)

// A resume token shows as [redacted] in place of its signature wherever a resume URL
// was written, with the key (Engine.RedactTokens) and without it (RedactResumeTokens),
// and what is left names the wait but is no token; text that only looks a little like
// one is left as it is where the key tells.
func TestRedactResumeTokens(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	for _, ref := range []waitRef{
		{workflow: "refund_request", run: "01JABCDEFGHJKMNPQRSTVWXYZ0", step: "approval"},
		// A child run of a for_each over a map: its id holds the item's key.
		{workflow: "child", run: "01JABCDEFGHJKMNPQRSTVWXYZ0:kids:alice@example.com", step: "approval"},
		{workflow: "child", run: "01JABCDEFGHJKMNPQRSTVWXYZ0:kids:a b é", step: "approval"},
		// A key with control characters, which JSON lets a sender write.
		{workflow: "child", run: "01JABCDEFGHJKMNPQRSTVWXYZ0:kids:tab\there", step: "approval"},
		{workflow: "child", run: "01JABCDEFGHJKMNPQRSTVWXYZ0:kids:\r\x00\x1b[31m\x7f\u0085", step: "approval"},
	} {
		token := ref.token(key)
		payload, sig, _ := strings.Cut(token, ".")
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
			{"text written after it", link + "_approve " + link + "-x " + link + "0"},
			{"text written before it", "/resume/ZZZZZZZZZZ" + token},
			{"a payload-like part before it", base64.RawURLEncoding.EncodeToString([]byte("hello\nworld\nfoo")) + "." + token},
		} {
			for _, with := range []struct {
				name   string
				redact func([]byte) []byte
			}{{"key", func(b []byte) []byte { return redactTokens(b, key) }}, {"shape", RedactResumeTokens}} {
				out := string(with.redact([]byte(c.in)))
				// By shape, a payload-like part before a token may take some of the
				// token's payload with the signature it is taken for: too much hidden,
				// never too little.
				kept := with.name == "shape" || strings.Contains(out, payload+".[redacted]")
				if strings.Contains(out, sig) || !kept {
					t.Errorf("%s, %s, by %s:\n%s\nredacted as\n%s", ref.run, c.name, with.name, c.in, out)
				}
			}
		}
		// The signature alone, where its payload is written too, with the key.
		in := "url: " + link + "; its signature: " + sig
		if out := string(redactTokens([]byte(in), key)); strings.Contains(out, sig) {
			t.Errorf("the signature alone: %s", out)
		}
		if _, err := parseToken(key, payload+".[redacted]"); err == nil {
			t.Error("the redacted token parses")
		}
		// Text cut inside the signature (a list's column, a recorded body's limit)
		// shows none of it.
		for n := 1; n < len(sig); n++ {
			cut := link[:len(link)-n] + "…"
			want := "https://hooks.example.com/resume/" + payload + ".[redacted]…"
			if out := string(redactTokens([]byte(cut), key)); out != want {
				t.Errorf("cut %d before the end, by key: %q, want %q", n, out, want)
			}
			if out := string(RedactResumeTokens([]byte(cut))); out != want {
				t.Errorf("cut %d before the end, by shape: %q, want %q", n, out, want)
			}
		}
	}
	// With the key, text shaped like a token but not signed with it is left as it is.
	for _, keep := range []string{
		"hooks.example.com/resume/",
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
		base64.RawURLEncoding.EncodeToString([]byte("a\nb\nc")) + "." + strings.Repeat("A", 22),
		"release-2026.12.03-final.tar.gz",
	} {
		if out := string(redactTokens([]byte(keep), key)); out != keep {
			t.Errorf("%q redacted as %q", keep, out)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range 20000 {
		b := make([]byte, 24+i%20)
		for j := range b {
			b[j] = chars[rng.IntN(len(chars))]
		}
		for _, name := range []string{"uploads/" + string(b) + ".png", string(b) + "." + string(b[:22]), string(b) + ".x"} {
			if out := string(redactTokens([]byte(name), key)); out != name {
				t.Fatalf("%q redacted as %q", name, out)
			}
		}
	}
}

// A token has one spelling: the bits its parts' last characters carry past their bytes
// (a signature's 16 bytes leave 4) are zero, and a token with any of them set names no
// wait, though it decodes to the same bytes.
func TestResumeTokenIsCanonical(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for _, c := range []struct {
		ref    waitRef
		spares int // the spare bits of its payload's last character
	}{
		{waitRef{workflow: "refund", run: "01JABCDEFGHJKMNPQRSTVWXYZ0", step: "approval"}, 0},         // 42 bytes
		{waitRef{workflow: "refunds", run: "01JABCDEFGHJKMNPQRSTVWXYZ0", step: "approval"}, 4},        // 43 bytes
		{waitRef{workflow: "refund_request", run: "01JABCDEFGHJKMNPQRSTVWXYZ0", step: "approval"}, 2}, // 50 bytes
	} {
		ref := c.ref
		token := ref.token(key)
		if got, err := parseToken(key, token); err != nil || got != ref {
			t.Fatalf("%s: %+v, %v", token, got, err)
		}
		payload, sig, _ := strings.Cut(token, ".")
		// Every other last character that decodes to the same bytes.
		respell := func(part string) []string {
			var out []string
			want, _ := base64.RawURLEncoding.DecodeString(part)
			for _, ch := range chars {
				other := part[:len(part)-1] + string(ch)
				if other == part {
					continue
				}
				if got, err := base64.RawURLEncoding.DecodeString(other); err == nil && string(got) == string(want) {
					out = append(out, other)
				}
			}
			return out
		}
		others := respell(sig)
		if len(others) != 15 {
			t.Fatalf("%d other spellings of a signature, want 15", len(others))
		}
		for _, other := range others {
			if _, err := parseToken(key, payload+"."+other); err == nil {
				t.Errorf("%s.%s, another spelling of %s, names a wait", payload, other, token)
			}
		}
		if n := len(respell(payload)); n != 1<<c.spares-1 {
			t.Fatalf("%d other spellings of the payload %s, want %d", n, payload, 1<<c.spares-1)
		}
		for _, other := range respell(payload) {
			if _, err := parseToken(key, other+"."+sig); err == nil {
				t.Errorf("%s.%s, another spelling of %s, names a wait", other, sig, token)
			}
		}
		// Decoding skips line breaks: a token with one is another spelling too.
		for _, other := range []string{token[:5] + "\n" + token[5:], payload + ".\r\n" + sig, token + "\n"} {
			if _, err := parseToken(key, other); err == nil {
				t.Errorf("%q, %s with a line break, names a wait", other, token)
			}
		}
	}
}
