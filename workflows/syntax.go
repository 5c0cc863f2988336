package workflows

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// syntaxDiags are the diagnostics of parsing src, the file named name, as hookflow
// reports them: a slip HCL reports many times, or in its own terms, once and in the
// file's. A file that is not UTF-8 is an error at its first byte that is not, even
// where HCL takes it (a comment); HCL's errors from that byte on, which follow from
// it, are left out. test says the file is a file of tests (*.test.hcl), which holds
// no expression.
func syntaxDiags(diags hcl.Diagnostics, src []byte, name string, test bool) hcl.Diagnostics {
	bad := notUTF8(src, name)
	if bad != nil {
		var kept hcl.Diagnostics
		for _, d := range diags {
			if d.Subject == nil || d.Subject.Start.Byte < bad.Subject.Start.Byte {
				kept = append(kept, d)
			}
		}
		diags = kept
	}
	diags = oneUnclosedString(githubExpressions(diags, src, test), src)
	if bad != nil {
		diags = append(diags, bad)
	}
	return diags
}

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

// bareExpressions are the attributes whose value is an expression, written without
// {{ }}.
var bareExpressions = []string{"filter", "if", "for_each", "next", "items", "key", "cursor"}

// githubExpressions reports a GitHub Actions expression, "${{ … }}", once, with what
// to write instead. HCL reads ${ as its own interpolation and the { after it as an
// object, so it complains of a missing "=", of single quotes, and so on, pointing
// inside the expression and saying nothing of the slip. The errors within a ${{ are
// replaced by one that marks it.
func githubExpressions(diags hcl.Diagnostics, src []byte, test bool) hcl.Diagnostics {
	var out hcl.Diagnostics
	seen := map[int]bool{} // the ${{ reported, by their byte offset
	for _, d := range diags {
		gh, ok := githubExpressionAt(src, d)
		if !ok {
			out = append(out, d)
			continue
		}
		if !seen[gh.rng.Start.Byte] {
			seen[gh.rng.Start.Byte] = true
			out = append(out, gh.diag(test))
		}
	}
	return out
}

// githubExpression is a ${{ … }} in a file.
type githubExpression struct {
	rng   hcl.Range
	inner string // what is between the braces, trimmed
	attr  string // the attribute it is the value of, "" when not known
	// bare: it is written without braces, as a condition is, and so is what is
	// suggested in its place.
	bare bool
}

// githubExpressionAt finds the ${{ … }} on the line of an error of d that starts
// in it, if any.
func githubExpressionAt(src []byte, d *hcl.Diagnostic) (githubExpression, bool) {
	if d.Severity != hcl.DiagError || d.Subject == nil || d.Subject.Start.Byte > len(src) {
		return githubExpression{}, false
	}
	at := d.Subject.Start.Byte
	lineStart := bytes.LastIndexByte(src[:at], '\n') + 1
	open := bytes.LastIndex(src[lineStart:at], []byte("${{"))
	if open < 0 {
		return githubExpression{}, false
	}
	open += lineStart
	if open > 0 && src[open-1] == '$' {
		return githubExpression{}, false // $${ is HCL's escape of a literal ${
	}
	lineEnd := len(src)
	if i := bytes.IndexByte(src[open:], '\n'); i >= 0 {
		lineEnd = open + i
	}
	end := lineEnd
	if i := bytes.Index(src[open:lineEnd], []byte("}}")); i >= 0 {
		end = open + i + 2
	}
	if at > end {
		return githubExpression{}, false // the error is after the ${{ … }}
	}
	gh := githubExpression{inner: string(bytes.TrimSpace(bytes.TrimSuffix(src[open+3:end], []byte("}}"))))}
	if name, _, ok := bytes.Cut(src[lineStart:open], []byte("=")); ok {
		gh.attr = string(bytes.TrimSpace(name))
	}
	start := hcl.Pos{Line: d.Subject.Start.Line, Column: utf8.RuneCount(src[lineStart:open]) + 1, Byte: open}
	gh.rng = hcl.Range{Filename: d.Subject.Filename, Start: start,
		End: hcl.Pos{Line: start.Line, Column: start.Column + utf8.RuneCount(src[open:end]), Byte: end}}
	return gh, true
}

// diag says what to write instead of gh: in a file of tests, the value itself.
func (gh githubExpression) diag(test bool) *hcl.Diagnostic {
	detail := `${{ … }} is how GitHub Actions writes an expression, not hookflow. `
	if test {
		detail += `A test's event, mocks and expectations are values, written as they are: nothing in ` +
			`them is read when the run gets there. Write the value the test sends or expects in its place.`
	} else {
		detail += `In a hookflow file, ${…} is read once, when the file loads (${vars.crm}, ${env("NAME")}); ` +
			`a value read when the run gets there is a template, {{ … }}, without the $; and a condition ` +
			`(filter, if, for_each) is a bare expression, without braces.` + gh.instead()
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "GitHub Actions' ${{ }} in a hookflow file",
		Detail:   detail,
		Subject:  gh.rng.Ptr(),
	}
}

var (
	// githubSecret and githubEnv are reads of GitHub Actions' secrets.NAME and env.NAME.
	githubSecret = regexp.MustCompile(`(?:^|[^\w.])(secrets\.([A-Za-z_][A-Za-z0-9_]*))`)
	githubEnv    = regexp.MustCompile(`(?:^|[^\w.])(env\.([A-Za-z_][A-Za-z0-9_]*))`)
	// githubContext is a read of GitHub Actions' github context, github.event's aside.
	githubContext = regexp.MustCompile(`(^|[^\w.])github\b`)
	// githubEvent is a read of github.event, the payload of the webhook: event.body.
	githubEvent = regexp.MustCompile(`(^|[^\w.])github\.event\b`)
)

// instead is what to write in gh's place, when it is known, after a space.
func (gh githubExpression) instead() string {
	inner := githubEvent.ReplaceAllString(gh.inner, "${1}event.body") // a webhook's payload
	bare := gh.bare || slices.Contains(bareExpressions, gh.attr)
	if inner == "" {
		return ""
	}
	for _, read := range []struct {
		re       *regexp.Regexp
		what, fn string
	}{{githubSecret, "A secret", "secret"}, {githubEnv, "The environment", "env"}} {
		m := read.re.FindStringSubmatchIndex(inner)
		if m == nil {
			continue
		}
		name := inner[m[4]:m[5]]
		if !bare && m[2] == 0 && m[3] == len(inner) {
			return fmt.Sprintf(` %s is read when the file loads: write ${%s(%q)} in its place.`, read.what, read.fn, name)
		}
		// Within an expression, what the file loads is read through a var: written
		// into the source, a quote in it would end a string.
		return fmt.Sprintf(` %s is read when the file loads: in an expression, read it through a var, `+
			`vars { %s = %s(%q) }, and write vars.%s in its place.`, read.what, strings.ToLower(name), read.fn, name, strings.ToLower(name))
	}
	switch {
	case githubContext.MatchString(inner):
		return ` hookflow has no github context: a run reads its event (event.body, event.headers), ` +
			`and what GitHub sends a webhook is there (the sender's login in event.body.sender.login).`
	case slices.Contains(bareExpressions, gh.attr):
		return fmt.Sprintf(` Did you mean %s = "%s"?`, gh.attr, inner)
	case gh.bare:
		return fmt.Sprintf(` Did you mean "%s"?`, inner)
	}
	return fmt.Sprintf(` Did you mean "{{ %s }}"?`, inner)
}
