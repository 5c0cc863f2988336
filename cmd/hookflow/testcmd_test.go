package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// hookflowTest runs hookflow test with args, returning its output and exit status.
func hookflowTest(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"test"}, args...), nil, &stdout, &stderr)
	return stdout.String() + stderr.String(), exitStatus(err, &stderr)
}

func TestWorkflowTestsPass(t *testing.T) {
	out, code := hookflowTest(t, "testdata/wftest/pass.test.hcl")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{
		"ok    a paid order marks the customer paid (testdata/wftest/pass.test.hcl:1,",
		"ok    a lookup retried until it answers", // responses: 503, a timeout, then 200; a 1h backoff
		"ok    an unknown customer is not marked", // skipped = true
		"ok    a lookup that fails fails the run", // expect_run = "failed"
		"ok    an order of nothing starts no run", // expect_run = "filtered"
		"ok    a manual run skips the filter",
		"PASS: 6 tests\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestWorkflowTestsFail(t *testing.T) {
	out, code := hookflowTest(t, "testdata/wftest/fail.test.hcl")
	if code != exitFailed {
		t.Fatalf("exit %d, want %d:\n%s", code, exitFailed, out)
	}
	const f = "testdata/wftest/fail.test.hcl"
	for _, want := range []string{
		"FAIL  every expectation wrong (" + f + ":1,",
		f + ":28: the run: expected failed, but it succeeded\n",
		f + ":13: expect \"mark\" method:\n        expected: PUT\n        sent:     PATCH\n",
		f + ":14: expect \"mark\" url:\n        expected: https://crm.example.com/customers/c9\n        sent:     https://crm.example.com/customers/c1\n",
		f + ":15: expect \"mark\" headers:\n        X-Missing: expected \"yes\", not sent\n        X-Order: expected \"o2\", sent \"o1\"\n",
		f + ":16: expect \"mark\" json:\n        .note: expected \"x\", missing\n        .status: expected \"unpaid\", sent \"paid\"\n",
		f + ":19: expect \"find\" body:\n        expected: {}\n        sent:     (empty)\n",
		f + ":20: expect \"find\" count: expected 2 requests, sent 1\n",
		f + ":23: expect \"summary\" output (succeeded):\n        .customer: expected \"c2\", got \"c1\"\n",
		f + ":26: expect \"mark\": expected the step skipped, but its outcome is succeeded\n",
		// An unmocked call fails the test with the request it would have sent.
		f + ":31: step \"mark\" sent a request that no mock answers:\n        PATCH https://crm.example.com/customers/c1\n",
		"        X-Order: o1\n        {\"status\":\"paid\",\"total\":12}\n",
		f + ":41: the run: expected succeeded, but the filter is false for this event, so no run starts\n",
		"FAIL: 3 of 3 tests failed\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestWorkflowTestsSelect(t *testing.T) {
	out, code := hookflowTest(t, "-run", "retried|nothing", "testdata/wftest")
	if code != 0 || !strings.Contains(out, "PASS: 2 tests\n") || strings.Contains(out, "FAIL") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	out, code = hookflowTest(t, "-v", "-run=paid order", "testdata/wftest/pass.test.hcl")
	if code != 0 || !strings.Contains(out, "→ PATCH https://crm.example.com/customers/c1") {
		t.Fatalf("-v shows no steps, exit %d:\n%s", code, out)
	}
	// As go test does, a filter that matches nothing exits 0, and says so.
	out, code = hookflowTest(t, "-run", "zzz", "testdata/wftest")
	if code != 0 || out != "no test matches -run \"zzz\" (9 tests in 2 files)\n" {
		t.Errorf("-run that matches nothing, exit %d:\n%s", code, out)
	}
	out, _ = hookflowTest(t, "-run", "zzz", "testdata/wftest/pass.test.hcl")
	if out != "no test matches -run \"zzz\" (6 tests in 1 file)\n" {
		t.Errorf("-run that matches nothing in one file:\n%s", out)
	}
}

func TestWorkflowTestsUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-run", "("},
		{"testdata/wftest/nothing-here"},
		{"testdata/wftest/orders.hcl"},
	} {
		if out, code := hookflowTest(t, args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d:\n%s", args, code, exitUsage, out)
		}
	}
}

func TestWorkflowTestsInvalid(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/wftest/orders.hcl")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("orders.hcl", string(data))
	write("orders.test.hcl", "test \"t\" {\n  workflow = \"order\"\n  mock \"fnd\" {}\n}\n")
	out, code := hookflowTest(t, dir)
	if code != exitFailed || !strings.Contains(out, `Workflow "order" has no step "fnd". Did you mean "find"?`) ||
		!strings.Contains(out, "orders.test.hcl:3:8") {
		t.Errorf("hookflow test: exit %d:\n%s", code, out)
	}
	// validate checks the tests too, and serve's loading leaves them out.
	var stdout, stderr bytes.Buffer
	err = run(context.Background(), []string{"validate", dir}, nil, &stdout, &stderr)
	var code2 exitError
	if !errors.As(err, &code2) || !strings.Contains(stderr.String(), `Did you mean "find"?`) {
		t.Errorf("validate: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	stdout.Reset()
	if err := run(context.Background(), []string{"validate", "testdata/wftest"}, nil, &stdout, &stderr); err != nil ||
		!strings.Contains(stdout.String(), "testdata/wftest: 1 workflow, 9 tests, no problems") {
		t.Errorf("validate: %v\n%s", err, stdout.String())
	}
}

// TestExampleWorkflowTests runs the tests written beside the examples, as a user would.
func TestExampleWorkflowTests(t *testing.T) {
	out, code := hookflowTest(t, "../../examples/...")
	if code != 0 || !strings.Contains(out, "PASS: ") {
		t.Fatalf("hookflow test ../../examples/...: exit %d:\n%s", code, out)
	}
	for _, dir := range []string{"quickstart", "stripe-payment", "github-push", "order-lines", "poll-orders"} {
		if !strings.Contains(out, "examples/"+dir+"/") {
			t.Errorf("no tests of examples/%s ran:\n%s", dir, out)
		}
	}
}

// TestExampleWorkflowTestsIgnoreTheEnvironment runs the examples' tests in a shell
// where every variable their env() and secret() read is set, as the README's way to
// move the quick start's ports sets QUICKSTART_HOOKS_URL: tests read their defaults
// all the same, and pass.
func TestExampleWorkflowTestsIgnoreTheEnvironment(t *testing.T) {
	files, err := filepath.Glob("../../examples/*/*.hcl")
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`(?:secret|env)\("([A-Z_]+)"`).FindAllSubmatch(data, -1) {
			name := string(m[1])
			t.Setenv(name, "http://127.0.0.1:18112/from-the-shell/"+strings.ToLower(name))
			set[name] = true
		}
	}
	if !set["QUICKSTART_HOOKS_URL"] || !set["CRM_URL"] || !set["STRIPE_WEBHOOK_SECRET"] {
		t.Fatalf("the examples' variables were not found: %v", set)
	}
	out, code := hookflowTest(t, "../../examples/...")
	if code != 0 || !strings.Contains(out, "PASS: ") {
		t.Fatalf("hookflow test ../../examples/... with the environment set: exit %d:\n%s", code, out)
	}
}

// TestGettingStartedTests runs the tests docs/getting-started.md writes against the
// workflow it writes, as a reader would.
func TestGettingStartedTests(t *testing.T) {
	data, err := os.ReadFile("../../docs/getting-started.md")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "my-flows")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, m := range regexp.MustCompile("(?s)```hcl\n(.*?)```").FindAllStringSubmatch(string(data), -1) {
		switch {
		case strings.HasPrefix(m[1], `workflow "welcome"`):
			files["welcome.hcl"] = m[1]
		case strings.HasPrefix(m[1], "test "):
			files["welcome.test.hcl"] = m[1]
		}
	}
	if len(files) != 2 {
		t.Fatalf("the workflow or its tests are not in getting-started.md: %v", files)
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, code := hookflowTest(t, dir); code != 0 || !strings.Contains(out, "PASS: 2 tests") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestWorkflowTestsJUnit(t *testing.T) {
	report := filepath.Join(t.TempDir(), "report.xml")
	if out, code := hookflowTest(t, "-junit", report, "testdata/wftest"); code != exitFailed {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Suites []junitSuite `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Suites) != 1 || doc.Suites[0].Tests != 9 || doc.Suites[0].Failures != 3 {
		t.Fatalf("report: %+v", doc.Suites)
	}
	for _, c := range doc.Suites[0].Cases {
		if (c.Failure != nil) != (c.File == "testdata/wftest/fail.test.hcl") {
			t.Errorf("%s (%s): failure %v", c.Name, c.File, c.Failure)
		}
	}
}

// A report that cannot be written is a usage error said before any test runs, not
// after them all, in place of their summary.
func TestWorkflowTestsJUnitCannotBeCreated(t *testing.T) {
	report := filepath.Join(t.TempDir(), "missing", "report.xml")
	out, code := hookflowTest(t, "-junit", report, "testdata/wftest/pass.test.hcl")
	if code != exitUsage || !strings.Contains(out, "--junit: cannot create the report: open "+report+": no such file or directory") ||
		strings.Contains(out, "ok    ") {
		t.Errorf("exit %d, want %d:\n%s", code, exitUsage, out)
	}
}

// A run of the tests that stops before it ends (here, its context cancelled, as by
// SIGINT) leaves no empty report behind, which a CI's JUnit reader would fail on.
func TestWorkflowTestsJUnitNotLeftEmpty(t *testing.T) {
	report := filepath.Join(t.TempDir(), "report.xml")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"test", "-junit", report, "testdata/wftest/pass.test.hcl"}, nil, &stdout, &stderr)
	if err == nil {
		t.Fatalf("a cancelled run of the tests ended without an error:\n%s", stdout.String())
	}
	if _, serr := os.Stat(report); !os.IsNotExist(serr) {
		t.Errorf("after %v the report is left: %v", err, serr)
	}
}

// A directory whose files do not load is one error in the report, whose text is the
// diagnostics printed: each file:line:col with its message.
func TestWorkflowTestsJUnitInvalid(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/wftest/orders.hcl")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "orders.hcl"), string(data))
	writeFile(t, filepath.Join(dir, "orders.test.hcl"), "test \"t\" {\n  workflow = \"order\"\n  mock \"fnd\" {}\n}\n")
	report := filepath.Join(t.TempDir(), "report.xml")
	var stdout, stderr bytes.Buffer
	err = run(context.Background(), []string{"test", "-junit", report, dir}, nil, &stdout, &stderr)
	if code := exitStatus(err, &stderr); code != exitFailed {
		t.Fatalf("exit %d:\n%s%s", code, stdout.String(), stderr.String())
	}
	data, err = os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Suites []junitSuite `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != 1 || doc.Suites[0].Cases[0].Error == nil {
		t.Fatalf("report: %s", data)
	}
	text := doc.Suites[0].Cases[0].Error.Text
	for _, want := range []string{"orders.test.hcl:3:8", `Workflow "order" has no step "fnd". Did you mean "find"?`} {
		if !strings.Contains(text, want) {
			t.Errorf("the error's text lacks %q:\n%s", want, text)
		}
	}
	if text != stderr.String() {
		t.Errorf("the error's text is not what was printed:\n%s\nprinted:\n%s", text, stderr.String())
	}
}

func TestFmtFormatsTestFiles(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "a.test.hcl")
	if err := os.WriteFile(name, []byte("test \"t\" {\n  workflow = \"w\"\n  expect_run    = \"failed\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"fmt", dir}, nil, &stdout, &stderr)
	data, _ := os.ReadFile(name)
	if err != nil || !strings.Contains(string(data), "  workflow   = \"w\"\n  expect_run = \"failed\"\n") {
		t.Fatalf("fmt: %v %s\n%s", err, stderr.String(), data)
	}
}

// A workflow step in a test: run for real, its child's steps answered by mocks named
// STEP/CHILD_STEP; or mocked, its result the mock's json, no child started; or mocked
// with a failing status, failing the step; an item's child mocked as STEP[KEY].
func TestWorkflowTestsChildRuns(t *testing.T) {
	out, code := hookflowTest(t, "-v", "testdata/wfchild")
	if code != 0 || !strings.Contains(out, "PASS: 4 tests\n") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/wfchild/order.hcl")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "order.hcl"), string(data))
	writeFile(t, filepath.Join(dir, "bad.test.hcl"), `test "bad" {
  workflow = "order"
  mock "invoice/crate" {
    status = 200
  }
  expect "notify/create" {
    count = 1
  }
}

test "unmocked" {
  workflow = "order"
  mock "notify" {
    status = 200
  }
}
`)
	out, code = hookflowTest(t, filepath.Join(dir, "bad.test.hcl"))
	for _, want := range []string{`Workflow "create_invoice" has no step "crate". Did you mean "create"?`,
		`"notify/create" names a step of the child run of step "notify"`} {
		if code != exitFailed || !strings.Contains(out, want) {
			t.Errorf("exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
	writeFile(t, filepath.Join(dir, "bad.test.hcl"), `test "unmocked" {
  workflow = "order"
  mock "notify" {
    status = 200
  }
}
`)
	out, code = hookflowTest(t, filepath.Join(dir, "bad.test.hcl"))
	if code != exitFailed || !strings.Contains(out, `step "invoice/create" sent a request that no mock answers`) ||
		!strings.Contains(out, `POST https://billing.example.com/invoices`) {
		t.Errorf("an unmocked step of a child run, exit %d:\n%s", code, out)
	}
}

// A test mocks and expects the steps of a workflow's on_failure block by their names
// in its runs, on_failure/STEP, as the runner's hint for an unmocked one says.
func TestWorkflowTestsOnFailure(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "charge.hcl"), `workflow "charge" {
  step "http" "charge" {
    url = "https://pay.example.com/charge"
  }
  on_failure {
    step "http" "page" {
      url  = "https://pager.example.com/page"
      json = { failed = "{{ run.failed_step }}" }
    }
  }
}
`)
	writeFile(t, filepath.Join(dir, "charge.test.hcl"), `test "a failed charge pages" {
  workflow   = "charge"
  expect_run = "failed"
  mock "charge" {
    status = 400
  }
  mock "on_failure/page" {
    status = 200
  }
  expect "on_failure/page" {
    json = { failed = "charge" }
  }
}
`)
	out, code := hookflowTest(t, dir)
	if code != 0 || !strings.Contains(out, "PASS: 1 test") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	writeFile(t, filepath.Join(dir, "charge.test.hcl"), `test "a typo" {
  workflow = "charge"
  mock "on_failure/pag" {
    status = 200
  }
}
`)
	out, code = hookflowTest(t, dir)
	if want := `Workflow "charge" has no step "on_failure/pag". Did you mean "on_failure/page"?`; code != exitFailed || !strings.Contains(out, want) {
		t.Errorf("exit %d, output lacks %q:\n%s", code, want, out)
	}
}

// A sensitive for_each step hides its items' values, not their outcome: a later step
// reads "succeeded" as it is, and a condition on it holds.
func TestWorkflowTestsSensitiveForEachKeepsOutcomes(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "wf.hcl"), `workflow "wf" {
  step "set" "r" {
    for_each  = "['value-x']"
    sensitive = true
    v         = "{{ each.value }}"
  }
  step "set" "a" {
    n = 1
  }
  step "set" "copy" {
    o = "{{ steps.a.outcome }}"
  }
  step "set" "gate" {
    if = "steps.copy.o == 'succeeded'"
    ok = true
  }
}
`)
	writeFile(t, filepath.Join(dir, "wf.test.hcl"), `test "outcomes stay readable" {
  workflow = "wf"
  expect "copy" {
    output = { o = "succeeded" }
  }
  expect "gate" {
    output = { ok = true }
  }
}
`)
	out, code := hookflowTest(t, dir)
	if code != 0 || !strings.Contains(out, "PASS: 1 test") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// Each item of a for_each step is answered by its step's mock from the first response
// on, whatever the other items were given and in whatever order they run: a retry
// sequence retries every item, and the answers do not depend on the items' timing.
func TestWorkflowTestsMockResponsesPerItem(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "wf.hcl"), `workflow "wf" {
  step "http" "each" {
    for_each = "[1, 2, 3, 4, 5, 6]"
    url      = "https://api.example.com/items/{{ each.value }}"
    retry {
      attempts = 2
    }
  }
}
`)
	writeFile(t, filepath.Join(dir, "wf.test.hcl"), `test "every item is retried once" {
  workflow = "wf"
  mock "each" {
    responses = [{ status = 503 }, { status = 200, json = { ok = true } }]
  }
  mock "each[2]" {
    responses = [{ status = 201 }, { status = 500 }]
  }
  expect "each" {
    count = 11
  }
  expect "each[1]" {
    count  = 2
    output = { status = 200, body = { ok = true } }
  }
  expect "each[2]" {
    count  = 1
    output = { status = 201 }
  }
}
`)
	for range 5 {
		out, code := hookflowTest(t, dir)
		if code != 0 || !strings.Contains(out, "PASS: 1 test") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	}
}

// A wait step that times out fails its run with the error it has under serve, which a
// test can assert.
func TestWorkflowTestsWaitTimeoutError(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "wf.hcl"), `workflow "wf" {
  step "wait" "approval" {
    timeout = "3s"
  }
  on_failure {
    step "http" "page" {
      url  = "https://pager.example.com/page"
      json = { error = "{{ run.error }}" }
    }
  }
}
`)
	writeFile(t, filepath.Join(dir, "wf.test.hcl"), `test "no resume" {
  workflow   = "wf"
  expect_run = "failed"
  mock "on_failure/page" {
    status = 200
  }
  expect "on_failure/page" {
    json = { error = "step approval: timed out after 3s: no resume came" }
  }
}
`)
	out, code := hookflowTest(t, dir)
	if code != 0 || !strings.Contains(out, "PASS: 1 test") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// The summary line counts tests only when some ran, beside the directories that did
// not load.
func TestWorkflowTestsSummaryWithInvalidDirectory(t *testing.T) {
	const workflow = `workflow "w" {
  step "set" "a" {
    x = "1"
  }
}
`
	broken := t.TempDir()
	writeFile(t, filepath.Join(broken, "w.hcl"), `workflow "w" {
  step "set" "a" {
    x = "{{ lenght(event.body.items) }}"
  }
}
`)
	writeFile(t, filepath.Join(broken, "w.test.hcl"), "test \"t\" {\n  workflow = \"w\"\n}\n")
	passing := t.TempDir()
	writeFile(t, filepath.Join(passing, "w.hcl"), workflow)
	writeFile(t, filepath.Join(passing, "w.test.hcl"), "test \"t\" {\n  workflow = \"w\"\n}\n")
	failing := t.TempDir()
	writeFile(t, filepath.Join(failing, "w.hcl"), workflow)
	writeFile(t, filepath.Join(failing, "w.test.hcl"), "test \"t\" {\n  workflow   = \"w\"\n  expect_run = \"failed\"\n}\n")
	for _, tc := range []struct {
		name string
		dirs []string
		want string
	}{
		{"nothing ran", []string{broken}, "FAIL: 1 directory did not load"},
		{"the tests that ran passed", []string{passing, broken}, "FAIL: 1 test passed; 1 directory did not load"},
		{"a test that ran failed", []string{failing, broken}, "FAIL: 1 of 1 test failed; 1 directory did not load"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append([]string{"test"}, tc.dirs...), nil, &stdout, &stderr)
			if code := exitStatus(err, &stderr); code != exitFailed {
				t.Errorf("exit %d, want %d", code, exitFailed)
			}
			lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
			if last := lines[len(lines)-1]; last != tc.want {
				t.Errorf("summary %q, want %q; output:\n%s", last, tc.want, stdout.String())
			}
		})
	}
}

