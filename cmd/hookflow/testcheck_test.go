package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Numbers compare by their value, exactly: a whole number that fits in 64 bits is
// not rounded to a float64 on either side, and 1 still equals 1.0.
func TestSubsetDiffNumbers(t *testing.T) {
	for _, c := range []struct {
		name      string
		want, got any
		diff      string // "" for equal
	}{
		{"an id off in its last digits", 820982911946154508, 820982911946154500,
			"    (the whole value): expected 820982911946154508, got 820982911946154500"},
		{"past float64's 2^53", 9007199254740993, 9007199254740992,
			"    (the whole value): expected 9007199254740993, got 9007199254740992"},
		{"the same large id", 820982911946154508, 820982911946154508, ""},
		// Past int64, a test's whole number is a float64 (as HCL gives it): it matches
		// the value sent as a float64 would.
		{"past int64", float64(18446744073709551615), uint64(18446744073709551615), ""},
		{"a whole number and its float", 1, 1.0, ""},
		{"a float", 0.1, 0.1, ""},
		{"floats that differ", 0.1, 0.2, "    (the whole value): expected 0.1, got 0.2"},
		{"a number and its text", 1, "1", `    (the whole value): expected 1, got "1"`},
		{"in an object", map[string]any{"id": 9007199254740993}, map[string]any{"id": 9007199254740992.0},
			"    .id: expected 9007199254740993, got 9007199254740992"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := subsetDiff(c.want, c.got, "got")
			if c.diff == "" && len(got) != 0 || c.diff != "" && (len(got) != 1 || got[0] != c.diff) {
				t.Errorf("got %q, want %q", got, c.diff)
			}
		})
	}
}

// A test of examples/shopify-order whose expected order_id differs from the one sent
// in its last digits fails: the two are not compared as float64, which would round
// both to 820982911946154500.
func TestWorkflowTestsLargeIntegers(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"order.hcl", "order.test.hcl", "event.json"} {
		data, err := os.ReadFile(filepath.Join("../../examples/shopify-order", name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "order.test.hcl" {
			const id = "order_id  = 820982911946154508"
			if !strings.Contains(string(data), id) {
				t.Fatalf("the example's test no longer expects %q", id)
			}
			data = []byte(strings.Replace(string(data), id, "order_id  = 820982911946154500", 1))
		}
		writeFile(t, filepath.Join(dir, name), string(data))
	}
	out, code := hookflowTest(t, "-run", "a paid order is shipped", dir)
	want := `expect "shipment" json:` + "\n        .order_id: expected 820982911946154500, sent 820982911946154508\n"
	if code != exitFailed || !strings.Contains(out, want) {
		t.Errorf("exit %d, output lacks %q:\n%s", code, want, out)
	}

	// An output alike, past 2^53.
	dir = t.TempDir()
	writeFile(t, filepath.Join(dir, "wf.hcl"), `workflow "wf" {
  step "set" "copy" {
    id = "{{ event.body.id }}"
  }
}
`)
	writeFile(t, filepath.Join(dir, "wf.test.hcl"), `test "the id" {
  workflow = "wf"
  event {
    body = "{\"id\": 9007199254740993}"
  }
  expect "copy" {
    output = { id = 9007199254740992 }
  }
}
`)
	out, code = hookflowTest(t, dir)
	want = `expect "copy" output (succeeded):` + "\n        .id: expected 9007199254740992, got 9007199254740993\n"
	if code != exitFailed || !strings.Contains(out, want) {
		t.Errorf("exit %d, output lacks %q:\n%s", code, want, out)
	}
}

// A resume block resumes the wait it names, as mocks name steps: "approval" the test's
// own run's, "c/approval" that of the child run of step c, "kids/approval" those of
// the child runs of a for_each workflow step's items; none resumes another's.
func TestWorkflowTestsResumeNamesOneWait(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "wf.hcl"), `workflow "parent" {
  step "wait" "approval" {
    timeout    = "1h"
    on_timeout = "continue"
  }
  step "workflow" "c" {
    workflow = "kid"
  }
  step "workflow" "kids" {
    for_each = "[1, 2]"
    workflow = "kid"
  }
}

workflow "kid" {
  step "wait" "approval" {
    timeout    = "1h"
    on_timeout = "continue"
  }
  step "set" "seen" {
    timed_out = "{{ steps.approval.timed_out }}"
    by        = "{{ steps.approval.body }}"
  }
}
`)
	writeFile(t, filepath.Join(dir, "wf.test.hcl"), `test "the parent's wait only" {
  workflow = "parent"
  resume "approval" {
    json = "parent"
  }
  expect "approval" {
    output = { timed_out = false, body = "parent" }
  }
  expect "c" {
    output = { result = { timed_out = true, by = null } }
  }
  expect "kids" {
    output = [{ result = { timed_out = true } }, { result = { timed_out = true } }]
  }
}

test "the children's waits" {
  workflow = "parent"
  resume "c/approval" {
    json = "c"
  }
  resume "kids/approval" {
    json = "kids"
  }
  expect "approval" {
    output = { timed_out = true }
  }
  expect "c" {
    output = { result = { timed_out = false, by = "c" } }
  }
  expect "kids" {
    output = [{ result = { timed_out = false, by = "kids" } }, { result = { timed_out = false, by = "kids" } }]
  }
}
`)
	if out, code := hookflowTest(t, dir); code != 0 || !strings.Contains(out, "PASS: 2 tests") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// A failed test prints its run's steps as hookflow run does: each child run below its
