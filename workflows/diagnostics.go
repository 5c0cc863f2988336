package workflows

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcled"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/mitchellh/go-wordwrap"
)

// WriteDiagnostics renders diags the way users read them, in the style of Terraform
// but with the column: the summary, file:line:col with the enclosing block, the source
// line with the problem marked, then the detail. srcs are the files the diagnostics
// point into.
//
//	Error: Invalid expression
//
//	  on orders.hcl:2:26, in workflow "a":
//	     2:   filter = "event.body.x >"
//	                                 ^
//	  "event.body.x >" ends too soon: something must follow ">".
func WriteDiagnostics(w io.Writer, srcs []Source, diags hcl.Diagnostics) error {
	p := hclparse.NewParser()
	for _, s := range srcs {
		p.ParseHCL(s.Data, s.Name) // for the enclosing block's name; errors are in diags already
	}
	files := p.Files()
	sorted := append(hcl.Diagnostics(nil), diags...)
	sort.SliceStable(sorted, func(i, j int) bool { return before(sorted[i].Subject, sorted[j].Subject) })
	// A value not to print again is masked in every snippet that shows its line, the
	// diagnostic's own and any other's.
	written := writtenCredentials(files)
	masks := written.ranges
	for _, d := range diags {
		if _, ok := hcl.DiagnosticExtra[MaskValue](d); ok && d.Subject != nil {
			masks[d.Subject.Filename] = append(masks[d.Subject.Filename], *d.Subject)
		}
	}
	bw := bufio.NewWriter(w)
	for _, d := range sorted {
		writeDiagnostic(bw, files, masks, written.hide(d))
	}
	return bw.Flush()
}

// SortDiagnostics returns diags in the order WriteDiagnostics prints them: by file,
// then place, those without a place first.
func SortDiagnostics(diags hcl.Diagnostics) hcl.Diagnostics {
	out := append(hcl.Diagnostics(nil), diags...)
	sort.SliceStable(out, func(i, j int) bool { return before(out[i].Subject, out[j].Subject) })
	return out
}

// before orders ranges by file, then position; diagnostics without one come first.
func before(a, b *hcl.Range) bool {
	switch {
	case a == nil || b == nil:
		return a == nil && b != nil
	case a.Filename != b.Filename:
		return a.Filename < b.Filename
	}
	return a.Start.Byte < b.Start.Byte
}

func writeDiagnostic(w *bufio.Writer, files map[string]*hcl.File, masks map[string][]hcl.Range, d *hcl.Diagnostic) {
	severity := "Error"
	if d.Severity == hcl.DiagWarning {
		severity = "Warning"
	}
	fmt.Fprintf(w, "%s: %s\n\n", severity, d.Summary)
	if r := d.Subject; r != nil {
		in := ""
		f := files[r.Filename]
		if f != nil {
			if c := hcled.ContextString(f, r.Start.Byte); c != "" {
				in = ", in " + c
			}
		}
		fmt.Fprintf(w, "  on %s:%d:%d%s:\n", r.Filename, r.Start.Line, r.Start.Column, in)
		if f != nil {
			writeSnippet(w, f.Bytes, *r, masks[r.Filename])
		}
	}
	if d.Detail != "" {
		for _, line := range strings.Split(wordwrap.WrapString(d.Detail, 96), "\n") {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
	w.WriteString("\n")
}

// writeSnippet prints the range's first line with carets under the range. The parts of
// the line in masks are replaced by [redacted], the carets moved with the text.
func writeSnippet(w *bufio.Writer, src []byte, r hcl.Range, masks []hcl.Range) {
	lines := bytes.Split(src, []byte("\n"))
	if r.Start.Line < 1 || r.Start.Line > len(lines) {
		return
	}
	line := strings.ReplaceAll(strings.TrimRight(string(lines[r.Start.Line-1]), "\r"), "\t", " ")
	line, r = masked(line, r, masks)
	fmt.Fprintf(w, "  %4d: %s\n", r.Start.Line, line)
	width := utf8.RuneCountInString(line) - (r.Start.Column - 1)
	if r.End.Line == r.Start.Line {
		width = r.End.Column - r.Start.Column
	}
	width = max(width, 1)
	fmt.Fprintf(w, "        %s%s\n", strings.Repeat(" ", max(r.Start.Column-1, 0)), strings.Repeat("^", width))
}

// masked returns line, line r.Start.Line of its file, with each part of it in masks
// replaced by [redacted] (to the end of the line when a mask goes on past it), and r
// with its columns on that line moved to match: into a masked part, it covers all of
// [redacted].
func masked(line string, r hcl.Range, masks []hcl.Range) (string, hcl.Range) {
	type span struct{ start, end int } // rune offsets in line, end excluded
	runes := []rune(line)
	var spans []span
	for _, m := range masks {
		if m.Start.Line > r.Start.Line || m.End.Line < r.Start.Line {
			continue
		}
		s := span{0, len(runes)}
		if m.Start.Line == r.Start.Line {
			s.start = min(max(m.Start.Column-1, 0), len(runes))
		}
		if m.End.Line == r.Start.Line {
			s.end = min(max(m.End.Column-1, s.start), len(runes))
		}
		spans = append(spans, s)
	}
	if len(spans) == 0 {
		return line, r
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	multiline := r.End.Line != r.Start.Line
	startCol, endCol := r.Start.Column-1, r.End.Column-1 // rune offsets in line
	var out []rune
	newStart, newEnd := -1, -1
	at := 0 // offset in runes of what is written to out
	for _, s := range spans {
		if s.start < at { // overlaps one masked already
			s.start = at
			if s.end <= at {
				continue
			}
		}
		if newStart < 0 && startCol < s.start {
			newStart = len(out) + startCol - at
		}
		if newEnd < 0 && !multiline && endCol <= s.start {
			newEnd = len(out) + endCol - at
		}
		out = append(out, runes[at:s.start]...)
		if newStart < 0 && startCol < s.end {
			newStart = len(out)
		}
		out = append(out, []rune(Redacted)...)
		if newEnd < 0 && !multiline && endCol <= s.end {
			newEnd = len(out)
		}
		at = s.end
	}
	if newStart < 0 {
		newStart = len(out) + startCol - at
	}
	if newEnd < 0 && !multiline {
		newEnd = len(out) + endCol - at
	}
	out = append(out, runes[at:]...)
	r.Start.Column = newStart + 1
	if !multiline {
		r.End.Column = max(newEnd, newStart) + 1
	}
	return string(out), r
}
