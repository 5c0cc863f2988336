package workflows

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// Format returns src in canonical HCL formatting: aligned equals signs, two-space
// indents, normalized spacing. A file that does not parse is not formatted; its
// diagnostics are returned instead.
func Format(src []byte, filename string) ([]byte, hcl.Diagnostics) {
	if _, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos); diags.HasErrors() {
		return nil, syntaxDiags(diags, src, strings.HasSuffix(filename, ".test.hcl")) // as a load reports it
	}
	return hclwrite.Format(src), nil
}
