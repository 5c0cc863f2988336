package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

// TestDocExamples loads every ```hcl example of the README and docs/language.md, so
// that the documentation never shows something hookflow refuses or warns about.
// Fragments (a step, a trigger, a retry or verify block) are wrapped in the smallest
// workflow that holds them.
func TestDocExamples(t *testing.T) {
	var data []byte
	for _, doc := range []string{"../../README.md", "../../docs/language.md"} {
		d, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, d...)
	}
	blocks := regexp.MustCompile("(?s)```hcl\n(.*?)```").FindAllStringSubmatch(string(data), -1)
	if len(blocks) < 9 {
		t.Fatalf("only %d examples found", len(blocks))
	}
	for _, m := range regexp.MustCompile(`(?:secret|env)\("([A-Z_]+)"`).FindAllStringSubmatch(string(data), -1) {
		value := "from-the-environment"
		if strings.HasSuffix(m[1], "_URL") {
			value = "https://example.com/api"
		}
		t.Setenv(m[1], value)
	}
	k := kinds(nil, nil)
	for i, b := range blocks {
		src := b[1]
		switch first := strings.Fields(src)[0]; first {
		case "vars", "workflow":
		case "step", "trigger", "parallel":
			src = "workflow \"doc\" {\n" + src + "\n}\n"
		case "retry":
			src = "workflow \"doc\" {\n step \"http\" \"a\" {\n url = \"https://example.com\"\n" + src + "\n}\n}\n"
		case "verify":
			src = "workflow \"doc\" {\n trigger \"webhook\" {\n path = \"/doc\"\n" + src + "\n}\n}\n"
		default:
			t.Errorf("example %d starts with %q: add how to load it", i+1, first)
			continue
		}
		if strings.Contains(src, "vars.") && !strings.Contains(src, "vars {") {
			src = "vars {\n crm = \"https://crm.example.com\"\n helpdesk = \"https://help.example.com\"\n warehouse = \"https://wh.example.com\"\n}\n" + src
		}
		_, diags := workflows.Load([]workflows.Source{{Name: "example.hcl", Data: []byte(src)}}, k)
		if len(diags) > 0 {
			t.Errorf("example %d does not load without a warning: %s\n%s", i+1, diags.Error(), b[1])
		}
	}
}
