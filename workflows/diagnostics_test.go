package workflows_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/hookflow/hookflow/workflows"
)

// TestCredentialNeverPrinted: a credential written in the file is named by its
// warning, never printed by it: the golden files of that warning hold none of the
// values their .hcl writes out.
func TestCredentialNeverPrinted(t *testing.T) {
	for name, values := range map[string][]string{
		"credential_in_file":              {"SuperSecretClientValue123", "crm-token-in-the-file", "ship-token-in-the-file"},
		"api_refresh_grant_without_token": {"s3cr3t-value"},
		// An error beside the credential keeps the load from warning of it: the
		// snippet masks it all the same, found from the file's syntax.
		"credential_beside_an_error": {"TOPSECRET2-in-the-file"},
		"credential_in_verify":       {"gh-secret-in-the-file", "basic-pw-in-the-file", "bearer-token-in-the-file"},
		// The value of a credential whose own expression is the error (HCL's
		// diagnostics): alone, in a heredoc, in a list, in a var a credential reads,
		// in a nested object, in a file that does not parse.
		"credential_in_an_error":         {"CLIENTSECRET_literal_222"},
		"credential_heredoc_in_an_error": {"HEREDOC_TOKEN_333"},
		"credential_list_in_an_error":    {"LISTSECRET_444", "LISTSECRET_555"},
		"credential_var_in_an_error":     {"VARSECRET_666", "VARSECRET_777", "NESTEDSECRET_888"},
		"credential_unparsed":            {"UNPARSED_SECRET_999"},
	} {
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join("testdata", "errors", name+".hcl"))
			if err != nil {
				t.Fatal(err)
			}
			golden, err := os.ReadFile(filepath.Join("testdata", "errors", name+".txt"))
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range values {
				if !bytes.Contains(src, []byte(v)) {
					t.Fatalf("%s.hcl does not write %q", name, v)
				}
				if bytes.Contains(golden, []byte(v)) {
					t.Errorf("%s.txt prints the credential %q", name, v)
				}
			}
			if !bytes.Contains(golden, []byte(workflows.Redacted)) {
				t.Errorf("%s.txt shows no %s", name, workflows.Redacted)
			}
			// What validate --format json, a reload's log and /api/v1/status show.
			_, diags := workflows.Load([]workflows.Source{{Name: name + ".hcl", Data: src}}, realKinds())
			for _, d := range diags {
				for _, v := range values {
					if strings.Contains(d.Summary+d.Detail, v) {
						t.Errorf("diagnostic %q: %q quotes the credential %q", d.Summary, d.Detail, v)
					}
				}
			}
		})
	}
}

