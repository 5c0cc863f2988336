package workflows

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// TestPositionThroughInterpolation: a mistake inside {{ }} is marked where the file
// writes it, whatever ${…}, escapes or a heredoc before it made of the string, and
// however often the text marked is also written before it.
func TestPositionThroughInterpolation(t *testing.T) {
	tests := []struct {
		name  string
		attrs string // the attributes of step "call" "b"; the first error is checked
		line  int    // of the file, whose step's attributes start on line 9
		col   int
		mark  string // the text marked
	}{
		// An unknown name is marked to the end of its expression, the space before }} too.
		{"the same name before, as text", `url = "${vars.s} steps.nope {{ steps.nope.x }}"`, 9, 38, "nope"},
		{"a longer value", `url = "${vars.key} {{ event.body.a + }}"`, 9, 37, " "},
		{"a shorter value", `url = "${vars.long_key_name} x {{ evnt.body }}"`, 9, 35, "evnt.body "},
		{"a short token written many times", `url = "${vars.s}a a a {{ a }}"`, 9, 26, "a "},
		{"two interpolations", `url = "${vars.s}{{ 1 }}${vars.key}{{ evnt }}"`, 9, 38, "evnt "},
		{"an interpolation inside {{ }}", `url = "{{ 1 }} {{ ${vars.ref} }}"`, 9, 19, "${vars.ref} "},
		{"escapes", `url = "\"${vars.s}\" \u00e9 $${x} {{ evnt }}"`, 9, 38, "evnt "},
		{"a whole ${} in a list", `url = "x"` + "\n" + `json = ["${vars.s}", "{{ evnt }}"]`, 10, 26, "evnt "},
		{"an object", `url = "x"` + "\n" + `json = { a = "${vars.s}", b = "${vars.s} {{ evnt }}" }`, 10, 45, "evnt "},
		{"a heredoc", "url = <<EOT\n${vars.key}\nline {{ evnt }}\nEOT", 11, 9, "evnt "},
		{"a heredoc <<-", "url = <<-EOT\n    ${vars.key} a\n      a {{ a }} {{ evnt }}\n    EOT", 11, 12, "a "},
		{"a trim marker", `url = "${vars.s ~}   {{ evnt }}"`, 9, 25, "evnt "},
		{"a condition", `url = "x"` + "\n" + `if = "'${vars.s}' == 'ab' && steps.nope.x"`, 10, 36, "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "vars {\n  s = \"ab\"\n  key = \"a-much-longer-plain-value\"\n  long_key_name = \"\"\n  ref = \"evnt.x\"\n}\n" +
				"workflow \"w\" {\nstep \"call\" \"b\" {\n" + tt.attrs + "\n}\n}\n"
			lines := strings.Split(src, "\n")
			_, diags := Load([]Source{{Name: "f.hcl", Data: []byte(src)}}, testKinds())
			if !diags.HasErrors() {
				t.Fatal("want an error")
			}
			d := diags[0]
			r := d.Subject
			if r.Start.Line != tt.line || r.Start.Column != tt.col {
				t.Errorf("at %d:%d, want %d:%d (%s: %s)", r.Start.Line, r.Start.Column, tt.line, tt.col, d.Summary, d.Detail)
			}
			if got := src[r.Start.Byte:r.End.Byte]; got != tt.mark {
				t.Errorf("marks %q, want %q (line %q)", got, tt.mark, lines[r.Start.Line-1])
			}
		})
	}
}

// TestValueSourceNotGuessed: where the file cannot tell which characters wrote a
// part of the value, location.at marks what holds them all, never a guess.
func TestValueSourceNotGuessed(t *testing.T) {
	tests := []struct {
		name, expr, value string
		from, to          int
		mark              string
	}{
		// " b " is written twice, and the ${a} before the first gave " b " too: which
		// of the value's three " b " the first one is, is not known.
		{"a literal in two places", `"${a} b ${c} b {{ e }}"`, " b  b  b {{ e }}", 0, 3, `${a} b ${c}`},
		{"after it, exact", `"${a} b ${c} b {{ e }}"`, " b  b  b {{ e }}", 12, 13, "e"},
		// What file() read was written in no string of the expression.
		{"a value read from a file", `file("t.txt")`, "{{ e }}", 3, 4, `file("t.txt")`},
		{"only interpolations", `["${a}", "${b}"]`, "{{ e }}", 3, 4, `["${a}", "${b}"]`},
		{"one interpolation", `"${a}"`, "{{ e }}", 3, 4, `${a}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := []byte("x = " + tt.expr + "\n")
			rng := hcl.Range{Filename: "f.hcl", Start: hcl.Pos{Line: 1, Column: 5, Byte: 4},
				End: hcl.Pos{Line: 1, Column: 5 + len(tt.expr), Byte: 4 + len(tt.expr)}}
			r := location{rng: rng, src: src, value: tt.value}.at(tt.from, tt.to)
			if got := string(src[r.Start.Byte:r.End.Byte]); got != tt.mark {
				t.Errorf("marks %q, want %q", got, tt.mark)
			}
		})
	}
}
