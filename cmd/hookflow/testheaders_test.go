package main

import (
	"strings"
	"testing"
)

// An expect of a header that holds a secret says what to write, the placeholder a
// test's secret() reads, without showing any other hidden value; [redacted] matches a
// value shown so, and says why it does not match one shown as it is.
func TestWorkflowTestsHeaderSecrets(t *testing.T) {
	const f = "testdata/wfheaders/crm.test.hcl"
	out, code := hookflowTest(t, f)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d:\n%s", code, exitFailed, out)
	}
	for _, c := range []struct {
		name string
		want []string
	}{
		{"the placeholder", []string{"ok  "}},
		{"redacted", []string{"ok  "}},
		{"a real token", []string{"FAIL", f + ":27: expect \"create\" headers:\n" +
			`        Authorization: expected "Bearer crm-token-123", sent "Bearer [redacted]"` + "\n" +
			`          (in a test, secret("CRM_TOKEN") reads https://unset.invalid/CRM_TOKEN: write "Bearer https://unset.invalid/CRM_TOKEN", or "Bearer [redacted]")`}},
		{"redacted where no secret is", []string{"FAIL", `X-Plain: expected "[redacted]", sent "plain"` + "\n" +
			"          ([redacted] matches what hookflow hides"}},
		{"a credential written in the file", []string{"FAIL", `X-Api-Key: expected "other-key", sent "[redacted]"` + "\n"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			part := testOutput(out, c.name)
			for _, want := range c.want {
				if !strings.Contains(part, want) {
					t.Errorf("output lacks %q:\n%s", want, part)
				}
			}
		})
	}
	if strings.Contains(out, "written-key") {
		t.Errorf("a credential written in the file is shown:\n%s", out)
	}
}
