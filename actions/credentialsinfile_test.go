package actions

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/workflows"
)

// Every header named as a credential's whose value is written out in the file warns,
// at its value, with the secret() to read it with: Authorization, and X-Api-Key or
// Cookie as well, in an http step's headers (beside a header of {{ }} too) and in an
// api block's. A value read with secret() or from the run, a setting's word, and a
// name that only qualifies a credential do not.
func TestCredentialHeadersWrittenInTheFileWarn(t *testing.T) {
	t.Setenv("HOOKFLOW_TEST_KEY", "KeyFromTheEnv123")
	k := workflows.NewKinds()
	Register(k, Options{})
	_, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(`api "crm" {
  base_url = "https://crm.example.com"
  headers  = { X-Api-Key = "LiteralApiKey111" }
}
workflow "w" {
  step "http" "bearer" {
    url     = "https://x.example.com/"
    headers = { Authorization = "Bearer LiteralToken222" }
  }
  step "http" "keyed" {
    url     = "https://x.example.com/"
    headers = { X-Run = "{{ run.id }}", X-Api-Key = "LiteralApiKey333", Cookie = "sid=LiteralCookie444" }
  }
  step "http" "fine" {
    url     = "https://x.example.com/"
    headers = {
      X-Api-Key      = secret("HOOKFLOW_TEST_KEY")
      X-Auth-Token   = "{{ steps.keyed.body.token }}"
      X-Session      = "active"
      X-Api-Key-Name = "primary-key-9"
    }
  }
}`)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var got []string
	for _, d := range diags {
		if d.Severity == hcl.DiagWarning && d.Summary == "Credential written in the file" {
			got = append(got, d.Subject.String()+" "+d.Detail)
		}
	}
	want := []string{
		`t.hcl:3,28-46 The value of the X-Api-Key header is stored as the file is`,
		`Read it from the environment instead: headers = { X-Api-Key = secret("CRM_X_API_KEY") }.`,
		`t.hcl:8,33-57 The value of the Authorization header`,
		`headers = { Authorization = "Bearer ${secret("BEARER_TOKEN")}" }`,
		`t.hcl:12,53-71 The value of the X-Api-Key header`,
		`headers = { X-Api-Key = secret("KEYED_X_API_KEY") }`,
		`t.hcl:12,82-104 The value of the Cookie header`,
	}
	all := strings.Join(got, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("the warnings do not say %s:\n%s", w, all)
		}
	}
	if len(got) != 4 {
		t.Errorf("%d warnings, want 4:\n%s", len(got), all)
	}
}
