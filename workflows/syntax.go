package workflows

import (
	"bytes"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// oneUnclosedString reports a string without its closing quote once. HCL reads on
// past the missing quote, so every later quote in the file pairs the wrong way round:
// one slip becomes an error on each line that follows ("Invalid multi-line string",
// "Unterminated template string", …), none of them where the slip is. The errors
// before the slip are kept; those from it on are replaced by one that marks the
// string that was left open.
func oneUnclosedString(diags hcl.Diagnostics, src []byte) hcl.Diagnostics {
	var first *hcl.Diagnostic
	for _, d := range diags {
		if d.Subject == nil || d.Summary != "Invalid multi-line string" && d.Summary != "Unterminated template string" {
			continue
		}
		if first == nil || d.Subject.Start.Byte < first.Subject.Start.Byte {
			first = d
		}
	}
	if first == nil {
		return diags
	}
	at := *first.Subject
	var out hcl.Diagnostics
	for _, d := range diags {
		if d.Subject == nil || d.Subject.Start.Byte < at.Start.Byte {
			out = append(out, d)
		}
	}
	return append(out, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Missing closing quote",
		Detail: `This string has no closing " on its line: add it where the string ends. A quoted string ` +
			`cannot go on to the next line; for text over several lines, write \n or use a heredoc (<<EOT … EOT).`,
		Subject: openString(src, at).Ptr(),
	})
}

// openString returns the range from the quote that opens the string left open on
// at's line to the end of that line, or at itself when no such quote is found.
func openString(src []byte, at hcl.Range) hcl.Range {
	if at.Start.Byte > len(src) {
		return at
	}
	lineStart := bytes.LastIndexByte(src[:at.Start.Byte], '\n') + 1
	lineEnd := at.Start.Byte
	if i := bytes.IndexByte(src[lineStart:], '\n'); i >= 0 {
		lineEnd = lineStart + i
	}
	line := bytes.TrimRight(src[lineStart:lineEnd], "\r")
	open := -1
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case open >= 0 && c == '\\':
			i++
		case c == '"':
			if open >= 0 {
				open = -1
			} else {
				open = i
			}
		case open < 0 && (c == '#' || c == '/' && i+1 < len(line) && line[i+1] == '/'):
			i = len(line) // a comment
		}
	}
	if open < 0 {
		return at
	}
	start := hcl.Pos{Line: at.Start.Line, Column: utf8.RuneCount(line[:open]) + 1, Byte: lineStart + open}
	end := hcl.Pos{Line: at.Start.Line, Column: start.Column + utf8.RuneCount(line[open:]), Byte: lineStart + len(line)}
	return hcl.Range{Filename: at.Filename, Start: start, End: end}
}