// A credential header of a test's event, and of hookflow run's --header, reads
// [redacted] in templates, as under serve, which keeps no credential header's value:
// a test that passes shows what serve sends.
func TestCredentialHeadersReadAsUnderServe(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "wf.hcl"), `workflow "hdr" {
  trigger "webhook" {
    path = "/hdr"
  }
  step "http" "fwd" {
    url     = "https://api.example.com/x"
    headers = { X-Fwd = "{{ event.headers.authorization }}", X-Shop = "{{ event.headers['x-shop'] }}" }
  }
}
`)
	writeFile(t, filepath.Join(dir, "wf.test.hcl"), `test "auth header" {
  workflow = "hdr"
  event {
    body    = { a = 1 }
    headers = { Authorization = "Bearer abcdef123", X-Shop = "one" }
  }
  mock "fwd" {
    status = 200
  }
  expect "fwd" {
    headers = { X-Fwd = "[redacted]", X-Shop = "one" }
  }
}
`)
	if out, code := hookflowTest(t, dir); code != 0 || !strings.Contains(out, "PASS: 1 test") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"run", "--dir", dir, "--dry-run", "--header", "Authorization: Bearer abcdef123", "hdr"},
		nil, &stdout, &stderr)
	if err != nil || !strings.Contains(stdout.String(), "X-Fwd: [redacted]") || strings.Contains(stdout.String()+stderr.String(), "abcdef123") {
		t.Errorf("run --header: %v\n%s%s", err, stdout.String(), stderr.String())
	}
}

