package workflows

import "testing"

func TestLoadOnFailure(t *testing.T) {
	set, diags := loadString(t, `
workflow "w" {
  step "call" "find" {
    url = "https://api.example.com/find"
  }
  on_failure {
    step "call" "notify" {
      url  = "https://hooks.example.com/alerts"
      json = { step = "{{ run.failed_step }}", error = "{{ run.error }}", found = "{{ steps.find.url }}" }
    }
  }
}
`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	wf := set.Workflow("w")
	if len(wf.OnFailure) != 1 || wf.OnFailure[0].Name != "on_failure/notify" || len(wf.Steps) != 1 {
		t.Fatalf("on_failure %+v, steps %d", wf.OnFailure, len(wf.Steps))
	}
	if s, i := wf.Step("on_failure/notify"); s != wf.OnFailure[0] || i != -1 {
		t.Errorf("Step(on_failure/notify) = %v, %d", s, i)
	}
	if s, _ := wf.Step("notify"); s != nil {
		t.Error("an on_failure step is not one of the workflow's own steps")
	}

	_, diags = loadString(t, `
workflow "w" {
  step "call" "find" {
    url = "https://api.example.com/find"
  }
  on_failure {
    step "call" "notify" {
      url = "https://hooks.example.com/{{ steps.nope.url }}"
    }
  }
}
`)
	if !diags.HasErrors() {
		t.Error("an on_failure step reading a step that does not exist loaded")
	}
}
