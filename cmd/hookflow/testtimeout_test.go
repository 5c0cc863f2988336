package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// hookflow test applies a workflow's timeout to the time its delays, retries' waits
// and waits' timeouts would take under serve, though they take none: a run that serve
// would time out fails at the same step, with the same error and requests, and its
// on_failure steps run; waits side by side do not add up.
func TestWorkflowTestsTimeout(t *testing.T) {
	const f = "testdata/wftimeout/timeout.test.hcl"
	out, code := hookflowTest(t, "-v", f)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d:\n%s", code, exitFailed, out)
	}
	for _, c := range []struct {
		name string
		want []string // in the test's part of the output
	}{
		{"a wait past the timeout fails the run", []string{"FAIL",
			f + ":1: the run: expected succeeded, but it failed\n    step approval: run timed out: its timeout of 3s passed\n",
			"approval (wait) failed", `{"error":"step approval: run timed out: its timeout of 3s passed","step":"approval"}`}},
		{"a wait past the timeout, expected", []string{"ok  "}},
		{"a resumed wait takes no time", []string{"ok  ", `"message": "timed_out=false"`}},
		{"a delay past the timeout fails the run", []string{"FAIL",
			f + ":29: the run: expected succeeded, but it failed\n    step d: run timed out: its timeout of 2s passed\n",
			"d (delay) failed", "after (log) cancelled"}},
		{"a delay past the timeout, expected", []string{"ok  "}},
		// 1s between attempts: the third is sent at 2s; the fourth would start past
		// 2.5s, and fails without sending, as under serve: the step keeps the three
		// attempts it made and their requests. count = 3 holds.
		{"retries past the timeout fail the run", []string{"FAIL",
			f + ":47: the run: expected succeeded, but it failed\n    step call: run timed out: its timeout of 2.5s passed\n",
			"call (http) failed", "after 3 attempts", "→ attempt 3: GET https://api.example.com/call"}},
		{"retries past the timeout, expected", []string{"ok  "}},
		{"delays side by side do not add up", []string{"ok  ", "after (log) succeeded"}},
		{"a child's time counts", []string{"ok  ", "child (workflow) failed", "error: run timed out: its timeout of 2s passed"}},
		{"a child within the timeout", []string{"ok  "}},
		{"a delay that ends at the timeout fails the run", []string{"FAIL",
			f + ":96: the run: expected succeeded, but it failed\n    step d: run timed out: its timeout of 2s passed\n",
			"d (delay) failed"}},
		{"attempts that time out take the step's timeout", []string{"ok  "}},
	} {
		t.Run(c.name, func(t *testing.T) {
			part := testOutput(out, c.name)
			if part == "" {
				t.Fatalf("no output for the test:\n%s", out)
			}
			for _, want := range c.want {
				if !strings.Contains(part, want) {
					t.Errorf("output lacks %q:\n%s", want, part)
				}
			}
			if strings.Contains(part, "expect \"call\" count") {
				t.Errorf("the mock got other than 3 requests:\n%s", part)
			}
		})
	}
	if !strings.HasSuffix(out, "FAIL: 4 of 12 tests failed\n") {
		t.Errorf("summary:\n%s", out)
	}
}

// testOutput is the part of hookflow test's output about the test named name: from its
// ok or FAIL line to the next test's.
func testOutput(out, name string) string {
	var part []string
	for _, line := range strings.SplitAfter(out, "\n") {
		switch {
		case strings.HasPrefix(line, "ok    "+name+" (") || strings.HasPrefix(line, "FAIL  "+name+" ("):
			part = append(part, line)
		case len(part) > 0 && (strings.HasPrefix(line, "ok  ") || strings.HasPrefix(line, "FAIL")):
			return strings.Join(part, "")
		case len(part) > 0:
			part = append(part, line)
		}
	}
	return strings.Join(part, "")
}

// A failed test says why the run failed as serve and hookflow run say it: a step of a
// parallel block fails the run with its own error, not the block's.
func TestWorkflowTestsSayTheRunsError(t *testing.T) {
	const f = "testdata/wfparallelerror/notify.test.hcl"
	out, code := hookflowTest(t, f)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d:\n%s", code, exitFailed, out)
	}
	want := f + ":12: the run: expected succeeded, but it failed\n    step email: POST https://mail.example.com/x: status 503"
	if !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
}

