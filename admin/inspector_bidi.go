package admin

import (
	"fmt"
	"io"
	"slices"
	"unicode"
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
// markup, it is the escape alone. A form's value attribute (the search's <input
// value>) and the text of a <script>, <style> or <textarea> keep it as it is: a
// value is sent back as the page holds it, and code is no text shown.
//
// It is done on the page as rendered, so that no value shown, now or later, is left
// out: html/template writes every '<' and '>' of a value as &lt; and &gt;, in text and
// in attributes alike, so a '<' of the page is the template's own, and starts a tag.

// bidiNames name the bidirectional formatting characters, Unicode's Bidi_Control,
// which the title of each one shown says (a test checks they are the same set).
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

// tagState is where in a tag of the page the writer is.
type tagState int

const (
	inText      tagState = iota // not in a tag
	inTagName                   // after the '<'
	inAttrs                     // between attributes
	inAttrName                  // in an attribute's name
	afterName                   // after an attribute's name, before '=' if any
	beforeValue                 // after the '='
	inValue                     // in an attribute's value, quoted or not
)

// rawElements hold text that is no markup, and is not shown as the page's text: a
// <script>'s and a <style>'s code, and a <textarea>'s value, sent as it is with its
// form. What they hold is written as it is.
var rawElements = []string{"script", "style", "textarea"}

// bidiWriter writes a page, each bidirectional formatting character shown as its
// escape (see above). A character cut between two writes is held until the next, and
// Close writes what is held.
type bidiWriter struct {
	w       io.Writer
	held    []byte // the start of a character the last write cut
	state   tagState
	quote   byte   // in a quoted value: its quote
	tag     []byte // the name of the tag being read, in lower case, its start
	attr    []byte // the name of the attribute being read, in lower case, its start
	inTitle bool   // in the <title> element, whose text takes no markup
	raw     string // in one of rawElements: its name
	end     []byte // in one of rawElements: the last bytes read, to find its end tag
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
		if c != 0xd8 && c != 0xe2 { // the first byte of no Bidi_Control character
			i++
			continue
		}
		if !utf8.FullRune(p[i:]) {
			b.write(p[from:i])
			b.held = append([]byte(nil), p[i:]...)
			return n, b.err
		}
		r, size := utf8.DecodeRune(p[i:])
		if !unicode.Is(unicode.Bidi_Control, r) || b.keeps() {
			i += size
			continue
		}
		b.write(p[from:i])
		if b.state != inText || b.inTitle {
			b.write(fmt.Appendf(nil, `\u%04x`, r))
		} else {
			b.write(fmt.Appendf(nil, `<span class="bidi" title="U+%04X %s">\u%04x</span>`, r, bidiNames[r], r))
		}
		i += size
		from = i
	}
	b.write(p[from:])
	return n, b.err
}

// keeps reports whether a bidirectional formatting character is written as it is
// here: in one of rawElements, and in a value attribute (<input value>, <option
// value>), which a form sends back as it is: written as its escape, a search for a
// text holding one would, sent again, look for the escape.
func (b *bidiWriter) keeps() bool {
	return b.raw != "" || b.state == inValue && string(b.attr) == "value"
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

// maxName is as much of a tag's or an attribute's name as track keeps: enough to
// tell the ones it looks for ("/textarea").
const maxName = len("/textarea") + 1

// track follows the page's tags and their attributes, one ASCII byte at a time.
// html/template writes every '<', '>' and quote of a value as a reference, so those
// of the page are the template's own.
func (b *bidiWriter) track(c byte) {
	if b.raw != "" {
		b.trackRaw(c)
		return
	}
	space := isSpace(c)
	switch b.state {
	case inText:
		if c == '<' {
			b.state, b.tag = inTagName, b.tag[:0]
		}
		return
	case inValue:
		if b.quote != 0 && c == b.quote || b.quote == 0 && space {
			b.state = inAttrs
		} else if b.quote == 0 && c == '>' {
			b.endTag()
		}
		return
	case inTagName:
		switch {
		case space:
			b.state = inAttrs
		case c == '>':
			b.endTag()
		case len(b.tag) < maxName:
			b.tag = append(b.tag, lower(c))
		}
		return
	case beforeValue:
		switch {
		case c == '"' || c == '\'':
			b.state, b.quote = inValue, c
		case c == '>':
			b.endTag()
		case !space:
			b.state, b.quote = inValue, 0
		}
		return
	case afterName:
		switch {
		case c == '=':
			b.state = beforeValue
			return
		case space:
			return
		}
	case inAttrName:
		switch {
		case c == '=':
			b.state = beforeValue
			return
		case space:
			b.state = afterName
			return
		case c != '>' && c != '/':
			if len(b.attr) < maxName {
				b.attr = append(b.attr, lower(c))
			}
			return
		}
	}
	// between attributes, or at the start of the next after a name without a value
	switch {
	case c == '>':
		b.endTag()
	case space || c == '/':
		b.state = inAttrs
	default:
		b.state, b.attr = inAttrName, append(b.attr[:0], lower(c))
	}
}

// endTag is the '>' that ends a tag: its element's text follows.
func (b *bidiWriter) endTag() {
	b.state = inText
	switch name := string(b.tag); {
	case name == "title":
		b.inTitle = true
	case name == "/title":
		b.inTitle = false
	case slices.Contains(rawElements, name):
		b.raw, b.end = name, b.end[:0]
	}
}

// trackRaw follows the text of one of rawElements to its end tag (</script>), which
// is the only markup in it.
func (b *bidiWriter) trackRaw(c byte) {
	if (c == '>' || c == '/' || isSpace(c)) && string(b.end) == "</"+b.raw {
		b.tag = append(b.tag[:0], b.end[1:]...)
		b.raw, b.state = "", inAttrs
		if c == '>' {
			b.endTag()
		}
		return
	}
	if c == '<' {
		b.end = b.end[:0]
	}
	if len(b.end) < maxName+1 {
		b.end = append(b.end, lower(c))
	}
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }
