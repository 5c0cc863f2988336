package workflows_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

// TestUnknownVarAtRunTime: vars.NAME in a run-time expression that names no var is a
// load error at the name, wherever expressions are written, as it is in ${}.
func TestUnknownVarAtRunTime(t *testing.T) {
	const vars = `vars { channel = "#x" }` + "\n"
	tests := []struct {
		name, src, at, says string
	}{
		{"in the filter", vars + `workflow "w" {
  filter = "vars.chanel == '#x'"
  step "log" "l" { message = "m" }
}`, "3:18", `Did you mean "channel"?`},
		{"in a template", vars + `workflow "w" {
  step "log" "l" { message = "{{ event.id }} {{ vars.nope }}" }
}`, "3:54", "The vars are: channel."},
		{"in an if", vars + `workflow "w" {
  step "log" "l" {
    if      = "vars['chanel'] != nil"
    message = "m"
  }
}`, "4:21", `Did you mean "channel"?`},
		{"in a for_each", vars + `workflow "w" {
  step "log" "l" {
    for_each = "vars.items"
    message  = "{{ each.value }}"
  }
}`, "4:22", "The vars are: channel."},
		{"in a trigger", vars + `workflow "w" {
  trigger "webhook" {
    path   = "/in"
    dedupe = "{{ event.body.id }}-{{ vars.pth }}"
  }
  step "log" "l" { message = "m" }
}`, "5:43", "The vars are: channel."},
		{"in an on_failure step", vars + `workflow "w" {
  step "log" "l" { message = "m" }
  on_failure {
    step "log" "alert" { message = "{{ vars.chanel }}" }
  }
}`, "5:45", `Did you mean "channel"?`},
		{"in a paginate block", vars + `workflow "w" {
  step "http" "h" {
    url = "https://x.example.com/a"
    paginate {
      next  = "vars.next"
      items = "response.body"
    }
  }
}`, "6:21", "The vars are: channel."},
		{"in a poll's key", vars + `workflow "w" {
  trigger "poll" {
    every = "1m"
    url   = "https://x.example.com/a"
    items = "response.body"
    key   = "item.id + vars.chanel"
  }
  step "log" "l" { message = "m" }
}`, "7:29", `Did you mean "channel"?`},
		{"in a poll's request", vars + `workflow "w" {
  trigger "poll" {
    every = "1m"
    url   = "https://x.example.com/{{ vars.chanel }}"
    items = "response.body"
    key   = "item.id"
  }
  step "log" "l" { message = "m" }
}`, "5:44", `Did you mean "channel"?`},
		{"without vars", `workflow "w" {
  step "log" "l" { message = "{{ vars.channel }}" }
}`, "2:39", "there are no vars"},
	}
	k := realKinds()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := workflows.Load([]workflows.Source{{Name: "w.hcl", Data: []byte(tt.src)}}, k)
			if len(diags) != 1 {
				t.Fatalf("want one error, got %s", diags.Error())
			}
			d := diags[0]
			at := fmt.Sprintf("%d:%d", d.Subject.Start.Line, d.Subject.Start.Column)
			if !strings.HasPrefix(d.Summary, "Unknown var ") || at != tt.at || !strings.Contains(d.Detail, tt.says) {
				t.Errorf("got %s %s: %s\nwant an unknown var at %s saying %q", at, d.Summary, d.Detail, tt.at, tt.says)
			}
		})
	}

	// A var named by an expression is known only when it runs.
	ok := vars + `workflow "w" {
  filter = "vars.channel == '#x' && vars[event.body.which] != nil"
  step "log" "l" { message = "{{ vars.channel }} {{ vars }}" }
}`
	if _, diags := workflows.Load([]workflows.Source{{Name: "w.hcl", Data: []byte(ok)}}, k); diags.HasErrors() {
		t.Errorf("valid reads of vars refused: %s", diags.Error())
	}
}
