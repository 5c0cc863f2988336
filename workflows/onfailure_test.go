package workflows

import (
	"fmt"
	"strings"
	"testing"
)

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

// The steps of an on_failure block cannot read each other, nor each: the errors say
// so, rather than call the step unknown or suggest for_each, which on_failure forbids.
func TestOnFailureReferenceErrors(t *testing.T) {
	onFailure := func(body string) string {
		return "workflow \"w\" {\n  step \"call\" \"s\" { url = \"https://x\" }\n  on_failure {\n" +
			"    step \"call\" \"p\" { url = \"https://x\" }\n    step \"call\" \"q\" {\n" + body + "\n    }\n  }\n}"
	}
	for _, c := range []struct{ name, src, at, says string }{
		{"another on_failure step", onFailure(`      url = "https://x/{{ steps.p.body }}"`), "f1.hcl:6:33",
			`on_failure step "q" reads on_failure step "p": The steps of an on_failure block cannot read each other: they read the workflow's steps, and run.error and run.failed_step. Steps of the workflow: s.`},
		{"each", onFailure(`      url = "https://x/{{ each.value }}"`), "f1.hcl:6:27",
			`each outside a for_each step: each is the current item of a for_each step; on_failure step "q" has none, and for_each is not allowed in on_failure`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, diags := loadString(t, c.src)
			if !diags.HasErrors() {
				t.Fatal("want an error")
			}
			d := diags[0]
			at := fmt.Sprintf("%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
			if at != c.at || !strings.Contains(d.Summary+": "+d.Detail, c.says) {
				t.Errorf("got %s %s: %s\nwant %s saying %q", at, d.Summary, d.Detail, c.at, c.says)
			}
			if strings.Contains(d.Detail, "Did you mean") || strings.Contains(d.Detail, "Add for_each") {
				t.Errorf("misleads: %s", d.Detail)
			}
		})
	}
}