// workflow step, indented, with its steps, a wait = false step's too; a mocked
// workflow step says it has none.
func TestWorkflowTestsPrintChildRuns(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "wf.hcl"), `workflow "p" {
  step "workflow" "bg" {
    workflow = "child2"
    wait     = false
  }
  step "workflow" "mocked" {
    workflow = "child2"
  }
  step "workflow" "kids" {
    for_each = "[1, 2]"
    workflow = "child2"
  }
}

workflow "child2" {
  step "http" "call" {
    url = "https://api.example.com/x"
  }
}
`)
	writeFile(t, filepath.Join(dir, "wf.test.hcl"), `test "children" {
  workflow = "p"
  mock "bg/call" {
    status = 500
  }
  mock "mocked" {
    json = { n = 1 }
  }
  mock "kids/call" {
    status = 200
  }
  mock "kids[1]" {
    status = 500
  }
}
`)
	out, code := hookflowTest(t, dir)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d:\n%s", code, exitFailed, out)
	}
	id := regexp.MustCompile(`run (\w+):bg of child2`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("no child run of bg printed:\n%s", out)
	}
	for _, want := range []string{
		"      1. bg (workflow) succeeded",
		"         run " + id[1] + ":bg of child2 (the child run of step bg)\n" +
			"           1. bg/call (http) failed in ",
		"           error: step call: GET https://api.example.com/x: status 500 Internal Server Error, expected 2xx\n",
		"      2. mocked (workflow) succeeded",
		"         child run " + id[1] + ":mocked: none (a mock answered the step, or it never started)\n",
		"         run " + id[1] + ":kids:0 of child2 (the child run of step kids[0])\n" +
			"           1. kids/call (http) succeeded in ",
		"         child run " + id[1] + ":kids:1: none (a mock answered the step, or it never started)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// An expect's output compares a sensitive step's output, and a copy of it, as the
// later steps read them, in a run that succeeds as in one that fails: not as the
// [sensitive] the history shows once a run succeeded.
func TestWorkflowTestsSensitiveOutput(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "wf.hcl"), `workflow "wf" {
  step "set" "login" {
    sensitive = true
    token     = "tok_abcdefgh"
  }
  step "set" "copy" {
    tok = "{{ steps.login.token }}"
  }
  step "http" "use" {
    url     = "https://api.example.com/x"
    headers = { Authorization = "Bearer {{ steps.copy.tok }}" }
  }
}
`)
	writeFile(t, filepath.Join(dir, "wf.test.hcl"), `test "succeeded" {
  workflow = "wf"
  mock "use" {}
  expect "login" {
    output = { token = "tok_abcdefgh" }
  }
  expect "copy" {
    output = { outcome = "succeeded", tok = "tok_abcdefgh" }
  }
}

test "failed" {
  workflow   = "wf"
  expect_run = "failed"
  mock "use" {
    status = 500
  }
  expect "copy" {
    output = { tok = "tok_abcdefgh" }
  }
}

test "wrong" {
  workflow = "wf"
  mock "use" {}
  expect "copy" {
    output = { tok = "tok_other" }
  }
}
`)
	out, code := hookflowTest(t, dir)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d:\n%s", code, exitFailed, out)
	}
	for _, want := range []string{"ok    succeeded (", "ok    failed (", "FAIL  wrong (",
		`expect "copy" output (succeeded):` + "\n        .tok: expected \"tok_other\", got \"tok_abcdefgh\"\n",
		"copy (set) succeeded", "         output: \"[sensitive]\"\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The steps printed show it as the history does: only the failed expectation
	// says the value.
	if n := strings.Count(out, "tok_abcdefgh"); n != 1 {
		t.Errorf("the value is printed %d times:\n%s", n, out)
	}
}

