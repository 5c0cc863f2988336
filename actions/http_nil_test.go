package actions

import (
	"strings"
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

// A URL whose path or host would get nil fails the step, naming the reference that
// gave it and where it went missing, and sends nothing: PATCH /customers/ is not
// PATCH /customers/cus_1 without the id.
func TestHTTPStepFailsOnANilInTheURL(t *testing.T) {
	srv, got := recorder(t, 200, `{"id": "cus_1", "name": "Ada"}`)
	k := workflows.NewKinds()
	Register(k, Options{Client: NewClient(NewGuard(loopback))})
	src := `workflow "w" {
  step "http" "find_customer" {
    url = "` + srv.URL + `/customers"
  }
  step "http" "by_id" {
    method = "PATCH"
    url    = "` + srv.URL + `/customers/{{ steps.find_customer.id }}"
  }
  step "http" "by_body_id" {
    method = "PATCH"
    url    = "` + srv.URL + `/customers/{{ steps.find_customer.body.id }}?note={{ event.body.note }}"
  }
  step "http" "host" {
    url = "http://{{ event.body.region }}.example.com/x"
  }
  step "http" "whole" {
    url = "{{ steps.find_customer.body.next }}"
  }
}`
	set, diags := workflows.Load([]workflows.Source{{Name: "w.hcl", Data: []byte(src)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	steps := set.Workflow("w").Steps

	// The first step really runs; later steps read its output as the engine gives it.
	out, err := call(steps[0], &workflows.Env{})
	if err != nil {
		t.Fatal(err)
	}
	<-got
	found := out.(map[string]any)
	found["outcome"] = "succeeded"
	env := &workflows.Env{Event: map[string]any{"body": map[string]any{}}, Steps: map[string]any{"find_customer": found}}

	for i, want := range []string{
		"url: steps.find_customer.id is nil (steps.find_customer: no field id; did you mean steps.find_customer.body.id?)",
		"", // a nil in the query is left out
		"url: event.body.region is nil (event.body: no field region)",
		"url: steps.find_customer.body.next is nil (steps.find_customer.body: no field next)",
	} {
		step := steps[i+1]
		_, err := call(step, env)
		if want == "" {
			if err != nil {
				t.Errorf("%s: %v", step.Name, err)
			} else if r := <-got; r.path != "/customers/cus_1" || r.query != "note=" {
				t.Errorf("%s: sent %s?%s", step.Name, r.path, r.query)
			}
			continue
		}
		if err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", step.Name, err, want)
		}
		if isRetryable(err) {
			t.Errorf("%s: %v is retried; the same values fail the same way", step.Name, err)
		}
	}
	select {
	case r := <-got:
		t.Errorf("sent %s %s", r.method, r.path)
	default:
	}
}

// An empty value that is a whole path segment fails the step as a nil does, and
// sends nothing: GET /path//end is GET /path/end to many servers and proxies, and
// POST /each/ (a for_each map's key "") is the list, not an item.
func TestHTTPStepFailsOnAnEmptyPathSegment(t *testing.T) {
	srv, got := recorder(t, 200, `{}`)
	client := NewClient(NewGuard(loopback))
	for _, tt := range []struct {
		step string
		env  *workflows.Env
		want string
	}{
		{`step "http" "a" { url = "` + srv.URL + `/path/{{ event.body.v }}/end" }`,
			&workflows.Env{Event: map[string]any{"body": map[string]any{"v": ""}}}, "url: {{ event.body.v }}: the value is empty, and it is the whole path segment"},
		{`step "http" "a" {
    for_each = "event.body.m"
    method   = "POST"
    url      = "` + srv.URL + `/each/{{ each.key }}?v={{ each.value }}"
  }`, &workflows.Env{Event: map[string]any{"body": map[string]any{"m": map[string]any{"": 3}}}, Each: map[string]any{"key": "", "value": 3}},
			"url: {{ each.key }}: the value is empty, and it is the whole path segment"},
	} {
		step := loadStep(t, client, tt.step)
		_, err := call(step, tt.env)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) || !strings.HasSuffix(err.Error(), "a value alone in a path segment may not be empty") {
			t.Errorf("%s:\n got %v\nwant %s…", tt.step, err, tt.want)
		}
		if isRetryable(err) {
			t.Errorf("%v is retried; the same values fail the same way", err)
		}
	}
	select {
	case r := <-got:
		t.Errorf("sent %s %s?%s", r.method, r.path, r.query)
	default:
	}
}
