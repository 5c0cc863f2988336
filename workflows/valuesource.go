package workflows

import (
	"bytes"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// valueSource ties each byte of a string value read from a file to the bytes of the
// file that wrote it, through HCL's escapes (\", $${), a heredoc's indentation and
// ${…}: "${vars.s} {{ steps.nope.x }}" holds "ab {{ steps.nope.x }}", whose
// steps.nope the file has 7 bytes further on. A byte that a ${…} gave is tied to the
// whole ${…}.
type valueSource struct {
	start, end []int // the file's bytes [start[i], end[i]) wrote value[i]
	empty      int   // where an empty value is, in the file
}

// span returns the bytes of the file that wrote value[from:to].
func (s valueSource) span(from, to int) (int, int) {
	n := len(s.start)
	switch {
	case n == 0:
		return s.empty, s.empty
	case from >= n:
		return s.end[n-1], s.end[n-1]
	case to <= from:
		return s.start[from], s.start[from]
	}
	return s.start[from], s.end[min(to, n)-1]
}

// sourceOf finds where value, the string the expression at rng of src gave (or a
// string of the object or list it gave), was written. Of the strings written in the
// expression, it is the first one that can give value and takes the most of it from
// the file as written. ok is false when no string of the expression can give value
// (it came from file() or env()), or when only ${…} of several can.
func sourceOf(src []byte, rng hcl.Range, value string) (vs valueSource, ok bool) {
	// A heredoc's range ends at its closing marker, which the parser wants on a line
	// of its own, ended.
	raw := append(bytes.Clone(src[rng.Start.Byte:rng.End.Byte]), '\n')
	expr, diags := hclsyntax.ParseExpression(raw, rng.Filename, rng.Start)
	if diags.HasErrors() {
		return valueSource{}, false
	}
	best, ties := -1, 0
	hclsyntax.VisitAll(expr, func(n hclsyntax.Node) hcl.Diagnostics {
		var parts []hclsyntax.Expression
		switch t := n.(type) {
		case *hclsyntax.TemplateExpr:
			parts = t.Parts
		case *hclsyntax.TemplateWrapExpr:
			parts = []hclsyntax.Expression{t.Wrapped}
		default:
			return nil
		}
		heredoc := bytes.HasPrefix(src[n.Range().Start.Byte:], []byte("<<"))
		m, written, fits := alignTemplate(src, parts, heredoc, value)
		switch {
		case !fits:
		case written > best:
			vs, best, ties = m, written, 1
		case written == best:
			ties++
		}
		return nil
	})
	return vs, best > 0 || best == 0 && ties == 1
}

// piece is a part of a template: a literal, with what it gives and the bytes of the
// file that wrote each of its bytes, or a ${…}, %{…} in the file at [from, to).
type piece struct {
	literal    bool
	text       string
	start, end []int
	from, to   int
}

// alignTemplate places value in the parts of a template: where each literal part's
// text is in it, the ${…} parts giving what is between. A literal that could be in
// two places (a ${…} before it gave the same text) is taken as a ${…}'s. It returns
// the bytes of value tied to the file, how many of them come from literals, and
// false when the template cannot give value.
func alignTemplate(src []byte, parts []hclsyntax.Expression, heredoc bool, value string) (valueSource, int, bool) {
	pieces := make([]piece, 0, len(parts))
	for _, p := range parts {
		lit, ok := p.(*hclsyntax.LiteralValueExpr)
		if ok && lit.Val.Type() == cty.String && lit.Val.IsKnown() && !lit.Val.IsNull() {
			text := lit.Val.AsString()
			r := lit.SrcRange
			start, end, ok := literalSource(src[r.Start.Byte:r.End.Byte], r.Start.Byte, !heredoc, text)
			if !ok {
				return valueSource{}, 0, false
			}
			pieces = append(pieces, piece{literal: true, text: text, start: start, end: end, from: r.Start.Byte, to: r.End.Byte})
			continue
		}
		from, to := interpolation(src, p.Range())
		pieces = append(pieces, piece{from: from, to: to})
	}
	if len(pieces) == 0 {
		return valueSource{}, 0, false
	}
	first, last := leftmost(pieces, value), rightmost(pieces, value)
	if first == nil || last == nil {
		return valueSource{}, 0, false
	}
	vs := valueSource{start: make([]int, len(value)), end: make([]int, len(value)), empty: pieces[0].from}
	tied := make([]bool, len(value))
	written := 0
	for i, p := range pieces {
		if !p.literal || first[i] != last[i] {
			continue
		}
		for j := range p.text {
			vs.start[first[i]+j], vs.end[first[i]+j], tied[first[i]+j] = p.start[j], p.end[j], true
		}
		written += len(p.text)
	}
	// The bytes between two tied to literals came from what the file has between
	// them: ${…}, or a literal whose place is not sure.
	for i := 0; i < len(value); {
		if tied[i] {
			i++
			continue
		}
		j := i
		for j < len(value) && !tied[j] {
			j++
		}
		from, to := pieces[0].from, pieces[len(pieces)-1].to
		if i > 0 {
			from = vs.end[i-1]
		}
		if j < len(value) {
			to = vs.start[j]
		}
		for k := i; k < j; k++ {
			vs.start[k], vs.end[k] = from, to
		}
		i = j
	}
	return vs, written, true
}

// leftmost places each literal piece in value as early as it can be, nil when the
// pieces cannot give value. A template's first piece, when a literal, is where value
// starts, its last where value ends.
func leftmost(pieces []piece, value string) []int {
	at := make([]int, len(pieces))
	pos := 0
	for i, p := range pieces {
		if !p.literal {
			continue
		}
		switch {
		case i == 0:
			at[i] = 0
		case i == len(pieces)-1:
			at[i] = len(value) - len(p.text)
		default:
			k := strings.Index(value[pos:], p.text)
			if k < 0 {
				return nil
			}
			at[i] = pos + k
		}
		pos = at[i] + len(p.text)
	}
	return placed(pieces, at, value)
}

// rightmost is leftmost, each literal placed as late as it can be.
func rightmost(pieces []piece, value string) []int {
	at := make([]int, len(pieces))
	end := len(value)
	for i := len(pieces) - 1; i >= 0; i-- {
		p := pieces[i]
		if !p.literal {
			continue
		}
		switch {
		case i == len(pieces)-1:
			at[i] = len(value) - len(p.text)
		case i == 0:
			at[i] = 0
		default:
			k := strings.LastIndex(value[:max(end, 0)], p.text)
			if k < 0 {
				return nil
			}
			at[i] = k
		}
		end = at[i]
	}
	return placed(pieces, at, value)
}

// placed returns at, the places of the literal pieces in value, if each holds its
// piece's text, in order and without overlap, the first piece at the start and the
// last at the end; nil otherwise.
func placed(pieces []piece, at []int, value string) []int {
	pos := 0
	for i, p := range pieces {
		if !p.literal {
			continue
		}
		to := at[i] + len(p.text)
		if at[i] < pos || to > len(value) || value[at[i]:to] != p.text ||
			i == 0 && at[i] != 0 || i == len(pieces)-1 && to != len(value) {
			return nil
		}
		pos = to
	}
	return at
}

// interpolation widens rng, the expression of a ${…} or %{…}, to its braces.
func interpolation(src []byte, rng hcl.Range) (from, to int) {
	from, to = rng.Start.Byte, rng.End.Byte
	i := from
	for i > 0 && (src[i-1] == ' ' || src[i-1] == '\t' || src[i-1] == '~') {
		i--
	}
	if i >= 2 && (src[i-2] == '$' || src[i-2] == '%') && src[i-1] == '{' {
		from = i - 2
	}
	j := to
	for j < len(src) && (src[j] == ' ' || src[j] == '\t' || src[j] == '~') {
		j++
	}
	if j < len(src) && src[j] == '}' {
		to = j + 1
	}
	return from, to
}

// literalSource ties each byte of text, what the literal raw (at byte base of the
// file) gives, to the bytes of raw that wrote it: a character itself, an escape (in
// a quoted string: \n, \", \u00e9; anywhere: $${, %%{). A heredoc's indentation,
// which raw has and text has not, is passed over, and so is the space that ~ trims.
// ok is false when raw does not give text.
func literalSource(raw []byte, base int, quoted bool, text string) (start, end []int, ok bool) {
	var out []byte
	var from, to []int
	for k := 0; k < len(raw); {
		n, decoded := 1, raw[k:k+1]
		switch {
		case quoted && raw[k] == '\\' && k+1 < len(raw):
			n = 2
			switch raw[k+1] {
			case 'n':
				decoded = []byte("\n")
			case 'r':
				decoded = []byte("\r")
			case 't':
				decoded = []byte("\t")
			case 'u', 'U':
				n = map[byte]int{'u': 6, 'U': 10}[raw[k+1]]
				if k+n > len(raw) {
					return nil, nil, false
				}
				r, err := strconv.ParseUint(string(raw[k+2:k+n]), 16, 32)
				if err != nil {
					return nil, nil, false
				}
				decoded = utf8.AppendRune(nil, rune(r))
			default:
				decoded = raw[k+1 : k+2]
			}
		case bytes.HasPrefix(raw[k:], []byte("$${")) || bytes.HasPrefix(raw[k:], []byte("%%{")):
			n, decoded = 3, raw[k+1:k+3]
		}
		for range decoded {
			from, to = append(from, base+k), append(to, base+k+n)
		}
		out = append(out, decoded...)
		k += n
	}
	// Line by line, what raw has before a line's text beyond what text has there is
	// indentation a heredoc <<- strips, or space a ~ trims; after text, only space a
	// ~ trims.
	decoded := string(out)
	for d, t := 0, 0; ; {
		dl, tl := lineAt(decoded, d), lineAt(text, t)
		skip := leadingSpace(dl) - leadingSpace(tl)
		if skip < 0 || !strings.HasPrefix(dl[skip:], tl) {
			return nil, nil, false
		}
		start, end = append(start, from[d+skip:d+skip+len(tl)]...), append(end, to[d+skip:d+skip+len(tl)]...)
		d, t = d+skip+len(tl), t+len(tl)
		if t == len(text) {
			return start, end, strings.TrimSpace(decoded[d:]) == ""
		}
	}
}

// lineAt is the line of s that starts at byte i, with its newline.
func lineAt(s string, i int) string {
	if k := strings.IndexByte(s[i:], '\n'); k >= 0 {
		return s[i : i+k+1]
	}
	return s[i:]
}

func leadingSpace(s string) int {
	return len(s) - len(strings.TrimLeftFunc(s, func(r rune) bool { return r != '\n' && unicode.IsSpace(r) }))
}