// A list of another length says both lengths, not only both lists.
func TestSubsetDiffListLengths(t *testing.T) {
	got := subsetDiff(map[string]any{"lines": []any{map[string]any{"sku": "A1"}}},
		map[string]any{"lines": []any{map[string]any{"sku": "A1"}, map[string]any{"sku": "B2"}, map[string]any{"sku": "C3"}}}, "got")
	want := `    .lines: expected 1 item [{"sku":"A1"}], got 3 [{"sku":"A1"},{"sku":"B2"},{"sku":"C3"}]`
	if len(got) != 1 || got[0] != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// slowerTimeouts are the --timeout a test of a run cut short tries, one after the
// other while its slow step has not got as far as the test looks for by then: a machine
// busy with other tests may take longer than the first to start it, or to run its first
// item, and its 10,000 items take seconds more than the last.
var slowerTimeouts = []string{"200ms", "500ms", "1s", "2s", "4s"}

// cutShort runs hookflow test on dir with each of slowerTimeouts until the output says
// started, what shows its slow step under way by the timeout, and returns that output
// and the timeout. The test must fail, cut short.
func cutShort(t *testing.T, dir, started string) (out, timeout string) {
	t.Helper()
	for _, timeout = range slowerTimeouts {
		var code int
		out, code = hookflowTest(t, "--timeout", timeout, dir)
		if code != exitFailed {
			t.Fatalf("exit %d, want %d:\n%s", code, exitFailed, out)
		}
		if strings.Contains(out, started) {
			return out, timeout
		}
	}
	t.Fatalf("after --timeout %s the output lacks %q:\n%s", timeout, started, out)
	return "", ""
}

// hookflow test --timeout fails a test whose run has not finished after it, saying so
// with the run's steps so far; the same test passes with the default of 1m.
func TestTestTimeout(t *testing.T) {
	const dir = "testdata/wfslow"
	out, timeout := cutShort(t, dir, "1. each (log) running, 10000 items\n         each[0] succeeded")
	for _, want := range []string{
		dir + "/slow.test.hcl:1: the run did not finish after --timeout " + timeout + "; its steps so far are below\n",
		"      1. each (log) running, 10000 items\n         each[0] succeeded",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "context deadline exceeded") {
		t.Errorf("output says the context's error:\n%s", out)
	}
	if out, code := hookflowTest(t, dir); code != 0 || !strings.Contains(out, "PASS: 1 test") {
		t.Errorf("with the default timeout: exit %d\n%s", code, out)
	}
}

// A wait = false step's child run still running at --timeout fails the test, saying
// so, with its steps so far below its workflow step.
func TestTestTimeoutOfAChildRun(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "wf.hcl"), `workflow "p" {
  step "workflow" "bg" {
    workflow = "slow"
    wait     = false
  }
}

workflow "slow" {
  step "log" "each" {
    for_each     = "0..9999"
    max_parallel = 1
    message      = "item {{ each.key }}"
  }
}
`)
	writeFile(t, filepath.Join(dir, "wf.test.hcl"), `test "a child longer than the timeout" {
  workflow = "p"
}
`)
	out, timeout := cutShort(t, dir, "1. bg/each (log) running, 10000 items\n")
	id := regexp.MustCompile(`run (\w+):bg of slow`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("no child run of bg printed:\n%s", out)
	}
	for _, want := range []string{
		"wf.test.hcl:1: the child run " + id[1] + ":bg of step bg did not finish after --timeout " + timeout + "; its steps so far are below\n",
		"      1. bg (workflow) succeeded",
		"         run " + id[1] + ":bg of slow (the child run of step bg)\n" +
			"           1. bg/each (log) running, 10000 items\n",
		"         run running\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// --timeout counts from when the run is queued: one too short for any run says the
// run has not finished, with its steps so far, not that it could not be queued.
func TestTestTimeoutStartsOnceQueued(t *testing.T) {
	const dir = "testdata/wfslow"
	out, code := hookflowTest(t, "--timeout", "1ns", dir)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d:\n%s", code, exitFailed, out)
	}
	want := dir + "/slow.test.hcl:1: the run did not finish after --timeout 1ns; its steps so far are below\n"
	if !strings.Contains(out, want) || strings.Contains(out, "starting the run") {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
}
