package admin

import (
	"encoding/json"
	"testing"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/workflows"
)

// The workflow view names each step's for_each and parallel block.
func TestWorkflowViewShowsForEachAndParallel(t *testing.T) {
	k := workflows.NewKinds()
	actions.Register(k, actions.Options{})
	set, diags := workflows.Load([]workflows.Source{{Name: "w.hcl", Data: []byte(`
workflow "order" {
  step "http" "reserve" {
    for_each     = "event.body.lines"
    max_parallel = 4
    url          = "https://wh.example.com/reserve/{{ each.value.sku }}"
  }
  parallel "notify" {
    step "http" "slack" {
      url = "https://hooks.example.com/slack"
    }
  }
}`)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	data, _ := json.Marshal(describe(set.Workflow("order")).Steps)
	want := `[{"name":"reserve","kind":"http","for_each":"event.body.lines","max_parallel":4},` +
		`{"name":"slack","kind":"http","parallel":"notify"}]`
	if string(data) != want {
		t.Errorf("steps %s\nwant  %s", data, want)
	}
}
