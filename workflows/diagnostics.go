package workflows

import (
	"io"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// WriteDiagnostics renders diags the way users read them: file:line:col, the offending
// source lines with the problem underlined, and the detail. srcs are the files the
// diagnostics point into.
func WriteDiagnostics(w io.Writer, srcs []Source, diags hcl.Diagnostics, color bool) error {
	p := hclparse.NewParser()
	for _, s := range srcs {
		p.ParseHCL(s.Data, s.Name) // only for the source snippets; errors are in diags already
	}
	return hcl.NewDiagnosticTextWriter(w, p.Files(), 100, color).WriteDiagnostics(diags)
}
