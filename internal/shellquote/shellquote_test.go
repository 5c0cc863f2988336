package shellquote_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/shellquote"
)

var cases = []struct{ name, in, want string }{
	{"plain", "hello world", `'hello world'`},
	{"empty", "", `''`},
	{"quote", "it's", `'it'\''s'`},
	{"newline", "a\nb", `$'a\x0ab'`},
	{"tab", "a\tb", `$'a\x09b'`},
	{"bracketed paste end", "x\x1b[201~\x15touch /tmp/PWNED\r", `$'x\x1b[201~\x15touch /tmp/PWNED\x0d'`},
	{"quote and backslash beside a control", "it's \\ \x7f", `$'it\x27s \x5c \x7f'`},
	{"hex digit after an escape", "\x01" + "1f", `$'\x011f'`},
	{"C1 control", "a\u009bb", `$'a\xc2\x9bb'`},
	{"not UTF-8", "a\x9bb\xff", `$'a\x9bb\xff'`},
	{"bidi override", "ab\u202ecd", `$'ab\xe2\x80\xaecd'`},
	{"isolate", "\u2066x\u2069", `$'\xe2\x81\xa6x\xe2\x81\xa9'`},
	{"line separator", "a\u2028b\u2029", `$'a\xe2\x80\xa8b\xe2\x80\xa9'`},
	{"other Unicode kept", "café ☕ 日本", `'café ☕ 日本'`},
	{"JSON", `{"a":"b's"}`, `'{"a":"b'\''s"}'`},
}

func TestQuote(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := shellquote.Quote(c.in)
			if got != c.want {
				t.Errorf("Quote(%q) = %s, want %s", c.in, got, c.want)
			}
			if bad := firstUnsafe(got); bad >= 0 {
				t.Errorf("Quote(%q) = %q holds an unsafe character at %d", c.in, got, bad)
			}
		})
	}
}

func TestWord(t *testing.T) {
	for in, want := range map[string]string{
		"POST":                    "POST",
		"https://a.example/x@y":   "https://a.example/x@y",
		"":                        "''",
		"a b":                     "'a b'",
		"a$b":                     "'a$b'",
		"x\x1b":                   `$'x\x1b'`,
		"1700000000000-01J\u202e": `$'1700000000000-01J\xe2\x80\xae'`,
	} {
		if got := shellquote.Word(in); got != want {
			t.Errorf("Word(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestQuoteRoundTrip has bash read each quoted argument back: it must give the bytes
// that were quoted, whatever they are.
func TestQuoteRoundTrip(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("bash is not installed; CI runs this test with it")
		}
		t.Skip("no bash")
	}
	var inputs []string
	for _, c := range cases {
		inputs = append(inputs, c.in)
	}
	var all strings.Builder
	for b := 1; b < 256; b++ { // NUL cannot be in an argument
		all.WriteByte(byte(b))
	}
	inputs = append(inputs, all.String(), "'\\'\"$`!*?~#;&|<>(){}[] $HOME $(id) `id` \\x41 \\'")
	for _, in := range inputs {
		for _, lc := range []string{"C", "C.UTF-8"} {
			cmd := exec.Command(bash, "--norc", "--noprofile", "-c", `printf %s `+shellquote.Quote(in))
			cmd.Env = []string{"LC_ALL=" + lc, "PATH=/usr/bin:/bin"}
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("bash -c printf %%s %s (LC_ALL=%s): %v", shellquote.Quote(in), lc, err)
			}
			if string(out) != in {
				t.Errorf("LC_ALL=%s: bash read %s as %q, want %q", lc, shellquote.Quote(in), out, in)
			}
		}
	}
}

// firstUnsafe is the index of the first byte of s that is a control character, DEL or
// not UTF-8, or of the first rune Unsafe reports; -1 when there is none.
func firstUnsafe(s string) int {
	for i, r := range s {
		if r == 0xfffd || shellquote.Unsafe(r) {
			return i
		}
	}
	return -1
}
