package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// A test's event of a trigger kind its workflow does not have is a load error at the
// attribute, under hookflow test and validate alike, naming the workflow's triggers;
// manual starts any workflow.
func TestWorkflowTestsEventOfAnotherTrigger(t *testing.T) {
	const workflow = `workflow "orders" {
  trigger "webhook" {
    path = "/orders"
  }
  trigger "schedule" {
    every = "1h"
  }
  step "log" "a" {
    message = "hi"
  }
}

workflow "notify" {
  step "log" "a" {
    message = "hi"
  }
}
`
	for _, tc := range []struct {
		name, test string
		want       []string // in the output; none: the test passes
	}{
		{"a trigger kind the workflow does not have", `test "t" {
  workflow = "orders"
  event {
    trigger = "poll"
  }
}
`, []string{"Error: Trigger the workflow does not have", "w.test.hcl:4:15",
			`Workflow "orders" has no poll trigger, so no poll event starts it; its triggers are webhook, schedule.`}},
		{"a workflow without triggers", `test "t" {
  workflow = "notify"
  event {
    trigger = "webhook"
  }
}
`, []string{"w.test.hcl:4:15", `Workflow "notify" has no trigger, so no webhook event starts it`, `trigger = "manual"`}},
		{"one of its triggers", "test \"t\" {\n  workflow = \"orders\"\n  event {\n    trigger = \"schedule\"\n  }\n}\n", nil},
		{"manual", "test \"t\" {\n  workflow = \"notify\"\n  event {\n    trigger = \"manual\"\n  }\n}\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, t.TempDir(), map[string]string{"w.hcl": workflow, "w.test.hcl": tc.test})
			for _, cmd := range []string{"test", "validate"} {
				var out bytes.Buffer
				err := run(context.Background(), []string{cmd, dir}, nil, &out, &out)
				code := exitStatus(err, &out)
				said := strings.Join(strings.Fields(out.String()), " ") // as the diagnostic's lines are wrapped
				if tc.want == nil {
					if code != 0 {
						t.Errorf("hookflow %s: exit %d:\n%s", cmd, code, out.String())
					}
					continue
				}
				if code != exitFailed {
					t.Errorf("hookflow %s: exit %d, want %d:\n%s", cmd, code, exitFailed, out.String())
				}
				for _, want := range tc.want {
					if !strings.Contains(said, strings.Join(strings.Fields(want), " ")) {
						t.Errorf("hookflow %s: output lacks %q:\n%s", cmd, want, out.String())
					}
				}
			}
		})
	}
}
