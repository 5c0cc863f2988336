package workflows_test

import (
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

// Of two workflows of one name, the one reported is the later in file order; on a
// reload, the one not where the workflow in use is written.
func TestDuplicateWorkflowReported(t *testing.T) {
	src := func(name string) workflows.Source {
		return workflows.Source{Name: name, Data: []byte("workflow \"hr\" {\n  step \"log\" \"l\" {\n    message = \"hi\"\n  }\n}\n")}
	}
	srcs := []workflows.Source{src("extra.hcl"), src("hr.hcl")}
	inUse, diags := workflows.Load(srcs[1:], realKinds())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	other, diags := workflows.Load([]workflows.Source{{Name: "other.hcl", Data: []byte("workflow \"other\" {\n  step \"log\" \"l\" {\n    message = \"hi\"\n  }\n}\n")}}, realKinds())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, tt := range []struct {
		name  string
		inUse *workflows.Set
		want  string // the file of the error
	}{
		{"no history: the later file", nil, "hr.hcl"},
		{"another workflow in use: the later file", other, "hr.hcl"},
		{"reload: the file that is not the one in use", inUse, "extra.hcl"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := workflows.LoadWith(srcs, realKinds(), workflows.Options{InUse: tt.inUse})
			if len(diags) != 1 || diags[0].Summary != `Duplicate workflow "hr"` || diags[0].Subject.Filename != tt.want {
				t.Fatalf("want one duplicate at %s, got %v", tt.want, diags)
			}
			if diags[0].Subject.Start.Line != 1 || diags[0].Subject.Start.Column != 10 {
				t.Errorf("at %v, want the name of the workflow", diags[0].Subject)
			}
		})
	}
}
