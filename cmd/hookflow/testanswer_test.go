package main

import (
	"strings"
	"testing"
)

// hookflow test holds a sync webhook's answer to its response_timeout, in the time
// the run would take under serve: an answer past it fails the expect of the respond
// step, as its caller got the 202 instead; one in time, or to a manual start, passes.
func TestWorkflowTestsAnswerTime(t *testing.T) {
	const f = "testdata/wfsync/sync.test.hcl"
	out, code := hookflowTest(t, f)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d:\n%s", code, exitFailed, out)
	}
	for name, want := range map[string]string{
		// Three attempts of 2s that time out, 1s between them: 8s.
		"an answer after response_timeout":   "FAIL  an answer after response_timeout (" + f + ":1, ",
		"an answer within response_timeout":  "ok    an answer within response_timeout (",
		"a manual start waits for no answer": "ok    a manual start waits for no answer (",
	} {
		if part := testOutput(out, name); !strings.HasPrefix(part, want) {
			t.Errorf("%s: want %q:\n%s", name, want, out)
		}
	}
	late := f + `:6: expect "answer": the answer came after response_timeout: the run answered at 8s, past the webhook's response_timeout of 2.5s,` + "\n" +
		`    so under serve its caller got 202 {"run_id", "status_url"} instead`
	if !strings.Contains(out, late) {
		t.Errorf("output lacks %q:\n%s", late, out)
	}
	if !strings.HasSuffix(out, "FAIL: 1 of 3 tests failed\n") {
		t.Errorf("summary:\n%s", out)
	}
}