// TestMaskedSnippet: the value of a diagnostic marked MaskValue is masked in every
// snippet that shows its line, with the carets still under what each points at.
func TestMaskedSnippet(t *testing.T) {
	const line = `  headers = { Authorization = "Bearer tok", X = bad }`
	src := []workflows.Source{{Name: "a.hcl", Data: []byte("x = 1\n" + line + "\n")}}
	at := func(text string) *hcl.Range {
		i := strings.Index(line, text)
		start := hcl.Pos{Line: 2, Column: i + 1, Byte: 6 + i}
		end := hcl.Pos{Line: 2, Column: i + len(text) + 1, Byte: 6 + i + len(text)}
		return &hcl.Range{Filename: "a.hcl", Start: start, End: end}
	}
	credential := &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Credential written in the file",
		Subject: at(`"Bearer tok"`), Extra: workflows.MaskValue{}}
	tests := []struct {
		name string
		diag *hcl.Diagnostic
		want string // the snippet: the line and its carets
	}{
		{"its own", credential, "" +
			`     2:   headers = { Authorization = [redacted], X = bad }` + "\n" +
			`                                      ^^^^^^^^^^` + "\n"},
		{"after it", &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Bad", Subject: at("bad")}, "" +
			`     2:   headers = { Authorization = [redacted], X = bad }` + "\n" +
			`                                                      ^^^` + "\n"},
		{"before it", &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Bad", Subject: at("Authorization")}, "" +
			`     2:   headers = { Authorization = [redacted], X = bad }` + "\n" +
			`                      ^^^^^^^^^^^^^` + "\n"},
		{"around it", &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Bad", Subject: at(`{ Authorization = "Bearer tok", X = bad }`)}, "" +
			`     2:   headers = { Authorization = [redacted], X = bad }` + "\n" +
			`                    ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diags := hcl.Diagnostics{tt.diag}
			if tt.diag != credential {
				diags = append(diags, credential)
			}
			var out bytes.Buffer
			if err := workflows.WriteDiagnostics(&out, src, diags); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out.String(), "tok") {
				t.Errorf("the credential is printed:\n%s", out.String())
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Errorf("got\n%s\nwant the snippet\n%s", out.String(), tt.want)
			}
		})
	}
}

// TestHideWrittenCredentials: a diagnostic that quotes a credential's value written in
// the file, in its summary or detail, has it [redacted] there too, in the diagnostics
// Load returns (for validate --format json and the status API) and in the text.
func TestHideWrittenCredentials(t *testing.T) {
	src := []byte(`api "a" {
  base_url = "https://api.example.com"
  auth "bearer" {
    token = "QUOTED_TOKEN_123"
  }
}
`)
	f, diags := hclparse.NewParser().ParseHCL(src, "a.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: `Bad token "QUOTED_TOKEN_123"`,
		Detail: `"QUOTED_TOKEN_123" is no token.`, Subject: &hcl.Range{Filename: "a.hcl",
			Start: hcl.Pos{Line: 2, Column: 3, Byte: 12}, End: hcl.Pos{Line: 2, Column: 11, Byte: 20}}}
	var text bytes.Buffer
	if err := workflows.WriteDiagnostics(&text, []workflows.Source{{Name: "a.hcl", Data: src}}, hcl.Diagnostics{d}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text.String(), "QUOTED_TOKEN_123") || !strings.Contains(text.String(), `Bad token "[redacted]"`) {
		t.Errorf("the text shows the token:\n%s", text.String())
	}
	if d.Detail != `"QUOTED_TOKEN_123" is no token.` {
		t.Errorf("WriteDiagnostics changed the diagnostic: %q", d.Detail)
	}
	all := hcl.Diagnostics{d}
	workflows.HideWrittenCredentials(map[string]*hcl.File{"a.hcl": f}, all)
	if all[0].Summary != `Bad token "[redacted]"` || all[0].Detail != `"[redacted]" is no token.` {
		t.Errorf("hidden: %q, %q", all[0].Summary, all[0].Detail)
	}
}

// TestSnippetEscapes: a snippet shows a byte that is not UTF-8 and a control character
// as escapes, never as they are, with the carets under what the range points at.
func TestSnippetEscapes(t *testing.T) {
	const line = "  # caf\xe9 \x1b[2J\u202e bad"
	src := []workflows.Source{{Name: "a.hcl", Data: []byte("x = 1\n" + line + "\n")}}
	i := strings.Index(line, "bad")
	at := &hcl.Range{Filename: "a.hcl", Start: hcl.Pos{Line: 2, Column: 13, Byte: 6 + i}, End: hcl.Pos{Line: 2, Column: 16, Byte: 6 + i + 3}}
	var out bytes.Buffer
	if err := workflows.WriteDiagnostics(&out, src, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Bad", Subject: at}}); err != nil {
		t.Fatal(err)
	}
	const shown = `  # caf\xe9 \u001b[2J\u202e `
	want := "     2: " + shown + "bad\n" + strings.Repeat(" ", 8+len(shown)) + "^^^\n"
	if !strings.Contains(out.String(), want) {
		t.Errorf("got\n%s\nwant the snippet\n%s", out.String(), want)
	}
	if !utf8.Valid(out.Bytes()) || strings.ContainsAny(out.String(), "\x1b\u202e") {
		t.Errorf("the snippet holds what a terminal would act on: %q", out.String())
	}
}

// TestSnippetDisplayWidth: the carets stand under what the range points at however
// wide on a terminal the characters before it are: two columns for an East Asian wide
// or fullwidth character and for an emoji (with its modifiers, joiners and selector),
// none for a combining mark, one for a tab, which prints as a space.
func TestSnippetDisplayWidth(t *testing.T) {
	tests := []struct {
		name   string
		before string // the text of the line before the range
		width  int    // its width on a terminal
	}{
		{"ASCII", `  message = "hello `, 19},
		{"CJK", `  message = "日本語 `, 13 + 6 + 1},
		{"fullwidth", `  message = "ｆｕｌｌ `, 13 + 8 + 1},
		{"emoji", `  message = "🎉 ✅ `, 13 + 2 + 1 + 2 + 1},
		{"emoji with a skin tone", `  message = "👍🏽 `, 13 + 2 + 1},
		{"emoji joined", `  message = "👨‍👩‍👧 `, 13 + 2 + 1},
		{"emoji presentation selector", `  message = "❤️ `, 13 + 2 + 1},
		{"flag", `  message = "🇯🇵 `, 13 + 2 + 1},
		{"combining marks", "  message = \"e\u0301e\u0300\u0323 ", 13 + 2 + 1},
		{"tab", "\tmessage = \"日本 ", 1 + 11 + 4 + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := tt.before + `{{ steps.fnd.id }}"`
			src := []workflows.Source{{Name: "a.hcl", Data: []byte("x = 1\n" + line + "\n")}}
			i := strings.Index(line, "fnd")
			at := &hcl.Range{Filename: "a.hcl",
				Start: hcl.Pos{Line: 2, Column: utf8.RuneCountInString(line[:i]) + 1, Byte: 6 + i},
				End:   hcl.Pos{Line: 2, Column: utf8.RuneCountInString(line[:i]) + 4, Byte: 6 + i + 3}}
			var out bytes.Buffer
			if err := workflows.WriteDiagnostics(&out, src, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Bad", Subject: at}}); err != nil {
				t.Fatal(err)
			}
			want := strings.Repeat(" ", 8+tt.width+len("{{ steps.")) + "^^^\n"
			if !strings.Contains(out.String(), "\n"+want) {
				t.Errorf("got\n%s\nwant the carets\n%s", out.String(), want)
			}
		})
	}
}
