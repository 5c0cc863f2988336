package workflows_test

import (
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

// A workflow naming an api defined in another file is built from both: another
// process loading its sources gets the same workflow.
func TestAPIFileIsPartOfItsWorkflowsSources(t *testing.T) {
	srcs := []workflows.Source{
		{Name: "apis.hcl", Data: []byte(`api "crm" {
  base_url = "https://crm.example.com/api"
  auth "bearer" { token = "tok-123456" }
}`)},
		{Name: "sync.hcl", Data: []byte(`workflow "sync" {
  step "http" "find" {
    api = "crm"
    url = "/customers"
  }
}`)},
	}
	set, diags := workflows.Load(srcs, realKinds())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	wf := set.Workflow("sync")
	if len(wf.Sources) != 2 {
		t.Fatalf("sources = %d files, want the workflow's and the api's", len(wf.Sources))
	}
	again, diags := workflows.Load(wf.Sources, realKinds())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if v := again.Workflow("sync").Version; v != wf.Version {
		t.Errorf("version %s loaded again from its sources, want %s", v, wf.Version)
	}
	if got := wf.Secrets.String("Bearer tok-123456"); got != "Bearer [redacted]" {
		t.Errorf("an api's token is not hidden like a secret: %q", got)
	}
	if apis := set.APIs(); len(apis) != 1 || apis[0].Name != "crm" {
		t.Errorf("APIs() = %v", apis)
	}
}
