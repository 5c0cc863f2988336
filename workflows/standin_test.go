package workflows_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/workflows"
)

// A block whose attributes all fail to compile, and a block that writes none of its
// required attributes, still go to their kind's constructor; what it would say of the
// attributes in error, or of their absence, is not reported: each problem is reported
// once, by the loader. Every kind of the binary is tried.
func TestKindChecksAddNoNoise(t *testing.T) {
	k := realKinds()
	steps, triggers := k.KindAttrs()
	type block struct{ what, kind string }
	attrsOf := map[block][]workflows.Attr{}
	for name, attrs := range steps {
		attrsOf[block{"step", name}] = attrs
	}
	for name, attrs := range triggers {
		attrsOf[block{"trigger", name}] = attrs
	}
	if len(attrsOf) < 9 {
		t.Fatalf("only %d kinds", len(attrsOf))
	}
	for b, attrs := range attrsOf {
		t.Run(b.what+" "+b.kind, func(t *testing.T) {
			var body strings.Builder
			for _, a := range attrs {
				fmt.Fprintf(&body, "    %s = \"{{ nope_%s }}\"\n", a.Name, a.Name)
			}
			diags := loadBlock(t, k, b.what, b.kind, body.String())
			var got []string
			for _, d := range diags {
				got = append(got, d.Summary)
			}
			sort.Strings(got)
			var want []string
			for _, a := range attrs {
				want = append(want, fmt.Sprintf("Unknown name %q", "nope_"+a.Name))
			}
			sort.Strings(want)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("every attribute in error:\n got %q\nwant %q", got, want)
			}

			want = nil
			for _, a := range attrs {
				if a.Required {
					want = append(want, "Missing required argument")
				}
			}
			if len(want) == 0 {
				return // an empty block may be what the kind refuses, in its own words
			}
			got = nil
			for _, d := range loadBlock(t, k, b.what, b.kind, "") {
				got = append(got, d.Summary)
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("no required attribute written:\n got %q\nwant %q", got, want)
			}
		})
	}
}

// loadBlock loads a workflow holding one trigger or step of a kind with body, and
// returns its errors.
func loadBlock(t *testing.T, k *workflows.Kinds, what, kind, body string) hcl.Diagnostics {
	t.Helper()
	header := fmt.Sprintf("trigger %q", kind)
	if what == "step" {
		header = fmt.Sprintf("step %q \"s\"", kind)
	}
	src := fmt.Sprintf("workflow \"w\" {\n  %s {\n%s  }\n}\n", header, body)
	_, diags := workflows.Load([]workflows.Source{{Name: "w.hcl", Data: []byte(src)}}, k)
	var errs hcl.Diagnostics
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			errs = append(errs, d)
		}
	}
	if len(errs) == 0 {
		t.Fatalf("no error in\n%s", src)
	}
	return errs
}
