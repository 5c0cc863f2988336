package workflows

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

const testedSrc = `
workflow "order" {
  step "http" "find_customer" {
    url = "https://crm.example.com/customers"
  }
  step "set" "summary" {
    id = "{{ steps.find_customer.body.id }}"
  }
}
`

// testFileKinds is testKinds with an http step kind, the one kind a mock answers.
func testFileKinds() *Kinds {
	k := testKinds()
	k.AddStep(StepKind{
		Name:  "http",
		Attrs: []Attr{{Name: "url", Required: true}},
		New:   func(b *Block) (Action, hcl.Diagnostics) { return &renderAction{b: b}, nil },
	})
	return k
}

func loadTests(t *testing.T, src string) ([]*Test, hcl.Diagnostics) {
	t.Helper()
	set, diags := Load([]Source{{Name: "order.hcl", Data: []byte(testedSrc)}}, testFileKinds())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return LoadTests([]Source{{Name: "order.test.hcl", Data: []byte(src)}}, set)
}

func TestLoadTests(t *testing.T) {
	tests, diags := loadTests(t, `
test "paid" {
  workflow = "order"
  event {
    body    = { id = "o1", total = 12 }
    headers = { X-Shop = "one" }
    query   = { page = 2 }
  }
  mock "find_customer" {
    responses = [{ status = 503 }, { error = "timeout" }, { json = { id = "c1" } }]
  }
  expect "find_customer" {
    method = "get"
    json   = { id = "o1" }
    count  = 3
  }
  expect "summary" {
    output  = { id = "c1" }
    skipped = false
  }
  expect_run = "succeeded"
}
`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if len(tests) != 1 {
		t.Fatalf("got %d tests", len(tests))
	}
	tt := tests[0]
	if tt.Workflow != "order" || tt.Event.Raw != `{"id":"o1","total":12}` || tt.Event.Headers["x-shop"] != "one" || tt.Event.Query["page"][0] != "2" {
		t.Errorf("event: %+v", tt.Event)
	}
	m := tt.Mocks["find_customer"]
	if m == nil || len(m.Responses) != 3 || m.Responses[0].Status != 503 || m.Responses[1].Error != "timeout" || string(m.Responses[2].Body) != `{"id":"c1"}` {
		t.Errorf("mock: %+v", m)
	}
	e := tt.Expects[0]
	if *e.Method != "GET" || !e.HasJSON || *e.Count != 3 || e.Ranges["count"].Start.Line != 15 {
		t.Errorf("expect: %+v", e)
	}
}

func TestLoadTestsDiagnostics(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string // in the diagnostics, with the place first
	}{
		{"a mock of a misspelt step", `
test "t" {
  workflow = "order"
  mock "find_custmer" {
    status = 200
  }
}`, []string{"order.test.hcl:4,8", `Workflow "order" has no step "find_custmer". Did you mean "find_customer"?`}},
		{"an expect of a step that does not exist", `
test "t" {
  workflow = "order"
  expect "nothing" {
    count = 1
  }
}`, []string{"order.test.hcl:4,10", `its steps are: find_customer, summary`}},
		{"a misspelt workflow", `
test "t" {
  workflow = "ordr"
}`, []string{"order.test.hcl:3,14", `Did you mean "order"?`}},
		{"a mock of a step that sends nothing", `
test "t" {
  workflow = "order"
  mock "summary" {}
}`, []string{"order.test.hcl:4,8", "only http steps, and workflow steps (whose result a mock gives), are answered by a mock"}},
		{"a misspelt attribute", `
test "t" {
  workflow = "order"
  expect "summary" {
    outptu = {}
  }
}`, []string{"order.test.hcl:5,5", `Did you mean "output"?`}},
		{"an unknown outcome", `
test "t" {
  workflow   = "order"
  expect_run = "passed"
}`, []string{"order.test.hcl:4,16", `Unknown expect_run "passed": expect_run is the outcome the run should have: "succeeded", "failed" or "filtered".`}},
		{"a misspelt error", `
test "t" {
  workflow = "order"
  mock "find_customer" {
    error = "timout"
  }
}`, []string{"order.test.hcl:5,13", `Did you mean "timeout"?`}},
		{"a mock's status_code", `
test "t" {
  workflow = "order"
  mock "find_customer" {
    status_code = 201
  }
}`, []string{"order.test.hcl:5,5", `An argument named "status_code" is not expected here. Did you mean "status"?`}},
		{"a mock's statusCode", `
test "t" {
  workflow = "order"
  mock "find_customer" {
    statusCode = 201
  }
}`, []string{"order.test.hcl:5,5", `Did you mean "status"?`}},
		{"a mock's code, which HCL takes for body", `
test "t" {
  workflow = "order"
  mock "find_customer" {
    code = 201
  }
}`, []string{"order.test.hcl:5,5", `An argument named "code" is not expected here. Did you mean "status"?`}},
		{"a mock's header", `
test "t" {
  workflow = "order"
  mock "find_customer" {
    header = { X-Id = "1" }
  }
}`, []string{"order.test.hcl:5,5", `Did you mean "headers"?`}},
		{"a response's status_code", `
test "t" {
  workflow = "order"
  mock "find_customer" {
    responses = [{ status_code = 503 }]
  }
}`, []string{"order.test.hcl:5,17", `not "status_code". Did you mean "status"?`}},
		{"an expect's status_code", `
test "t" {
  workflow = "order"
  expect "find_customer" {
    status_code = 201
  }
}`, []string{"order.test.hcl:5,5", `output = { status = 200 }`}},
		{"an event's contentType", `
test "t" {
  workflow = "order"
  event {
    contentType = "application/json"
  }
}`, []string{"order.test.hcl:5,5", `Did you mean "content_type"?`}},
		{"GitHub Actions' ${{ }}", `
test "t" {
  workflow = "order"
  event {
    body = { name = "${{ github.actor }}" }
  }
}`, []string{"order.test.hcl:5,22", `GitHub Actions' ${{ }} in a hookflow file`,
			`A test's event, mocks and expectations are values, written as they are: nothing in them is read when the run gets there. ` +
				`Write the value the test sends or expects in its place.`}},
		{"a mock's header name with a colon", `
test "t" {
  workflow = "order"
  mock "find_customer" {
    headers = { "X-Id:" = "1" }
  }
}`, []string{"order.test.hcl:5,17", `"X-Id:" is not a valid header name`}},
		{"a response's header value with a line break", `
test "t" {
  workflow = "order"
  mock "find_customer" {
    responses = [{ headers = { X-Id = "1\n2" } }]
  }
}`, []string{"order.test.hcl:5,17", "The value of header X-Id holds a line break"}},
		{"an event's header value with a line break", `
test "t" {
  workflow = "order"
  event {
    headers = { X-Id = "1", X-Note = "a\r\nb" }
  }
}`, []string{"order.test.hcl:5,38", "The value of header X-Note holds a line break"}},
		{"an expect's header name with a space", `
test "t" {
  workflow = "order"
  expect "find_customer" {
    headers = { "X Id" = "1" }
  }
}`, []string{"order.test.hcl:5,17", `"X Id" is not a valid header name`}},
		{"an event's body as a number", `
test "t" {
  workflow = "order"
  event {
    body = 42
  }
}`, []string{"order.test.hcl:5,12", `An event's body is an object or a list, sent as JSON, or a string, sent as it is (JSON, a form, text), not a number.`,
			`body = "42"`}},
		{"an event's body as null", `
test "t" {
  workflow = "order"
  event {
    body = null
  }
}`, []string{"order.test.hcl:5,12", "not null. Leave body out"}},
		{"an event of a trigger the workflow does not have", `
test "t" {
  workflow = "order"
  event {
    trigger = "webhook"
  }
}`, []string{"order.test.hcl:5,15", `Trigger the workflow does not have: Workflow "order" has no trigger, so no webhook event starts it`}},
		{"a workflow in a file of tests", `
workflow "other" {
  step "set" "a" {
    x = "1"
  }
}`, []string{"order.test.hcl:2,1", `Blocks of type "workflow" are not expected here. A file whose name ends in .test.hcl holds tests only; ` +
			`workflow blocks go in the other .hcl files: move this block to one, such as order.hcl.`}},
		{"a duplicate test", `
test "t" {
  workflow = "order"
}
test "t" {
  workflow = "order"
}`, []string{"order.test.hcl:5,6", "order.test.hcl:2"}},
		{"a duplicate mock", `
test "t" {
  workflow = "order"
  mock "find_customer" {}
  mock "find_customer" {}
}`, []string{"order.test.hcl:5,8", `Duplicate mock "find_customer"`, "order.test.hcl:4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := loadTests(t, tc.src)
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			d := diags[0]
			got := d.Subject.String() + " " + d.Summary + ": " + d.Detail
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("diagnostic %q lacks %q", got, w)
				}
			}
			if strings.Contains(got, "{{ … }}, without the $") {
				t.Errorf("diagnostic %q speaks of templates, which a test file has none of", got)
			}
		})
	}
}

