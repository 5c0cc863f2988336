package main

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/hookflow/hookflow/internal/shellquote"
)

// termSafe wraps a writer that a terminal shows: what the commands print of a run
// (events, request and response bodies, errors, map keys) comes from webhook senders
// and the APIs called, and an escape sequence in it could set the terminal's title,
// clear the screen or forge a line of output, as a bidirectional control could turn
// text around. Every such character but LF and TAB is written as an escape instead:
// ESC as \u001b, U+202E as \u202e, which inside a JSON string (--json) reads back as
// the character. Each Write is escaped on its own: the commands write whole strings,
// never part of a character.
func termSafe(w io.Writer) io.Writer {
	if _, ok := w.(termSafeWriter); ok {
		return w
	}
	return termSafeWriter{w}
}

type termSafeWriter struct{ w io.Writer }

func (t termSafeWriter) Write(p []byte) (int, error) {
	if !needsTermEscapes(p) {
		return t.w.Write(p)
	}
	if _, err := io.WriteString(t.w, termEscape(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// termUnsafe reports whether termSafe escapes r.
func termUnsafe(r rune) bool {
	return r != '\n' && r != '\t' && shellquote.Unsafe(r)
}

func needsTermEscapes(p []byte) bool {
	for i := 0; i < len(p); {
		if c := p[i]; c < utf8.RuneSelf {
			if termUnsafe(rune(c)) {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(p[i:])
		if termUnsafe(r) {
			return true
		}
		i += size
	}
	return false
}

// termEscape is s with the characters termSafe escapes written as escapes; the other
// bytes, invalid UTF-8 too, are kept as they are.
func termEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case !termUnsafe(r):
			b.WriteString(s[i : i+size])
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += size
	}
	return b.String()
}
