package workflows

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// Format returns src in canonical HCL formatting: aligned equals signs, two-space
// indents, normalized spacing. Line endings stay as they are, CR LF or LF. A file that
// does not parse is not formatted; its diagnostics are returned instead, placed as a
// load places them.
func Format(src []byte, filename string) ([]byte, hcl.Diagnostics) {
	checked := lf(src)
	_, diags := hclsyntax.ParseConfig(checked, filename, hcl.InitialPos)
	if diags = syntaxDiags(diags, checked, filename, strings.HasSuffix(filename, ".test.hcl")); diags.HasErrors() {
		return nil, diags // as a load reports them
	}
	return hclwrite.Format(src), nil
}