func TestReadDirLeavesOutTests(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"a.hcl": testedSrc, "a.test.hcl": `test "t" { workflow = "order" }`} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srcs, _ := ReadDir(dir)
	tests, _ := ReadTests(dir)
	if len(srcs) != 1 || filepath.Base(srcs[0].Name) != "a.hcl" || len(tests) != 1 || filepath.Base(tests[0].Name) != "a.test.hcl" {
		t.Fatalf("workflows %v, tests %v", srcs, tests)
	}
}

func TestLoadTestsItems(t *testing.T) {
	set, diags := Load([]Source{{Name: "order.hcl", Data: []byte(`
workflow "order" {
  step "http" "reserve" {
    for_each = "event.body.lines"
    url      = "https://wh.example.com/{{ each.value }}"
  }
  step "http" "notify" {
    url = "https://chat.example.com"
  }
}
`)}}, testFileKinds())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	_, diags = LoadTests([]Source{{Name: "t.test.hcl", Data: []byte(`
test "items" {
  workflow = "order"
  mock "reserve[0]" {}
  mock "reserve[sku-1]" {}
  expect "reserve[2]" {
    count = 1
  }
  mock "notify" {}
}
`)}}, set)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	// A map's key is taken whole, from the first '[' to the last ']', as runs name the
	// item: it may be empty, or hold '/', '[' and ']' (reserve calls no workflow, so
	// nothing after its key can name a child's step).
	_, diags = LoadTests([]Source{{Name: "t.test.hcl", Data: []byte(`
test "keys" {
  workflow = "order"
  mock "reserve[]" {}
  mock "reserve[a/b]" {}
  mock "reserve[[x]/y]" {}
  expect "reserve[a/b]" {
    count = 1
  }
}
`)}}, set)
	if diags.HasErrors() {
		t.Fatalf("keys as runs name them refused: %s", diags.Error())
	}
	_, diags = LoadTests([]Source{{Name: "t.test.hcl", Data: []byte(`
test "items" {
  workflow = "order"
  mock "notify[0]" {}
}
`)}}, set)
	if !diags.HasErrors() || !strings.Contains(diags[0].Detail, "only a step with for_each has items") {
		t.Fatalf("want an error for an item of a step without for_each: %v", diags)
	}
	// An item of a step with for_each whose label lacks its ] says so, at the label.
	for label, want := range map[string]string{
		"reserve[7":   `"reserve[7" names an item of step "reserve", written STEP[KEY] (its index, or its key in a map), and does not end in ]. Did you mean "reserve[7]"?`,
		"reserve[7]x": `"reserve[7]x" names an item of step "reserve", written STEP[KEY] (its index, or its key in a map), and does not end in ]: the key runs from the first [ to the last ], and nothing may follow it.`,
	} {
		_, diags = LoadTests([]Source{{Name: "t.test.hcl", Data: []byte(`
test "items" {
  workflow = "order"
  expect "` + label + `" {}
}
`)}}, set)
		if len(diags) != 1 || diags[0].Summary != `Unclosed item in expect` || diags[0].Detail != want ||
			!strings.HasPrefix(diags[0].Subject.String(), "t.test.hcl:4,10-") {
			t.Errorf("%s: %v", label, diags)
		}
	}
}

