package workflows_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

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
