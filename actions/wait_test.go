package actions

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// A wait step's timeout defaults to a day and is bounded; resume_url must name one of
// the workflow's wait steps, as a string, in a step; a wait step has no for_each. Each
// mistake is reported at its file:line:col.
func TestWaitLoad(t *testing.T) {
	step := loadStep(t, nil, `step "wait" "approval" {}`)
	if step.Timeout != DefaultWait {
		t.Errorf("default timeout %s", step.Timeout)
	}
	if w := step.Action.(*Wait); w.Continues() || !w.Parks() {
		t.Errorf("default wait: continues %v, parks %v", w.Continues(), w.Parks())
	}
	if w := loadStep(t, nil, `step "wait" "approval" {
  timeout    = "72h"
  on_timeout = "continue"
}`); w.Timeout != 72*time.Hour || !w.Action.(*Wait).Continues() {
		t.Errorf("timeout %s, continues %v", w.Timeout, w.Action.(*Wait).Continues())
	}

	k := workflows.NewKinds()
	Register(k, Options{})
	for _, tc := range []struct{ name, src, want string }{
		{"not a wait step", `  step "log" "ask" {
    message = "approve: {{ resume_url('ask') }}"
  }
  step "wait" "approval" {}`, `t.hcl:3,39-44: resume_url names "ask", which is not a wait step; resume_url("ask") gives the URL that resumes the wait step "ask", but workflow "w" has no wait step of that name; its wait steps are approval.`},
		{"a typo", `  step "log" "ask" {
    message = "approve: {{ resume_url('aproval') }}"
  }
  step "wait" "approval" {}`, `t.hcl:3,39-48: resume_url names an unknown step "aproval"; resume_url("aproval") gives the URL that resumes the wait step "aproval", but workflow "w" has no wait step of that name; its wait steps are approval. Did you mean "approval"?`},
		{"no name", `  step "log" "ask" {
    message = "approve: {{ resume_url(event.body.step) }}"
  }
  step "wait" "approval" {}`, `t.hcl:3,28-38: resume_url needs a step's name`},
		{"in the filter", `  filter = "resume_url('approval') != ''"
  step "wait" "approval" {}`, `t.hcl:2,13-23: resume_url in the filter`},
		{"for_each", `  step "wait" "approval" {
    for_each = "event.body.items"
  }`, `t.hcl:3,16-34: No for_each on a wait step`},
		{"on_timeout", `  step "wait" "approval" {
    on_timeout = "retry"
  }`, `Invalid on_timeout "retry"`},
		{"too long", `  step "wait" "approval" {
    timeout = "400d"
  }`, `t.hcl:3,15-21: Timeout too long`},
		{"retry", `  step "wait" "approval" {
    retry {
      attempts = 3
    }
  }`, `t.hcl:3,5-10: No retry on a wait step; A wait step waits once, until it is resumed or its timeout passes: another attempt would wait again for the same answer. on_timeout says what its timeout does. Remove the retry block.`},
		{"retry on a workflow step", `  step "workflow" "child" {
    workflow = "other"
    retry {
      attempts = 3
    }
  }`, `t.hcl:4,5-10: No retry on a workflow step; A workflow step starts its child run once`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte("workflow \"w\" {\n" + tc.src + "\n}")}}, k)
			if !strings.Contains(diags.Error(), tc.want) {
				t.Errorf("got  %s\nwant %s", diags.Error(), tc.want)
			}
		})
	}
}

// Answered locally (hookflow test, a dry run), a wait step takes the resume it is
// given, or times out as its on_timeout says.
func TestWaitLocal(t *testing.T) {
	resume, err := workflows.NewResume("application/x-www-form-urlencoded", []byte("approved=yes&by=ada"),
		http.Header{"Cookie": {"s=1"}}, map[string][]string{"via": {"chat"}})
	if err != nil {
		t.Fatal(err)
	}
	answers := map[string]*workflows.Resume{"approval": resume}
	k := workflows.NewKinds()
	Register(k, Options{LocalResumes: func(c *workflows.Call) (*workflows.Resume, bool) {
		r, ok := answers[c.Step]
		return r, ok
	}})
	set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(`
workflow "w" {
  step "wait" "approval" {}
  step "wait" "other" {
    on_timeout = "continue"
  }
  step "wait" "strict" {}
}`)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	steps := set.Workflow("w").Steps
	if steps[0].Action.(*Wait).Parks() {
		t.Error("a wait answered locally parks")
	}
	do := func(s *workflows.Step) (any, error) {
		return s.Action.Do(context.Background(), &workflows.Call{Step: s.Name, Env: &workflows.Env{}})
	}
	out, err := do(steps[0])
	want := map[string]any{"body": map[string]any{"approved": "yes", "by": "ada"},
		"headers": map[string]any{"cookie": workflows.Redacted}, "query": map[string]any{"via": "chat"}, "timed_out": false}
	if err != nil || !reflect.DeepEqual(out, want) {
		t.Errorf("resumed: %v %v", out, err)
	}
	if out, err := do(steps[1]); err != nil || out.(map[string]any)["timed_out"] != true {
		t.Errorf("timed out, continuing: %v %v", out, err)
	}
	if _, err := do(steps[2]); !errors.Is(err, workflows.ErrWaitTimedOut) {
		t.Errorf("timed out, failing: %v", err)
	}
}