// One round reports every problem of every test: a test that does not decode is
// still checked against its workflow, and still counts for duplicates.
func TestLoadTestsReportsEveryProblem(t *testing.T) {
	tests, diags := loadTests(t, `
test "t1" {
  workflow = "order"
  extra    = 1
  mock "find_custmer" {
    status = "ok"
  }
  expect "summry" {
    count = 1
  }
  expect_run = "passed"
}

test "t2" {
  workflow = "order"
  expect "find_customer" {
    count = "x"
  }
}

test "t2" {
  workflow = "order"
  mock "nope" {}
}

test "ok" {
  workflow = "order"
}
`)
	want := map[string]string{
		"order.test.hcl:4,3":   "Unsupported argument",
		"order.test.hcl:5,8":   "Unknown step in mock",
		"order.test.hcl:6,14":  "Invalid status",
		"order.test.hcl:8,10":  "Unknown step in expect",
		"order.test.hcl:11,16": `Unknown expect_run "passed"`,
		"order.test.hcl:17,13": "Invalid expect attribute",
		"order.test.hcl:21,6":  `Duplicate test "t2"`,
		"order.test.hcl:23,8":  "Unknown step in mock",
	}
	got := map[string]string{}
	for _, d := range diags {
		at := fmt.Sprintf("%s:%d,%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		got[at] = d.Summary
	}
	for at, summary := range want {
		if got[at] != summary {
			t.Errorf("at %s: got %q, want %q", at, got[at], summary)
		}
	}
	if len(diags) != len(want) {
		t.Errorf("got %d diagnostics, want %d:\n%s", len(diags), len(want), diags.Error())
	}
	if len(tests) != 1 || tests[0].Name != "ok" {
		t.Errorf("tests loaded: %d, want the one without errors", len(tests))
	}
}

// TestLoadTestsRenderedDiagnostics checks whole diagnostics of test files as hookflow
// test prints them, place and text: nothing more is reported.
func TestLoadTestsRenderedDiagnostics(t *testing.T) {
	const workflowSrc = `workflow "order" {
  step "http" "find" {
    url = "https://crm.example.com/customers"
  }
  step "set" "finds" {
    n = 1
  }
  step "wait" "approve" {}
  step "set" "approved" {
    ok = true
  }
  on_failure {
    step "http" "page" {
      url = "https://pager.example.com/alerts"
    }
    step "http" "finder" {
      url = "https://pager.example.com/find"
    }
  }
}
`
	k := testFileKinds()
	k.AddStep(StepKind{Name: "wait", New: func(b *Block) (Action, hcl.Diagnostics) { return &renderAction{b: b}, nil }})
	set, diags := Load([]Source{{Name: "order.hcl", Data: []byte(workflowSrc)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	for _, tc := range []struct {
		name, src, want string
	}{
		{"a misspelt mock", `test "t" {
  workflow = "order"
  mock "fnd" {}
}
`, `Error: Unknown step in mock

  on order.test.hcl:3:8, in test "t":
     3:   mock "fnd" {}
               ^^^^^
  Workflow "order" has no step "fnd". Did you mean "find"?

`},
		{"a resume of a step that does not wait", `test "t" {
  workflow = "order"
  resume "approved" {}
}
`, `Error: Resume of a step that does not wait

  on order.test.hcl:3:10, in test "t":
     3:   resume "approved" {}
                 ^^^^^^^^^^
  Step "approved" is a set step: only wait steps are resumed. Did you mean "approve"?

`},
		{"a mock of a step that sends no request", `test "t" {
  workflow = "order"
  mock "finds" {}
}
`, `Error: Mock of a step that sends no request

  on order.test.hcl:3:8, in test "t":
     3:   mock "finds" {}
               ^^^^^^^
  Step "finds" is a set step: only http steps, and workflow steps (whose result a mock gives), are
  answered by a mock; a test runs the others as they are. Did you mean "find"?

`},
		{"a resume of an http step", `test "t" {
  workflow = "order"
  resume "find" {}
}
`, `Error: Resume of a step that does not wait

  on order.test.hcl:3:10, in test "t":
     3:   resume "find" {}
                 ^^^^^^
  Step "find" is an http step: only wait steps are resumed.

`},
		{"a duplicate test", `test "t" {
  workflow = "order"
}

test "t" {
  workflow = "order"
}
`, `Error: Duplicate test "t"

  on order.test.hcl:5:6, in test "t":
     5: test "t" {
             ^^^
  A test named "t" is already defined at order.test.hcl:1:1. Names must be unique.

`},
		{"a duplicate mock", `test "t" {
  workflow = "order"
  mock "find" {}
  mock "find" {}
}
`, `Error: Duplicate mock "find"

  on order.test.hcl:4:8, in test "t":
     4:   mock "find" {}
               ^^^^^^
  A mock named "find" is already defined at order.test.hcl:3:3. Names must be unique.

`},
		{"a mock of an on_failure step by its own name", `test "t" {
  workflow = "order"
  mock "page" {
    status = 200
  }
}
`, `Error: Unknown step in mock

  on order.test.hcl:3:8, in test "t":
     3:   mock "page" {
               ^^^^^^
  Workflow "order" has no step "page". Did you mean "on_failure/page"?

`},
		{"an expect of an on_failure step by its own name", `test "t" {
  workflow   = "order"
  expect_run = "failed"
  expect "page" {
    count = 1
  }
}
`, `Error: Unknown step in expect

  on order.test.hcl:4:10, in test "t":
     4:   expect "page" {
                 ^^^^^^
  Workflow "order" has no step "page". Did you mean "on_failure/page"?

`},
		{"a mock of an on_failure step whose name is near another step's", `test "t" {
  workflow = "order"
  mock "finder" {}
}
`, `Error: Unknown step in mock

  on order.test.hcl:3:8, in test "t":
     3:   mock "finder" {}
               ^^^^^^^^
  Workflow "order" has no step "finder". Did you mean "on_failure/finder"?

`},
		{"an expect_run that is near an outcome", `test "t" {
  workflow   = "order"
  expect_run = "success"
}
`, `Error: Unknown expect_run "success"

  on order.test.hcl:3:16, in test "t":
     3:   expect_run = "success"
                       ^^^^^^^^^
  expect_run is the outcome the run should have: "succeeded", "failed" or "filtered". Did you mean
  "succeeded"?

`},
		{"an unknown mock error", `test "t" {
  workflow = "order"
  mock "find" {
    error = "dns"
  }
}
`, `Error: Unknown mock error

  on order.test.hcl:4:13, in test "t":
     4:     error = "dns"
                    ^^^^^
  error is "dns"; use "timeout" or "connection refused".

`},
		{"a negative count", `test "t" {
  workflow = "order"
  expect "find" {
    count = -1
  }
}
`, `Error: Invalid expect attribute

  on order.test.hcl:4:13, in test "t":
     4:     count = -1
                    ^^
  count is how many requests the step sent: a whole number, 0 or more, not -1.

`},
		{"a count that is not whole", `test "t" {
  workflow = "order"
  expect "find" {
    count = 1.5
  }
}
`, `Error: Invalid expect attribute

  on order.test.hcl:4:13, in test "t":
     4:     count = 1.5
                    ^^^
  count is how many requests the step sent: a whole number, 0 or more, not 1.5.

`},
		{"a status in an expect", `test "t" {
  workflow = "order"
  expect "find" {
    status = 200
  }
}
`, `Error: Unsupported argument

  on order.test.hcl:4:5, in test "t":
     4:     status = 200
            ^^^^^^
  An argument named "status" is not expected here. An expect reads an http step's status in its
  output: output = { status = 200 }.

`},
		{"an expect_run that is no outcome", `test "t" {
  workflow   = "order"
  expect_run = "passed"
}
`, `Error: Unknown expect_run "passed"

  on order.test.hcl:3:16, in test "t":
     3:   expect_run = "passed"
                       ^^^^^^^^
  expect_run is the outcome the run should have: "succeeded", "failed" or "filtered".

`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srcs := []Source{{Name: "order.test.hcl", Data: []byte(tc.src)}}
			_, diags := LoadTests(srcs, set)
			var got strings.Builder
			if err := WriteDiagnostics(&got, srcs, diags); err != nil {
				t.Fatal(err)
			}
			if got.String() != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got.String(), tc.want)
			}
		})
	}
}

// A template in an expect is compared as written, not rendered: a warning says so.
func TestExpectTemplateWarned(t *testing.T) {
	_, diags := loadTests(t, `
test "t" {
  workflow = "order"
  mock "find_customer" {
    status = 200
  }
  expect "find_customer" {
    headers = { Idempotency-Key = "{{ run.id }}:find_customer" }
  }
}`)
	if diags.HasErrors() || len(diags) != 1 || diags[0].Severity != hcl.DiagWarning || diags[0].Summary != "Template in an expect" ||
		diags[0].Subject.Start.Line != 8 || !strings.Contains(diags[0].Detail, "{{ }} is not rendered in a test") {
		t.Errorf("diagnostics %v, want one warning at line 8", diags)
	}
}

// subRunAction is a workflow step for the loader's tests: it calls the workflow its
// workflow attribute names.
type subRunAction struct {
	renderAction
	calls string
}

func (a *subRunAction) Calls() string           { return a.calls }
func (a *subRunAction) Input(*Env) (any, error) { return nil, nil }
func (a *subRunAction) Waits() bool             { return true }

// A label that names a step of a parallel block as runs show it, BLOCK/STEP, or the
// steps of one item's child run, STEP[KEY]/CHILD_STEP, says how a test names them.
func TestLoadTestsNamingHints(t *testing.T) {
	const workflowSrc = `workflow "order" {
  parallel "notify" {
    step "http" "slack" {
      url = "https://chat.example.com/post"
    }
    step "http" "crm" {
      url = "https://crm.example.com/notes"
    }
  }
  step "workflow" "kids" {
    for_each = "[1, 2]"
    workflow = "kid"
  }
}

workflow "kid" {
  step "http" "call" {
    url = "https://api.example.com/x"
  }
}
`
	k := testFileKinds()
	k.AddStep(StepKind{Name: "workflow", Attrs: []Attr{{Name: "workflow", Required: true}},
		New: func(b *Block) (Action, hcl.Diagnostics) {
			name, diags := b.ConstString("workflow", "")
			return &subRunAction{renderAction: renderAction{b: b}, calls: name}, diags
		}})
	set, diags := Load([]Source{{Name: "order.hcl", Data: []byte(workflowSrc)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	for _, tc := range []struct {
		name, src, want string
	}{
		{"a parallel block's step by its path", `test "t" {
  workflow = "order"
  mock "notify/slack" {}
}
`, `Error: Unknown step in mock

  on order.test.hcl:3:8, in test "t":
     3:   mock "notify/slack" {}
               ^^^^^^^^^^^^^^
  Workflow "order" has no step "notify": it is a parallel block. A test names a step of a parallel
  block by its own name, as later steps read it, though runs show it as notify/slack: mock
  "slack".

`},
		{"a parallel block's step that is not one", `test "t" {
  workflow = "order"
  expect "notify/email" {
    count = 1
  }
}
`, `Error: Unknown step in expect

  on order.test.hcl:3:10, in test "t":
     3:   expect "notify/email" {
                 ^^^^^^^^^^^^^^
  Workflow "order" has no step "notify": it is a parallel block. A test names a step of a parallel
  block by its own name, as later steps read it, though runs show it as notify/email; the block's
  steps are: slack, crm.

`},
		{"one item's child step in a mock", `test "t" {
  workflow = "order"
  mock "kids[1]/call" {}
}
`, `Error: Invalid child step in mock

  on order.test.hcl:3:8, in test "t":
     3:   mock "kids[1]/call" {}
               ^^^^^^^^^^^^^^
  "kids[1]/call" names a step of the child run of item kids[1]. A test names the steps of every
  item's child alike, as kids/call. Each child is answered from the mock's first response on. To
  give item kids[1] another answer, mock the item itself: mock "kids[1]" { json = {…} } is its
  child's result, and its child run does not start.

`},
		{"one item's child step's item in a mock", `test "t" {
  workflow = "order"
  mock "kids[1]/call[0]" {}
}
`, `Error: Invalid child step in mock

  on order.test.hcl:3:8, in test "t":
     3:   mock "kids[1]/call[0]" {}
               ^^^^^^^^^^^^^^^^^
  "kids[1]/call[0]" names a step of the child run of item kids[1]. A test names the steps of every
  item's child alike, as kids/call[0]. Each child is answered from the mock's first response on.
  To give item kids[1] another answer, mock the item itself: mock "kids[1]" { json = {…} } is its
  child's result, and its child run does not start.

`},
		{"one item's child step in an expect", `test "t" {
  workflow = "order"
  expect "kids[1]/call" {
    count = 1
  }
}
`, `Error: Invalid child step in expect

  on order.test.hcl:3:10, in test "t":
     3:   expect "kids[1]/call" {
                 ^^^^^^^^^^^^^^
  "kids[1]/call" names a step of the child run of item kids[1]. A test names the steps of every
  item's child alike, as kids/call. expect "kids/call" counts the requests of every item's child;
  expect "kids[1]" checks the item's output, its child's result.

`},
		{"output and skipped of a child run's step", `test "t" {
  workflow = "order"
  expect "kids/call" {
    count   = 2
    output  = { status = 200 }
    skipped = false
  }
}
`, `Error: No output in an expect of a child run's step

  on order.test.hcl:5:5, in test "t":
     5:     output  = { status = 200 }
            ^^^^^^^^^^^^^^^^^^^^^^^^^^
  "kids/call" is a step of a child run, and an expect of one checks the requests it sent: method,
  url, headers, json, body and count. output is for the steps of the test's own workflow: expect
  "kids" { output = { result = … } } checks the child's result.

Error: No skipped in an expect of a child run's step

  on order.test.hcl:6:5, in test "t":
     6:     skipped = false
            ^^^^^^^^^^^^^^^
  "kids/call" is a step of a child run, and an expect of one checks the requests it sent: method,
  url, headers, json, body and count. skipped is for the steps of the test's own workflow: expect
  "kids" { output = { result = … } } checks the child's result.

`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srcs := []Source{{Name: "order.test.hcl", Data: []byte(tc.src)}}
			_, diags := LoadTests(srcs, set)
			var got strings.Builder
			if err := WriteDiagnostics(&got, srcs, diags); err != nil {
				t.Fatal(err)
			}
			if got.String() != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got.String(), tc.want)
			}
		})
	}
}

// A test's event body read with file() has the content type of the file's extension,
// as hookflow run --event gives it; a string that reads as a form, with nothing to
// say it is one, is taken as text with a warning that says how to make it a form.
func TestLoadTestsEventContentType(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"slash.form": "command=%2Ftickets&user_name=ada", "note.txt": "a=1", "event.json": `{"a": 1}`} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set, diags := Load([]Source{{Name: "order.hcl", Data: []byte(testedSrc)}}, testFileKinds())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	for _, tc := range []struct {
		name, event, want string
		warned            bool
	}{
		{"a .form file", `body = file("slash.form")`, "application/x-www-form-urlencoded", false},
		{"a .txt file", `body = file("note.txt")`, "text/plain; charset=utf-8", false},
		{"a .json file", `body = file("event.json")`, "application/json", false},
		{"a header wins over the extension", "body = file(\"slash.form\")\n    headers = { Content-Type = \"text/plain\" }", "text/plain", false},
		{"a form written as a string", `body = "command=%2Ftickets&user_name=ada"`, "text/plain; charset=utf-8", true},
		{"a form said to be text", "body = \"a=1&b=2\"\n    content_type = \"text/plain\"", "text/plain", false},
		{"text", `body = "hello there"`, "text/plain; charset=utf-8", false},
		{"an object", `body = { id = 1 }`, "application/json", false},
		{"a list, as some senders post", `body = [{ event = "delivered" }]`, "application/json", false},
		{"text with an =", `body = "ok=fine"`, "text/plain; charset=utf-8", false},
		{"a URL with a query", `body = "https://shop.example.com/orders?status=paid&page=2"`, "text/plain; charset=utf-8", false},
		{"a path with a query", `body = "/orders?status=paid&page=2"`, "text/plain; charset=utf-8", false},
		{"one pair encoded as a form", `body = "text=hello+world"`, "text/plain; charset=utf-8", true},
		{"one pair percent-encoded", `body = "command=%2Ftickets"`, "text/plain; charset=utf-8", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "test \"t\" {\n  workflow = \"order\"\n  event {\n    " + tc.event + "\n  }\n}\n"
			tests, diags := LoadTests([]Source{{Name: filepath.Join(dir, "order.test.hcl"), Data: []byte(src)}}, set)
			if diags.HasErrors() || len(tests) != 1 {
				t.Fatalf("diagnostics: %v", diags)
			}
			if got := tests[0].Event.ContentType; got != tc.want {
				t.Errorf("content type %q, want %q", got, tc.want)
			}
			warned := len(diags) == 1 && strings.Contains(diags[0].Detail, `content_type = "application/x-www-form-urlencoded"`)
			if warned != tc.warned || len(diags) > 1 {
				t.Errorf("diagnostics %v, want a warning: %v", diags, tc.warned)
			}
		})
	}
}

