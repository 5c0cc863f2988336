// Package shellquote writes a string as one argument of a shell command line that is
// safe to paste into a terminal.
//
// Single quotes keep a shell from reading anything in them, but not a terminal or a
// line editor: an ESC in a pasted line can end the terminal's bracketed paste
// (ESC [ 2 0 1 ~), after which a Ctrl-U erases the line typed so far and a CR runs
// whatever follows; a TAB starts completion, and bidirectional controls make the text
// shown differ from the text run. So an argument holding any such character is
// written in bash's ANSI-C quoting, $'…', with that character as \xHH escapes of its
// UTF-8 bytes, and nothing but printable text is left in the line.
package shellquote

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Quote is s as one shell argument: in single quotes (a quote in s closes them, is
// written as \' and opens them again), or, when s holds a character that is not safe
// to paste (see Unsafe), in $'…' with every such character and every byte that is not
// UTF-8 written as \xHH. The result holds no control character; the shell reads it
// back as exactly the bytes of s.
//
// $'…' is bash's and zsh's quoting; \xHH is used rather than \uHHHH because a shell
// reads \u according to its locale, \xHH as bytes.
func Quote(s string) string {
	if !needsEscapes(s) {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString("$'")
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1, Unsafe(r):
			for _, c := range []byte(s[i : i+size]) {
				writeHex(&b, c)
			}
		case r == '\'', r == '\\':
			// \x27 rather than \': a reader of the line that knows only plain single
			// quotes (bash's history expansion, an editor) still sees one quoted word.
			writeHex(&b, byte(r))
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('\'')
	return b.String()
}

// Unsafe reports whether r is not to be written as it is in a line meant to be pasted
// into a terminal: a C0 control (TAB, LF and CR too), DEL, a C1 control, a line or
// paragraph separator, or a bidirectional formatting character (Unicode's
// Bidi_Control).
func Unsafe(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r == 0x2028, r == 0x2029: // line and paragraph separators
		return true
	}
	return unicode.Is(unicode.Bidi_Control, r)
}

func needsEscapes(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size <= 1) || Unsafe(r) {
			return true
		}
		i += size
	}
	return false
}

func writeHex(b *strings.Builder, c byte) {
	const hex = "0123456789abcdef"
	b.WriteString(`\x`)
	b.WriteByte(hex[c>>4])
	b.WriteByte(hex[c&0xf])
}

// Word is s as it is when it is a plain word (letters, digits and -_.:/@ only), which
// a shell reads as it is; else Quote(s).
func Word(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@") == "" {
		return s
	}
	return Quote(s)
}
