package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A file with warnings only validates: validate prints them and exits 0.
func TestValidatePassesWithWarnings(t *testing.T) {
	dir := t.TempDir()
	src := `workflow "orders" {
  step "http" "find_customer" {
    url = "https://crm.example.com/customers"
  }
  step "log" "note" {
    if      = "event.body.paid"
    message = "customer {{ steps.find_customer.id }}"
  }
  step "log" "after" {
    if      = "steps.note.status == 'succeeded'"
    message = "noted"
  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "orders.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"validate", dir}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("warnings failed validate: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "no errors, 3 warnings") {
		t.Errorf("stdout %q", stdout.String())
	}
	for _, want := range []string{
		"Warning: Condition may not be true or false",
		`Warning: Step "find_customer" has no output field "id"`,
		`Warning: Step "note" has no output field "status"`,
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr.String())
		}
	}
}