// A test applies no api's rate_limit or concurrency, and its run's timeout counts no
// wait for them, as language.md says: three calls to an api that allows one an hour
// pass within a timeout of a second.
func TestWorkflowTestsApplyNoAPILimits(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "wf.hcl"), `api "slow" {
  base_url    = "https://api.example.com"
  rate_limit  = "1/h"
  concurrency = 1
}

workflow "wf" {
  timeout = "1s"
  step "http" "calls" {
    for_each = "[1, 2, 3]"
    api      = "slow"
    url      = "/things/{{ each.value }}"
  }
}
`)
	writeFile(t, filepath.Join(dir, "wf.test.hcl"), `test "three calls" {
  workflow = "wf"
  mock "calls" {}
  expect "calls" {
    count = 3
  }
}
`)
	if out, code := hookflowTest(t, dir); code != 0 || !strings.Contains(out, "PASS: 1 test") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// A test checks its run once the child runs of its wait = false steps have ended, and
// theirs: an expect on a step of such a child sees the requests it sent, however long
// after the run it sends them. Each child here sends its request after fifty steps,
// one after another, long after the run that started it ended.
func TestWorkflowTestsWaitForChildRuns(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "wf.hcl"), `workflow "p" {
  step "workflow" "bg" {
    workflow = "slow"
    wait     = false
  }
}

workflow "slow" {
  step "log" "each" {
    for_each     = "0..49"
    max_parallel = 1
    message      = "item {{ each.key }}"
  }
  step "http" "call" {
    url = "https://api.example.com/slow"
  }
  step "workflow" "deeper" {
    workflow = "slower"
    wait     = false
  }
}

workflow "slower" {
  step "log" "each" {
    for_each     = "0..49"
    max_parallel = 1
    message      = "item {{ each.key }}"
  }
  step "http" "call" {
    url = "https://api.example.com/slower"
  }
}
`)
	var tests strings.Builder
	const n = 10
	for i := range n {
		fmt.Fprintf(&tests, `test "t%d" {
  workflow = "p"
  mock "bg/call" {
    status = 200
  }
  mock "bg/deeper/call" {
    status = 200
  }
  expect "bg/call" {
    count = 1
  }
  expect "bg/deeper/call" {
    url = "https://api.example.com/slower"
  }
}

`, i)
	}
	writeFile(t, filepath.Join(dir, "wf.test.hcl"), tests.String())
	if out, code := hookflowTest(t, dir); code != 0 || !strings.Contains(out, fmt.Sprintf("PASS: %d tests", n)) {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}
