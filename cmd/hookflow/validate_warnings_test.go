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

// A workflow file with no block, empty or only comments, is a warning at the file:
// one cut short by a copy would otherwise remove its workflows without a word.
func TestValidateWarnsOfAFileWithNoBlocks(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.hcl"), hookSrc("a"))
	writeFile(t, filepath.Join(dir, "empty.hcl"), "")
	writeFile(t, filepath.Join(dir, "notes.hcl"), "# moved to a.hcl\n// and so on\n")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"validate", dir}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("validate: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "1 workflow") || !strings.Contains(stdout.String(), "no errors, 2 warnings") {
		t.Errorf("stdout %q", stdout.String())
	}
	for _, name := range []string{"empty.hcl", "notes.hcl"} {
		if want := "Warning: No blocks in file\n\n  on " + filepath.Join(dir, name) + ":1:1:\n"; !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr.String())
		}
	}
}
