package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// A test's event of a webhook whose path has {name} segments has, as event.path, the
// path of the request its params stand for, as serve records it; a test that does not
// give a parameter, or gives one no request path carries, fails, saying what to write.
func TestWorkflowTestsWebhookPathParams(t *testing.T) {
	const workflow = `workflow "ev" {
  trigger "webhook" {
    path = "/ev/{id}/{kind}"
  }
  step "set" "seen" {
    path = "{{ event.path }}"
    id   = "{{ event.params.id }}"
  }
}
`
	for _, tc := range []struct {
		name, params string
		want         string // in the output
		code         int
	}{
		{"given", `{ id = "a b", kind = "paid" }`, "ok    t", 0},
		{"one not given", `{ id = "42" }`, `the event: the webhook's path /ev/{id}/{kind} takes {kind}, which the event's params do not give: write params = { kind = "…" }`, exitFailed},
		{"a value holding a slash", `{ id = "4/2", kind = "paid" }`, `params.id is "4/2", which no request to /hooks/ev/{id}/{kind} gives`, exitFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, t.TempDir(), map[string]string{"w.hcl": workflow, "w.test.hcl": `test "t" {
  workflow = "ev"
  event {
    params = ` + tc.params + `
  }
  expect "seen" {
    output = { path = "/ev/a b/paid", id = "a b" }
  }
}
`})
			out, code := hookflowTest(t, dir)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, want %d with %q:\n%s", code, tc.code, tc.want, out)
			}
		})
	}
}

// hookflow run --param gives the event's params, and its path is the request's; a
// segment not given is an error, as in a test.
func TestRunWebhookPathParams(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{"w.hcl": `workflow "ev" {
  trigger "webhook" {
    path = "/ev/{id}/{kind}"
  }
  step "set" "seen" {
    path = "{{ event.path }}"
  }
}
`})
	for _, tc := range []struct {
		params []string
		want   string
	}{
		{[]string{"--param", "id=a b", "--param", "kind=paid"}, `"path": "/ev/a b/paid"`},
	} {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"run", "--dir", dir, "--json", "ev"}, tc.params...), nil, &out, &out)
		if err != nil || !strings.Contains(out.String(), tc.want) {
			t.Errorf("%v: %v, want %s in:\n%s", tc.params, err, tc.want, out.String())
		}
	}
	for _, tc := range []struct {
		params []string
		want   string
	}{
		{[]string{"--param", "id"}, `--param "id": write it as NAME=VALUE`},
		{[]string{"--param", "id=42"}, `the webhook's path /ev/{id}/{kind} takes {kind}, which no --param gives: write --param kind=…, as a request to /hooks/ev/{id}/{kind} sets it`},
	} {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"run", "--dir", dir}, append(tc.params, "ev")...), nil, &out, &out)
		if code := exitStatus(err, &out); code != exitUsage || !strings.Contains(out.String(), tc.want) {
			t.Errorf("%v: exit %d, want %d with %q:\n%s", tc.params, code, exitUsage, tc.want, out.String())
		}
	}
}
