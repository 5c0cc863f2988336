package workflows

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// notUTF8 finds the first byte of src that is not part of a UTF-8 character, and
// returns the error that reports it, at that byte of the file named name; nil when
// src is UTF-8 throughout. HCL reads such a byte in a string as the string's end, so
// that a string that is closed is reported left open ("Missing closing quote") and
// what follows is read wrong; in a comment, it says nothing. Either way the file is
// not what its author sees in an editor set to UTF-8.
func notUTF8(src []byte, name string) *hcl.Diagnostic {
	if utf8.Valid(src) {
		return nil
	}
	at := 0
	for at < len(src) {
		r, size := utf8.DecodeRune(src[at:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		at += size
	}
	lineStart := bytes.LastIndexByte(src[:at], '\n') + 1
	start := hcl.Pos{Line: bytes.Count(src[:at], []byte("\n")) + 1, Column: utf8.RuneCount(src[lineStart:at]) + 1, Byte: at}
	end := hcl.Pos{Line: start.Line, Column: start.Column + 1, Byte: at + 1}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "File is not UTF-8",
		Detail: fmt.Sprintf("The file is not UTF-8: byte 0x%02x, here, is not part of any UTF-8 character. "+
			"hookflow reads workflow and test files as UTF-8 text: save the file as UTF-8 "+
			"(it was likely saved as Latin-1 or Windows-1252).", src[at]),
		Subject: &hcl.Range{Filename: name, Start: start, End: end},
	}
}
