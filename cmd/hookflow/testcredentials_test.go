package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// A test's api with OAuth2 sends the token dry-run-token, its token endpoint not
// called: an expect of Authorization = "Bearer dry-run-token" passes. A failed expect
// of a credential header shows what was sent as the request printed does, its
// scheme and [redacted], never a value: one written in a file is real.
func TestWorkflowTestsCredentialHeaders(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "wf.hcl"), `api "crm" {
  base_url = "https://crm.example.com/api"
  auth "oauth2" {
    token_url     = "https://auth.example.com/oauth/token"
    client_id     = "hookflow"
    client_secret = secret("CRM_CLIENT_SECRET")
  }
}

workflow "find" {
  trigger "webhook" {
    path = "/find"
  }
  step "http" "find" {
    api     = "crm"
    url     = "/customers"
    headers = { X-Api-Key = "key-in-the-file-123456" }
  }
}
`)
	test := func(authorization, key string) string {
		writeFile(t, filepath.Join(dir, "wf.test.hcl"), `test "auth" {
  workflow = "find"
  event {
    body = {}
  }
  mock "find" {
    json = {}
  }
  expect "find" {
    headers = { Authorization = "`+authorization+`", X-Api-Key = "`+key+`" }
  }
}
`)
		out, _ := hookflowTest(t, dir)
		return out
	}
	if out := test("Bearer dry-run-token", "key-in-the-file-123456"); !strings.Contains(out, "PASS: 1 test") {
		t.Errorf("an expect of the documented token fails:\n%s", out)
	}
	out := test("Bearer other", "other")
	for _, want := range []string{`Authorization: expected "Bearer other", sent "Bearer [redacted]"`,
		`X-Api-Key: expected "other", sent "[redacted]"`, "Authorization: Bearer [redacted]"} {
		if !strings.Contains(out, want) {
			t.Errorf("the output lacks %q:\n%s", want, out)
		}
	}
	for _, hidden := range []string{"dry-run-token", "key-in-the-file-123456"} {
		if strings.Contains(out, hidden) {
			t.Errorf("the output shows %s:\n%s", hidden, out)
		}
	}
}

// The request of a step no mock answers shows a credential header as the step listing
// and the run history do: its scheme, then [redacted].
func TestWorkflowTestsUnmockedCredentialHeader(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "wf.hcl"), `workflow "find" {
  trigger "webhook" {
    path = "/find"
  }
  step "http" "find" {
    url     = "https://crm.example.com/customers"
    headers = { Authorization = "Bearer token-in-the-file-123456" }
  }
}
`)
	writeFile(t, filepath.Join(dir, "wf.test.hcl"), `test "unmocked" {
  workflow = "find"
  event {
    body = {}
  }
}
`)
	out, code := hookflowTest(t, dir)
	_, unmocked, _ := strings.Cut(out, "sent a request that no mock answers:")
	if code != exitFailed || !strings.Contains(unmocked, "Authorization: Bearer [redacted]\n") {
		t.Errorf("exit %d; the unmocked request does not show the scheme:\n%s", code, out)
	}
	if strings.Contains(out, "Authorization: [redacted]") || strings.Contains(out, "token-in-the-file-123456") {
		t.Errorf("a credential header shown otherwise than as Bearer [redacted]:\n%s", out)
	}
}
