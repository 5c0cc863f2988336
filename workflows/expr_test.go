package workflows

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
)

// A pipe into a bare name gets a hint whose two spellings both compile.
func TestPipeHint(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"x | upper", "A pipe goes into a function call: write upper(x) or x | upper()."},
		{"x | upper | trim", "A pipe goes into a function call: write upper(x) or x | upper()."},
		{"x | lower() | trim", "A pipe goes into a function call: write trim(x | lower()) or x | lower() | trim()."},
		{"xs | len > 0", "A pipe goes into a function call: write len(xs) or xs | len()."},
		{"join([x | upper, 'b'], ',')", "A pipe goes into a function call: write upper(x) or x | upper()."},
		{"ok ? x | upper : 'no'", "A pipe goes into a function call: write upper(x) or x | upper()."},
		{"(x + 'a') | upper", "A pipe goes into a function call: write upper((x + 'a')) or (x + 'a') | upper()."},
		{"x | upper()", ""},
		{"| upper", ""},
		{"x >", ""},
	} {
		t.Run(tc.src, func(t *testing.T) {
			env := map[string]any{"x": "a", "xs": []any{"a"}, "ok": true}
			_, err := expr.Compile(tc.src, expr.Env(env))
			var fe *file.Error
			if !errors.As(err, &fe) {
				if tc.want != "" {
					t.Fatalf("compiles: %v", err)
				}
				return
			}
			got := pipeHint(tc.src, fe)
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if got == "" {
				return
			}
			m := regexp.MustCompile(`write (.+) or (.+)\.$`).FindStringSubmatch(got)
			for _, fix := range m[1:] {
				if _, err := expr.Compile(fix, expr.Env(env)); err != nil {
					t.Errorf("%q does not compile: %v", fix, err)
				}
			}
		})
	}
}

// JavaScript's === and !== get == and != suggested, in place of the whole operator,
// and what is suggested compiles.
func TestStrictEquality(t *testing.T) {
	for _, tc := range []struct{ src, summary, fix string }{
		{"event.body.a === 'x'", "Use == to compare", "event.body.a == 'x'"},
		{"event.body.a !== 'x'", "Use != to compare", "event.body.a != 'x'"},
		{"event.body.n===1 && event.body.m !== 2", "Use == to compare", "event.body.n==1 && event.body.m !== 2"},
		{"event.body.a = 'x'", "Use == to compare", "event.body.a == 'x'"},
	} {
		t.Run(tc.src, func(t *testing.T) {
			_, diags := compileCondition(tc.src, location{})
			if len(diags) != 1 {
				t.Fatalf("got %d diagnostics: %v", len(diags), diags)
			}
			d := diags[0]
			if d.Summary != tc.summary {
				t.Errorf("summary %q, want %q", d.Summary, tc.summary)
			}
			if want := `Did you mean "` + tc.fix + `"?`; !strings.HasSuffix(d.Detail, want) {
				t.Errorf("detail %q, want it to end %s", d.Detail, want)
			}
			if strings.Contains(tc.src, "==") && !strings.Contains(d.Detail, "JavaScript") {
				t.Errorf("detail %q does not say === is JavaScript's", d.Detail)
			}
		})
	}
}
