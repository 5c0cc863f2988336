package workflows

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"

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
		p.ParseHCL(lf(s.Data), s.Name) // for the enclosing block's name; errors are in diags already
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
