package workflows

import (
	"bytes"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// location ties a string value read from a file to where it was written, so that a
// problem found inside the string (an expr syntax error, an unclosed {{) points at the
// exact characters rather than at the whole attribute.
type location struct {
	rng   hcl.Range // the attribute's expression
	src   []byte    // the whole file the range refers to
	value string    // the string value that offsets refer to
	scope *scope    // what expressions here may read; nil: not checked
	// vars are the names of the vars, sorted, which vars.NAME may read; nil outside a
	// load, where reads of vars are not checked (empty when there are none).
	vars  []string
	exprs *exprCompiler
	// stored: the files are a stored version (Options.Stored), where checks of likely
	// mistakes warn.
	stored bool
	// secrets are the values secret() read, which ${secret("NAME")} may have written
	// into value: a diagnostic quotes no expression holding a piece of one.
	secrets map[string]bool
}

// compiler returns the load's expression compiler, or a new one outside a load.
func (l location) compiler() *exprCompiler {
	if l.exprs != nil {
		return l.exprs
	}
	return newExprCompiler()
}

// mistake returns d, an error that catches a likely mistake, as a warning in a stored
// version.
func (l location) mistake(d *hcl.Diagnostic) *hcl.Diagnostic { return mistake(d, l.stored) }

// secretIn reports whether a secret written into value overlaps value[from:to]: an
// expression there holds the secret, or a piece of it.
func (l location) secretIn(from, to int) bool {
	for secret := range l.secrets {
		if overlaps(l.value, secret, from, to) {
			return true
		}
	}
	return false
}

// secretSource is d, about an expression that holds a secret or a piece of it (a
// secret with a quote in it ends the string it was written into), saying so in place
// of what it says of the expression, which would quote the secret: its source, a name
// or a token in it.
func secretSource(d *hcl.Diagnostic) *hcl.Diagnostic {
	if d.Severity == hcl.DiagError {
		d.Summary = "Invalid expression"
	} else {
		d.Summary = "Check the expression"
	}
	d.Detail = `This expression holds a secret, written into it with ${secret("NAME")}: it is not quoted here, ` +
		`so as not to show the secret. Read the secret as a value rather than as source: vars { key = secret("NAME") }, ` +
		`then write vars.key in the expression.`
	return d
}

// hidingSecrets is diags, about the expression at value[from:to], each made by
// secretSource when a secret was written into the expression: every diagnostic that
// quotes an expression's source, errors and warnings alike, goes through it.
func (l location) hidingSecrets(diags hcl.Diagnostics, from, to int) hcl.Diagnostics {
	if len(diags) == 0 || !l.secretIn(from, to) {
		return diags
	}
	for _, d := range diags {
		secretSource(d)
	}
	return diags
}

// inTemplate reports whether the expression at byte offset of value is in a {{ }}.
func (l location) inTemplate(offset int) bool {
	return offset >= 2 && offset <= len(l.value) && l.value[offset-2:offset] == "{{"
}

// attrName is the name of the attribute the value is written in, as its line reads
// (name = …); "" when not known.
func (l location) attrName() string {
	at := l.rng.Start.Byte
	if at < 0 || at > len(l.src) {
		return ""
	}
	lineStart := bytes.LastIndexByte(l.src[:at], '\n') + 1
	name, _, ok := bytes.Cut(l.src[lineStart:at], []byte("="))
	if !ok {
		return ""
	}
	return string(bytes.TrimSpace(name))
}

func (l location) diag(sev hcl.DiagnosticSeverity, summary, detail string) *hcl.Diagnostic {
	rng := l.rng
	return &hcl.Diagnostic{Severity: sev, Summary: summary, Detail: detail, Subject: &rng}
}

// at returns the file range of value[from:to]: the characters that wrote it, through
// escapes and ${…} (see sourceOf), or the whole ${…} that gave them. It falls back to
// the whole expression when the expression cannot tell where value came from.
func (l location) at(from, to int) hcl.Range {
	if l.rng.Start.Byte < 0 || l.rng.End.Byte > len(l.src) || l.rng.Start.Byte > l.rng.End.Byte ||
		from < 0 || from > to || to > len(l.value) {
		return l.rng
	}
	vs, ok := sourceOf(l.src, l.rng, l.value)
	if !ok {
		return l.rng
	}
	start, end := vs.span(from, to)
	raw := l.src[l.rng.Start.Byte:l.rng.End.Byte]
	start = min(max(start-l.rng.Start.Byte, 0), len(raw))
	return l.span(raw, start, min(max(end-l.rng.Start.Byte, start), len(raw)))
}

func (l location) span(raw []byte, from, to int) hcl.Range {
	start := advance(l.rng.Start, raw[:from])
	return hcl.Range{Filename: l.rng.Filename, Start: start, End: advance(start, raw[from:to])}
}

func advance(p hcl.Pos, b []byte) hcl.Pos {
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		p.Byte += size
		if r == '\n' {
			p.Line++
			p.Column = 1
		} else {
			p.Column++
		}
	}
	return p
}
