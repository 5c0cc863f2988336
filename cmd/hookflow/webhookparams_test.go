package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/redistest"
)

// twoWebhooks is a workflow with a webhook with a {name} segment and one without, of
// other methods.
const twoWebhooks = `workflow "ev" {
  trigger "webhook" {
    path = "/orders/{id}"
  }
  trigger "webhook" {
    path   = "/ping"
    method = "PUT"
  }
  step "set" "seen" {
    path   = "{{ event.path }}"
    method = "{{ event.method }}"
  }
}
`

// A test's params pick which of the workflow's webhooks its event is: the one whose
// {name} segments they name, one without segments for none. event.path and
// event.method are that webhook's. Params that name the segments of none fail the
// test, saying what picks each.
func TestWorkflowTestsWebhookPickedByParams(t *testing.T) {
	for _, tc := range []struct {
		name, event, output string
		want                string // in the output
		code                int
	}{
		{"no params: the webhook without segments", `trigger = "webhook"`, `{ path = "/ping", method = "PUT" }`, "ok    t", 0},
		{"no trigger, no params", ``, `{ path = "/ping", method = "PUT" }`, "ok    t", 0},
		{"params of the first", `params = { id = "7" }`, `{ path = "/orders/7", method = "POST" }`, "ok    t", 0},
		{"params of none", `params = { sku = "7" }`, `{}`,
			`the event's params (sku) are the {name} segments of none of the workflow's webhooks; to pick one, write params = { id = "…" } for /orders/{id}; no params for /ping`, exitFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, t.TempDir(), map[string]string{"w.hcl": twoWebhooks, "w.test.hcl": `test "t" {
  workflow = "ev"
  event {
    ` + tc.event + `
  }
  expect "seen" {
    output = ` + tc.output + `
  }
}
`})
			out, code := hookflowTest(t, dir)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, want %d with %q:\n%s", code, tc.code, tc.want, out)
			}
		})
	}
	// Without params, when every webhook has segments.
	dir := writeFiles(t, t.TempDir(), map[string]string{"w.hcl": strings.Replace(twoWebhooks, `"/ping"`, `"/items/{sku}"`, 1),
		"w.test.hcl": `test "t" {
  workflow = "ev"
}
`})
	want := `the event gives no params, and every webhook of the workflow has {name} segments; to pick one, write params = { id = "…" } for /orders/{id}; params = { sku = "…" } for /items/{sku}`
	if out, code := hookflowTest(t, dir); code != exitFailed || !strings.Contains(out, want) {
		t.Errorf("exit %d, want %d with %q:\n%s", code, exitFailed, want, out)
	}
}

// A served run of a workflow's second webhook, exported with runs export-test, passes
// as a test: its event (no params) picks that webhook again, with its path and method,
// which the filter reads.
func TestRunsExportTestOfASecondWebhook(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "w.hcl"), strings.Replace(twoWebhooks, `  step`, `  filter = "event.path == '/ping' && event.method == 'PUT'"
  step`, 1))
	s := serveDir(t, dir, redistest.Real(t).URL, "127.0.0.1:0")
	req, _ := http.NewRequest(http.MethodPut, "http://"+s.publicAddr+"/hooks/ping", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	runID := waitOneRun(t, s, "succeeded")
	file := filepath.Join(dir, "w.test.hcl")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"runs", "export-test", runID, "--name", "ping", "-o", file, "--admin", s.adminAddr}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("export-test: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	data, _ := os.ReadFile(file)
	if out, code := hookflowTest(t, dir); code != 0 {
		t.Errorf("the exported test fails: exit %d:\n%s\n%s", code, out, data)
	}
}

// A test's params that serve would never record fail the test, as serve refuses a
// request with such a segment: ., .., a backslash, a control character, and a param
// that is not a segment of the path.
func TestWorkflowTestsWebhookParamsServeRefuses(t *testing.T) {
	for _, tc := range []struct{ params, want string }{
		{`{ id = ".." }`, `params.id is "..", which no request to /hooks/orders/{id} gives: it is . or .., which serve refuses in a path`},
		{`{ id = "." }`, `params.id is ".", which no request to /hooks/orders/{id} gives: it is . or ..`},
		{`{ id = "" }`, `params.id is "", which no request to /hooks/orders/{id} gives: it is empty`},
		{`{ id = "a\\b" }`, `params.id is "a\\b", which no request to /hooks/orders/{id} gives: it holds a backslash`},
		{`{ id = "a\u0001b" }`, `params.id is "a\x01b", which no request to /hooks/orders/{id} gives: it holds a control character`},
		{`{ id = "7", extra = "x" }`, `params.extra is not a {name} segment of the webhook's path /orders/{id}, so no request to it sets event.params.extra: leave it out`},
	} {
		t.Run(tc.params, func(t *testing.T) {
			dir := writeFiles(t, t.TempDir(), map[string]string{"w.hcl": `workflow "ev" {
  trigger "webhook" {
    path = "/orders/{id}"
  }
  step "set" "seen" {
    path = "{{ event.path }}"
  }
}
`, "w.test.hcl": `test "t" {
  workflow = "ev"
  event {
    params = ` + tc.params + `
  }
}
`})
			if out, code := hookflowTest(t, dir); code != exitFailed || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, want %d with %q:\n%s", code, exitFailed, tc.want, out)
			}
		})
	}
}

// hookflow run --param is checked as a test's params: a value serve would not record,
// a name that is no segment of the path, or --param for a workflow without a webhook
// is a usage error; and --param picks the webhook as a test's params do.
func TestRunParamChecked(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{"w.hcl": twoWebhooks, "tick.hcl": `workflow "tick" {
  trigger "schedule" {
    every = "1h"
  }
  step "set" "seen" {
    at = "{{ event.body.scheduled_at }}"
  }
}
`})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--param", "id=a/b", "ev"}, `--param id is "a/b", which no request to /hooks/orders/{id} gives: it holds a /`},
		{[]string{"--param", "id=", "ev"}, `--param id is "", which no request to /hooks/orders/{id} gives: it is empty`},
		{[]string{"--param", "id=..", "ev"}, `--param id is "..", which no request to /hooks/orders/{id} gives: it is . or ..`},
		{[]string{"--param", "nope=1", "--param", "id=1", "ev"},
			`the names of --param (id, nope) are the {name} segments of none of the workflow's webhooks; to pick one, write --param id=… for /orders/{id}; no --param for /ping`},
		{[]string{"--param", "id=1", "tick"}, `--param: workflow tick has no webhook, and --param gives a {name} segment of a webhook's path`},
		{[]string{"--param", "id=1", "--param", "id=2", "ev"}, `--param id given twice ("1", then "2"): a segment has one value`},
	} {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"run", "--dir", dir}, tc.args...), nil, &out, &out)
		if code := exitStatus(err, &out); code != exitUsage || !strings.Contains(out.String(), tc.want) {
			t.Errorf("%v: exit %d, want %d with %q:\n%s", tc.args, code, exitUsage, tc.want, out.String())
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ev"}, `"path": "/ping"`},
		{[]string{"--param", "id=7", "ev"}, `"path": "/orders/7"`},
	} {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"run", "--dir", dir, "--json"}, tc.args...), nil, &out, &out)
		if err != nil || !strings.Contains(out.String(), tc.want) {
			t.Errorf("%v: %v, want %s in:\n%s", tc.args, err, tc.want, out.String())
		}
	}
}
