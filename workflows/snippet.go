package workflows

import (
	"bufio"
	"bytes"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/apparentlymart/go-textseg/v15/textseg"
	"github.com/hashicorp/hcl/v2"
	"golang.org/x/text/width"

	"github.com/hookflow/hookflow/internal/shellquote"
)

// writeSnippet prints the range's first line with carets under the range. The parts of
// the line in masks are replaced by [redacted], the carets moved with the text. What a
// terminal would not show as it is, a byte that is not UTF-8 or a control character,
// is written as an escape (\xff, \u001b), so that the line printed is what the file
// holds, and nothing in it acts on the terminal.
func writeSnippet(w *bufio.Writer, src []byte, r hcl.Range, masks []hcl.Range) {
	lines := bytes.Split(src, []byte("\n"))
	if r.Start.Line < 1 || r.Start.Line > len(lines) {
		return
	}
	lineStart := 0 // the offset in src of the line shown
	for _, l := range lines[:r.Start.Line-1] {
		lineStart += len(l) + 1
	}
	line := bytes.TrimRight(lines[r.Start.Line-1], "\r")
	at := func(p hcl.Pos) int { return lineOffset(line, r.Start.Line, lineStart, p) }
	var hidden []span
	for _, m := range masks {
		if m.Start.Line <= r.Start.Line && m.End.Line >= r.Start.Line {
			hidden = append(hidden, span{at(m.Start), at(m.End)})
		}
	}
	to := len(line)
	if r.End.Line == r.Start.Line {
		to = at(r.End)
	}
	text, start, end := shownLine(line, at(r.Start), to, hidden)
	fmt.Fprintf(w, "  %4d: %s\n", r.Start.Line, text)
	fmt.Fprintf(w, "        %s%s\n", strings.Repeat(" ", start), strings.Repeat("^", max(end-start, 1)))
}

// span is a part of a line: its offsets in bytes, end excluded.
type span struct{ start, end int }

// lineOffset is the offset in line, line number n of its file, which starts at byte
// lineStart of it, of p: its start or end for a p before or after the line. A p whose
// byte offset is not on the line is placed by its column, counted in characters.
func lineOffset(line []byte, n, lineStart int, p hcl.Pos) int {
	switch {
	case p.Line < n:
		return 0
	case p.Line > n:
		return len(line)
	case p.Byte >= lineStart && p.Byte <= lineStart+len(line):
		return p.Byte - lineStart
	}
	i := 0
	for c := 1; c < p.Column && i < len(line); c++ {
		_, size := utf8.DecodeRune(line[i:])
		i += size
	}
	return i
}

// shownLine is line as a snippet shows it, with the parts in hidden written as
// [redacted], and the columns on a terminal of the range [from, to) of line, counted
// by the width of what is shown before it (shownChar): into a part hidden, the range
// covers all of [redacted].
func shownLine(line []byte, from, to int, hidden []span) (text string, start, end int) {
	sort.Slice(hidden, func(i, j int) bool { return hidden[i].start < hidden[j].start })
	var b strings.Builder
	col := 0
	start, end = -1, -1
	mark := func(i int) {
		if start < 0 && from <= i {
			start = col
		}
		if end < 0 && to <= i {
			end = col
		}
	}
	for i := 0; i < len(line); {
		if len(hidden) > 0 && hidden[0].start <= i {
			h := hidden[0]
			hidden = hidden[1:]
			if h.end <= i { // within one hidden already, or empty
				continue
			}
			mark(i)
			if start < 0 && from < h.end {
				start = col
			}
			b.WriteString(Redacted)
			col += len(Redacted)
			if end < 0 && to <= h.end {
				end = col
			}
			i = h.end
			continue
		}
		mark(i)
		shown, size, width := shownChar(line[i:])
		b.WriteString(shown)
		col += width
		i += size
	}
	mark(len(line))
	return b.String(), start, max(end, start)
}

// shownChar is how a snippet shows the character that b starts with: the text, the
// bytes of b it takes and its width on a terminal. A character is a grapheme cluster
// (a letter with its combining marks, an emoji with its modifiers), as wide as
// displayWidth says. A tab is a space; a byte that is not UTF-8 is \xHH, and a control
// character (shellquote.Unsafe) \uHHHH, as wide as written.
func shownChar(b []byte) (string, int, int) {
	r, size := utf8.DecodeRune(b)
	var s string
	switch {
	case r == '\t':
		return " ", size, 1
	case r == utf8.RuneError && size <= 1:
		s = fmt.Sprintf(`\x%02x`, b[0])
	case shellquote.Unsafe(r):
		s = fmt.Sprintf(`\u%04x`, r)
	default:
		n, _, _ := textseg.ScanGraphemeClusters(b, true)
		for size < n { // up to what is escaped, should the cluster hold any
			r, more := utf8.DecodeRune(b[size:])
			if r == '\t' || r == utf8.RuneError && more <= 1 || shellquote.Unsafe(r) {
				break
			}
			size += more
		}
		return string(b[:size]), size, displayWidth(b[:size])
	}
	return s, size, len(s)
}

// displayWidth is how many columns of a terminal the grapheme cluster c takes: two
// for a character East Asian Wide or Fullwidth (CJK, most emoji), for one followed
// by the emoji presentation selector (U+FE0F) and for a flag; none for a combining
// mark or a format character (a zero-width joiner) alone; else one. Ambiguous
// characters are taken as narrow, as terminals outside East Asia show them.
func displayWidth(c []byte) int {
	w := 0
	for _, r := range string(c) {
		switch {
		case r == '\ufe0f':
			return 2
		case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		case r >= 0x1f1e6 && r <= 0x1f1ff: // regional indicators, a pair of which is a flag
			w = 2
		default:
			switch width.LookupRune(r).Kind() {
			case width.EastAsianWide, width.EastAsianFullwidth:
				w = 2
			default:
				w = max(w, 1)
			}
		}
	}
	return w
}
