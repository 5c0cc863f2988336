package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// An expect's output is matched against steps.STEP as the later steps read it: with
// its outcome, and its error when it failed, for every kind, for a failed, a skipped
// or a parallel step, and for a for_each step (its items' values) and each item.
func TestWorkflowTestsOutputIsTheStepsValue(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "wf.hcl"), `workflow "wf" {
  timeout = "3s"
  step "http" "a" {
    url = "https://api.example.com/a"
  }
  step "set" "seen" {
    a = "{{ steps.a }}"
  }
  parallel "p" {
    step "set" "x" {
      v = 1
    }
    step "set" "y" {
      if = "false"
      v  = 2
    }
  }
  step "http" "each" {
    for_each = "{ b: 2, a: 1 }"
    url      = "https://api.example.com/each/{{ each.value }}"
    on_error = "continue"
  }
  step "set" "list" {
    for_each = "[1, 2]"
    if       = "each.value > 1"
    v        = "{{ each.value }}"
  }
  step "delay" "d" {
    duration = "10s"
  }
  step "log" "after" {
    message = "never"
  }
  on_failure {
    step "set" "why" {
      outcome = "{{ steps.d.outcome }}"
    }
  }
}
`)
	writeFile(t, filepath.Join(dir, "wf.test.hcl"), `test "outputs" {
  workflow   = "wf"
  expect_run = "failed"
  mock "a" {
    status = 200
    json   = { id = 7 }
  }
  mock "each" {
    status = 200
  }
  mock "each[b]" {
    status = 500
  }
  expect "a" {
    output = { outcome = "succeeded", status = 200, body = { id = 7 } }
  }
  expect "seen" {
    output = { outcome = "succeeded", a = { outcome = "succeeded", status = 200 } }
  }
  expect "x" {
    output = { outcome = "succeeded", v = 1 }
  }
  expect "y" {
    output = { outcome = "skipped" }
  }
  expect "each" {
    output = { a = { outcome = "succeeded", status = 200 }, b = { outcome = "failed", status = 500 } }
  }
  expect "each[b]" {
    output = { outcome = "failed", status = 500, error = "GET https://api.example.com/each/2: status 500 Internal Server Error, expected 2xx" }
  }
  expect "list" {
    output = [{ outcome = "skipped" }, { outcome = "succeeded", v = 2 }]
  }
  expect "list[1]" {
    output = { outcome = "succeeded", v = 2 }
  }
  expect "d" {
    output = { outcome = "failed", error = "run timed out: its timeout of 3s passed" }
  }
  expect "on_failure/why" {
    output = { outcome = "succeeded" }
  }
}

test "a wrong output" {
  workflow   = "wf"
  expect_run = "failed"
  mock "a" {
    status = 200
  }
  mock "each" {
    status = 200
  }
  expect "d" {
    output = { outcome = "succeeded" }
  }
  expect "after" {
    output = { outcome = "succeeded" }
  }
}
`)
	out, code := hookflowTest(t, dir)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d:\n%s", code, exitFailed, out)
	}
	f := filepath.Join(dir, "wf.test.hcl")
	for _, want := range []string{
		"ok    outputs (",
		"FAIL  a wrong output (",
		f + ":56: expect \"d\" output (failed):\n        .outcome: expected \"succeeded\", got \"failed\"\n",
		f + ":59: expect \"after\" output (cancelled):\n        (the whole value): expected an object {\"outcome\":\"succeeded\"}, got null\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// A failed expectation says how the step ended by its outcome, as steps.STEP.outcome
// does, never by a "status", which is an http step's HTTP status.
func TestWorkflowTestsSayTheOutcome(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "wf.hcl"), `workflow "wf" {
  step "http" "a" {
    url = "https://api.example.com/a"
  }
  step "http" "b" {
    url = "https://api.example.com/b"
  }
  on_failure {
    step "log" "note" {
      message = "failed"
    }
  }
}
`)
	writeFile(t, filepath.Join(dir, "wf.test.hcl"), `test "wrong outcomes" {
  workflow   = "wf"
  expect_run = "failed"
  mock "a" {
    status = 500
  }
  expect "a" {
    skipped = true
  }
  expect "b" {
    skipped = true
  }
  expect "b" {
    method = "GET"
  }
}

test "a step not reached" {
  workflow = "wf"
  mock "a" {}
  mock "b" {}
  expect "on_failure/note" {
    skipped = true
  }
}
`)
	out, code := hookflowTest(t, dir)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d:\n%s", code, exitFailed, out)
	}
	f := filepath.Join(dir, "wf.test.hcl")
	for _, want := range []string{
		f + ":8: expect \"a\": expected the step skipped, but its outcome is failed\n",
		f + ":11: expect \"b\": expected the step skipped, but its outcome is cancelled\n",
		f + ":13: expect \"b\": expected a request, but the step sent none (its outcome is cancelled)\n",
		f + ":23: expect \"on_failure/note\": expected the step skipped, but the run never reached it\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "status is") || strings.Contains(out, "its status") {
		t.Errorf("output says a status for an outcome:\n%s", out)
	}
}
