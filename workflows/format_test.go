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

// fmt reports a file that is not UTF-8 as validate does: at its first byte that is
// not, whether HCL would read it as a string's end or take it in a comment.
func TestFormatReportsAFileNotUTF8(t *testing.T) {
	for _, name := range []string{"not_utf8_string", "not_utf8_comment"} {
		src, err := os.ReadFile("testdata/errors/" + name + ".hcl")
		if err != nil {
			t.Fatal(err)
		}
		out, diags := Format(src, name+".hcl")
		if out != nil || len(diags) != 1 || diags[0].Summary != "File is not UTF-8" {
			t.Fatalf("%s: want one error File is not UTF-8, got %d:\n%s", name, len(diags), diags.Error())
		}
		if at := diags[0].Subject.Start.Byte; src[at] < 0x80 || at > 0 && src[at-1] >= 0x80 {
			t.Errorf("%s: the error is at byte %d, not at the first byte that is not UTF-8", name, at)
		}
	}
}
