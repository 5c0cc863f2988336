package admin

import (
	"fmt"
	"io"
	"unicode/utf8"
)

// A run's values are anyone's text: a webhook's path or body, an answer, an error. A
// bidirectional formatting character in one (U+202E RIGHT-TO-LEFT OVERRIDE) shows
// nothing itself and reverses the text after it to the end of its line, so that
// "abc\u202egnp.exe" reads "abcexe.png". The pages show each such character as its
// escape, \u202e, as their JSON shows the control characters it escapes (\u001b), in
// a style of its own with its name as a title, so that a reader sees it is there and
// the text after it stays in the order it was written. Inside a tag (an attribute,
// such as a button's confirmation text) and in the page's title, which take no
// markup, it is the escape alone.
//
// It is done on the page as rendered, so that no value shown, now or later, is left
// out: html/template writes every '<' and '>' of a value as &lt; and &gt;, in text and
// in attributes alike, so a '<' of the page is the template's own, and starts a tag.

// bidiNames are the bidirectional formatting characters: Unicode's Bidi_Control.
var bidiNames = map[rune]string{
	'\u061c': "ARABIC LETTER MARK",
	'\u200e': "LEFT-TO-RIGHT MARK",
	'\u200f': "RIGHT-TO-LEFT MARK",
	'\u202a': "LEFT-TO-RIGHT EMBEDDING",
	'\u202b': "RIGHT-TO-LEFT EMBEDDING",
	'\u202c': "POP DIRECTIONAL FORMATTING",
	'\u202d': "LEFT-TO-RIGHT OVERRIDE",
	'\u202e': "RIGHT-TO-LEFT OVERRIDE",
	'\u2066': "LEFT-TO-RIGHT ISOLATE",
	'\u2067': "RIGHT-TO-LEFT ISOLATE",
	'\u2068': "FIRST STRONG ISOLATE",
	'\u2069': "POP DIRECTIONAL ISOLATE",
}

// bidiWriter writes a page, each bidirectional formatting character shown as its
// escape (see above). A character cut between two writes is held until the next, and
// Close writes what is held.
type bidiWriter struct {
	w       io.Writer
	held    []byte // the start of a character the last write cut
	inTag   bool   // after a '<' of the page, before its '>'
	inTitle bool   // in the <title> element, whose text takes no markup
	tag     []byte // the start of the tag being read, to tell <title> and </title>
	err     error
}

func newBidiWriter(w io.Writer) *bidiWriter { return &bidiWriter{w: w} }

func (b *bidiWriter) Write(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n := len(p)
	if len(b.held) > 0 {
		p = append(b.held, p...)
		b.held = nil
	}
	from := 0 // p[from:i] is yet to be written as it is
	for i := 0; i < len(p); {
		c := p[i]
		if c < utf8.RuneSelf {
			b.track(c)
			i++
			continue
		}
		if c != 0xd8 && c != 0xe2 { // the first byte of none of bidiNames
			i++
			continue
		}
		if !utf8.FullRune(p[i:]) {
			b.write(p[from:i])
			b.held = append([]byte(nil), p[i:]...)
			return n, b.err
		}
		r, size := utf8.DecodeRune(p[i:])
		name, ok := bidiNames[r]
		if !ok {
			i += size
			continue
		}
		b.write(p[from:i])
		if b.inTag || b.inTitle {
			b.write(fmt.Appendf(nil, `\u%04x`, r))
		} else {
			b.write(fmt.Appendf(nil, `<span class="bidi" title="U+%04X %s">\u%04x</span>`, r, name, r))
		}
		i += size
		from = i
	}
	b.write(p[from:])
	return n, b.err
}

// Close writes a character's start held back, as it is: the page ended within it.
func (b *bidiWriter) Close() error {
	b.write(b.held)
	b.held = nil
	return b.err
}

func (b *bidiWriter) write(p []byte) {
	if b.err == nil && len(p) > 0 {
		_, b.err = b.w.Write(p)
	}
}

// track follows the page's tags, one ASCII byte at a time.
func (b *bidiWriter) track(c byte) {
	switch {
	case c == '<' && !b.inTag:
		b.inTag, b.tag = true, b.tag[:0]
	case c == '>' && b.inTag:
		b.inTag = false
		switch string(b.tag) {
		case "title":
			b.inTitle = true
		case "/title":
			b.inTitle = false
		}
	case b.inTag && len(b.tag) < len("/title "):
		b.tag = append(b.tag, c)
	}
}
