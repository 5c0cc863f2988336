package workflows

import (
	"os"
	"testing"
)

// fmt reports a string left open as validate does: once, where it is, not as an
// error on each line after it.
func TestFormatReportsAnUnclosedStringOnce(t *testing.T) {
	src, err := os.ReadFile("testdata/errors/syntax_missing_quote.hcl")
	if err != nil {
		t.Fatal(err)
	}
	_, diags := Format(src, "syntax_missing_quote.hcl")
	if len(diags) != 1 || diags[0].Summary != "Missing closing quote" {
		t.Errorf("fmt reports %d errors, want one Missing closing quote:\n%s", len(diags), diags.Error())
	}
}
