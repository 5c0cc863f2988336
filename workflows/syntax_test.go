package workflows

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// GitHub Actions' ${{ }} is reported once, with what hookflow writes in its place: a
// secret and the environment are read when the file loads, github.event is the event's
// body, and the rest of the github context has no equivalent.
func TestGitHubExpressionSaysWhatToWrite(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{`headers = { Authorization = "Bearer ${{ secrets.CRM_TOKEN }}" }`, `write ${secret("CRM_TOKEN")} in its place.`},
		{`json = { path = "/${{ env.CRM_PATH }}" }`, `write ${env("CRM_PATH")} in its place.`},
		{`json = { by = "${{ github.actor }}" }`, `hookflow has no github context: a run reads its event (event.body, event.headers)`},
		{`json = { ok = "${{ github.ref == 'refs/heads/main' }}" }`, `hookflow has no github context`},
		{`json = { id = "${{ github.event.head_commit.id }}" }`, `Did you mean "{{ event.body.head_commit.id }}"?`},
		{`json = { path = "/${{ event.body.id }}" }`, `Did you mean "{{ event.body.id }}"?`},
		{`if = "${{ github.event.action == 'opened' }}"`, `Did you mean if = "event.body.action == 'opened'"?`},
	} {
		t.Run(tc.line, func(t *testing.T) {
			_, diags := loadString(t, "workflow \"w\" {\n  step \"call\" \"a\" {\n    url = \"https://crm.example.com/\"\n    "+tc.line+"\n  }\n}\n")
			if len(diags) != 1 || diags[0].Summary != "GitHub Actions' ${{ }} in a hookflow file" || !strings.Contains(diags[0].Detail, tc.want) {
				t.Errorf("got %s, want one that says %q", diags.Error(), tc.want)
			}
		})
	}
}

// $${{ is HCL's escape, no GitHub Actions expression: the $ is text and the {{ a
// template's, which says how to write it as text; written so, it is sent as it is.
func TestEscapedGitHubExpression(t *testing.T) {
	_, diags := loadString(t, "workflow \"w\" {\n  step \"call\" \"a\" {\n    url = \"https://ci.example.com/\"\n    json = { sha = \"$${{ github.sha }}\" }\n  }\n}\n")
	if len(diags) != 1 || diags[0].Summary != `Unknown name "github"` ||
		!strings.HasSuffix(diags[0].Detail, `To send it as text, write its {{ as {{ '{{' }}: "$${{ '{{' }} github.sha }}".`) {
		t.Errorf("got %s", diags.Error())
	}
	_, diags = loadString(t, "workflow \"w\" {\n  step \"call\" \"a\" {\n    url = \"https://ci.example.com/\"\n"+
		"    json = { sha = \"$${{ '{{' }} github.sha }}\" }\n  }\n}\n")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	// What HCL makes of "$${{ '{{' }} github.sha }}":
	if v, ok := compileT(t, "${{ '{{' }} github.sha }}").Const(); !ok || v != "${{ github.sha }}" {
		t.Errorf("the text is %v (%v), want ${{ github.sha }}", v, ok)
	}
}

// An error of HCL's own inside a $${{ … }} is reported as HCL says: the $${ is its
// escape, no GitHub Actions expression.
func TestEscapedGitHubExpressionKeepsHCLsError(t *testing.T) {
	_, diags := loadString(t, "workflow \"w\" {\n  step \"call\" \"a\" {\n    url = \"https://ci.example.com/\"\n"+
		"    json = { sha = \"$${{ github\\q }}\" }\n  }\n}\n")
	if len(diags) != 1 || diags[0].Summary != "Invalid escape sequence" {
		t.Errorf("got %s, want HCL's Invalid escape sequence", diags.Error())
	}
}

// GitHub Actions' names read without ${{ }}, in a condition or a {{ }}, are told what
// their ${{ … }} form is told: how hookflow writes them.
func TestGitHubNamesWithoutBraces(t *testing.T) {
	for _, tc := range []struct{ attr, bare, braced string }{
		{"if", `github.event.action == 'opened'`, `${{ github.event.action == 'opened' }}`},
		{"if", `github.event.action == 'opened' && github.event.sender.login != 'bot'`,
			`${{ github.event.action == 'opened' && github.event.sender.login != 'bot' }}`},
		{"if", `secrets.TOKEN == 'x'`, `${{ secrets.TOKEN == 'x' }}`},
		{"if", `env.STAGE == 'prod'`, `${{ env.STAGE == 'prod' }}`},
		{"json", `{{ github.event.action }}`, `${{ github.event.action }}`},
		{"json", `{{ github.sha }}`, `${{ github.sha }}`},
		{"json", `{{ secrets.TOKEN }}`, `${{ secrets.TOKEN }}`},
		{"json", `{{ env.STAGE }}`, `${{ env.STAGE }}`},
		{"json", `{{ 'Bearer ' + secrets.TOKEN }}`, `${{ 'Bearer ' + secrets.TOKEN }}`},
	} {
		t.Run(tc.bare, func(t *testing.T) {
			load := func(value string) *hcl.Diagnostic {
				_, diags := loadString(t, "workflow \"w\" {\n  step \"call\" \"a\" {\n    url = \"https://ci.example.com/\"\n    "+
					tc.attr+" = \""+value+"\"\n  }\n}\n")
				if len(diags) != 1 {
					t.Fatalf("%s: got %s, want one error", value, diags.Error())
				}
				return diags[0]
			}
			bare, braced := load(tc.bare), load(tc.braced)
			_, hint, ok := strings.Cut(bare.Detail, "GitHub Actions' name for ")
			if _, hint, _ = strings.Cut(hint, ". "); !ok || hint == "" {
				t.Fatalf("%q does not say it is GitHub Actions' name: %s", tc.bare, bare.Detail)
			}
			if !strings.HasSuffix(braced.Detail, " "+hint) {
				t.Errorf("%q is told %q\nwhere %q is told %q", tc.bare, hint, tc.braced, braced.Detail)
			}
		})
	}
}