// A test naming a workflow that is not there lists those there are, or, when there
// are none, says so and where they were looked for.
func TestTestOfAnUnknownWorkflow(t *testing.T) {
	const test = `test "t" {
  workflow = "welcome"
  event {
    body = {}
  }
}
`
	for _, c := range []struct {
		name string
		srcs []Source
		dir  string
		want string
	}{
		{"others", []Source{{Name: "order.hcl", Data: []byte(testedSrc)}}, "flows",
			`There is no workflow "welcome" beside this test; there are: order.`},
		{"none", nil, "flows",
			`There is no workflow "welcome" beside this test: there are none in flows (its *.hcl files and those of the ` +
				`directories under it, test files aside, are where workflows are looked for).`},
		{"none, read from no directory", nil, "", `There is no workflow "welcome" beside this test: there are none.`},
	} {
		t.Run(c.name, func(t *testing.T) {
			set, diags := LoadWith(c.srcs, testFileKinds(), Options{Dir: c.dir})
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			_, diags = LoadTests([]Source{{Name: "welcome.test.hcl", Data: []byte(test)}}, set)
			if len(diags) != 1 || diags[0].Summary != "Unknown workflow" || diags[0].Detail != c.want {
				t.Errorf("diagnostics %v, want one Unknown workflow:\n%s", diags, c.want)
			}
		})
	}
}

// A test block in a workflow file says where tests go.
func TestTestInAWorkflowFile(t *testing.T) {
	_, diags := Load([]Source{{Name: "flows/order.hcl", Data: []byte(testedSrc + `
test "t" {
  workflow = "order"
}
`)}}, testFileKinds())
	want := `flows/order.hcl:11,1-5 Unsupported block type: Blocks of type "test" are not expected here. ` +
		`Tests go in files whose names end in .test.hcl, beside the workflows they test: move this block to one, such as order.test.hcl.`
	if len(diags) != 1 || diags[0].Subject.String()+" "+diags[0].Summary+": "+diags[0].Detail != want {
		t.Errorf("got %v\nwant %s", diags, want)
	}
}