// hookflow test prints a run's steps as hookflow run does, cutting long values, bodies
// and lists of items short with how much is left out, but without pointing at a
// --json it does not have.
func TestWorkflowTestsCutLongOutputs(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "wf.hcl"), `workflow "wf" {
  step "log" "each" {
    for_each = "0..24"
    message  = "item {{ each.key }}"
  }
  step "http" "call" {
    method = "POST"
    url    = "https://api.example.com/x"
    body   = "{{ join(map(0..49, {string(#)}), '\\n') }}"
  }
  step "set" "big" {
    list = "{{ 0..49 }}"
  }
}
`)
	writeFile(t, filepath.Join(dir, "wf.test.hcl"), `test "long" {
  workflow = "wf"
  mock "call" {
    status = 200
  }
}
`)
	out, code := hookflowTest(t, "-v", dir)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{"… 5 more items\n", "… 10 more lines\n", "… 14 more lines\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "--json") {
		t.Errorf("output points at a --json that hookflow test does not have:\n%s", out)
	}
}

// An expect block's headers that differ from those sent show a credential header as
// the step's trace does, its scheme only, in the output and the JUnit report: the
// credentials are written in the file here, so no secret() redacts them.
func TestWorkflowTestsHideSentCredentialHeaders(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "creds.hcl"), `
workflow "creds" {
  trigger "webhook" {
    path = "/creds"
  }

  step "http" "call" {
    url        = "https://api.example.com/x"
    basic_auth = { username = "u", password = "pw-7c5d1e9a" }
    headers    = { X-Api-Key = "key-7c5d1e9b", X-Trace = "trace-1" }
  }

  step "http" "bearer" {
    url     = "https://api.example.com/y"
    headers = { Authorization = "Bearer tok-7c5d1e9c" }
  }
}
`)
	writeFile(t, filepath.Join(dir, "creds.test.hcl"), `
test "wrong headers" {
  workflow = "creds"
  event {
    body = {}
  }
  mock "call" {
    status = 200
  }
  mock "bearer" {
    status = 200
  }
  expect "call" {
    headers = { X-Api-Key = "wrong", Authorization = "Basic wrong", X-Trace = "trace-2" }
  }
  expect "bearer" {
    headers = { Authorization = "Bearer wrong" }
  }
}
`)
	report := filepath.Join(t.TempDir(), "report.xml")
	out, code := hookflowTest(t, "-junit", report, dir)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d:\n%s", code, exitFailed, out)
	}
	xmlReport, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`Authorization: expected "Basic wrong", sent "Basic [redacted]"`,
		`X-Api-Key: expected "wrong", sent "[redacted]"`,
		`X-Trace: expected "trace-2", sent "trace-1"`,
		`Authorization: expected "Bearer wrong", sent "Bearer [redacted]"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	basic := "dTpwdy03YzVkMWU5YQ" // the base64 of u:pw-7c5d1e9a
	for where, text := range map[string]string{"the output": out, "the JUnit report": string(xmlReport)} {
		for _, v := range []string{"7c5d1e9", basic} {
			if strings.Contains(text, v) {
				t.Errorf("%s shows %s:\n%s", where, v, text)
			}
		}
	}
}

// A test naming a workflow in a directory that holds none says there are none and
// where they were looked for, under hookflow test and hookflow validate alike.
func TestWorkflowTestsInADirectoryWithoutWorkflows(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "welcome.test.hcl")
	writeFile(t, file, `test "welcome" {
  workflow = "welcome"
  event {
    body = {}
  }
}
`)
	want := `There is no workflow "welcome" beside this test: there are none in ` + dir + ` (its *.hcl files`
	for _, args := range [][]string{{"test", dir}, {"test", file}, {"validate", dir}, {"validate", file}} {
		var out bytes.Buffer
		err := run(context.Background(), args, nil, &out, &out)
		said := strings.Join(strings.Fields(out.String()), " ") // as the diagnostic's lines are wrapped
		if err == nil || !strings.Contains(said, want) || strings.Contains(said, "there are: .") {
			t.Errorf("hookflow %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
	}
}
