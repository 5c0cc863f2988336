package workflows

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// crlfSrc has a heredoc in a var and in a step, and a quoted string that asks for a
// carriage return with an escape.
const crlfSrc = `vars {
  footer = <<-EOT
    --
    hookflow
  EOT
}

workflow "order_paid" {
  trigger "hook" {
    path = "/orders"
  }

  step "call" "notify" {
    url  = "https://api.example.com/notify"
    json = {
      text  = <<-EOT
        Order paid.
        ${vars.footer}
      EOT
      crlf = "one\r\ntwo"
    }
  }
}
`

// crlf is src with every line ending in CR LF, as an editor on Windows saves it.
func crlf(src string) string { return strings.ReplaceAll(src, "\n", "\r\n") }

// A file saved with CR LF line endings loads as the same file with LF ones: its
// heredocs hold LF line endings, and its workflows have the same version. A carriage
// return written as an escape stays.
func TestCRLFLoadsAsLF(t *testing.T) {
	load := func(src string) *Workflow {
		t.Helper()
		set, diags := loadString(t, src)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		return set.Workflow("order_paid")
	}
	lf, cr := load(crlfSrc), load(crlf(crlfSrc))
	if cr.Version != lf.Version {
		t.Errorf("version %s with CR LF line endings, %s with LF", cr.Version, lf.Version)
	}
	sent := func(wf *Workflow) any {
		t.Helper()
		out, err := wf.Steps[0].Action.Do(context.Background(), &Call{Env: &Env{Vars: wf.Vars}})
		if err != nil {
			t.Fatal(err)
		}
		return out.(map[string]any)["json"]
	}
	want := map[string]any{"text": "Order paid.\n--\nhookflow\n\n", "crlf": "one\r\ntwo"}
	if got := sent(lf); !reflect.DeepEqual(got, want) {
		t.Errorf("LF file sends %#v, want %#v", got, want)
	}
	if got := sent(cr); !reflect.DeepEqual(got, want) {
		t.Errorf("CR LF file sends %#v, want %#v", got, want)
	}
}

// A test file's heredocs hold LF line endings too.
func TestCRLFTestFileLoadsAsLF(t *testing.T) {
	src := "test \"paid\" {\n  workflow = \"order\"\n  event {\n    body = <<-EOT\n      id=o1\n      total=12\n    EOT\n  }\n}\n"
	for name, src := range map[string]string{"LF": src, "CR LF": crlf(src)} {
		tests, diags := loadTests(t, src)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", name, diags.Error())
		}
		if got := tests[0].Event.Raw; got != "id=o1\ntotal=12\n" {
			t.Errorf("%s: the event's body is %q", name, got)
		}
	}
}

// A diagnostic in a file with CR LF line endings points where it does with LF ones,
// and shows the same line.
func TestCRLFDiagnosticsKeepTheirPlace(t *testing.T) {
	bad := strings.Replace(crlfSrc, `path = "/orders"`, `pth = "/orders"`, 1)
	bad = strings.Replace(bad, `${vars.footer}`, `${vars.foter}`, 1)
	report := func(src string) ([]hcl.Range, string) {
		t.Helper()
		srcs := []Source{{Name: "f1.hcl", Data: []byte(src)}}
		_, diags := Load(srcs, testKinds())
		if !diags.HasErrors() {
			t.Fatal("no errors")
		}
		var at []hcl.Range
		for _, d := range SortDiagnostics(diags) {
			r := *d.Subject
			r.Start.Byte, r.End.Byte = 0, 0 // a CR is one more byte on each line
			at = append(at, r)
		}
		var out bytes.Buffer
		if err := WriteDiagnostics(&out, srcs, diags); err != nil {
			t.Fatal(err)
		}
		return at, out.String()
	}
	lfAt, lfText := report(bad)
	crAt, crText := report(crlf(bad))
	if len(lfAt) != 2 || lfAt[0].Start.Line != 10 || lfAt[0].Start.Column != 5 || lfAt[1].Start.Line != 18 {
		t.Errorf("LF diagnostics at %+v", lfAt)
	}
	if !reflect.DeepEqual(crAt, lfAt) {
		t.Errorf("CR LF diagnostics at %+v, LF at %+v", crAt, lfAt)
	}
	if crText != lfText {
		t.Errorf("CR LF diagnostics:\n%s\nLF:\n%s", crText, lfText)
	}
}

// fmt keeps a file's CR LF line endings, and reports a file that does not parse as
// with LF ones.
func TestCRLFFormat(t *testing.T) {
	ugly := "workflow \"w\" {\n  trigger \"hook\" {\n      path = \"/w\"\n  }\n  step \"call\" \"c\" {\n    url = \"https://x\"\n    json = { text = <<-EOT\n      hi\n    EOT\n    }\n  }\n}\n"
	lfOut, diags := Format([]byte(ugly), "w.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	crOut, diags := Format([]byte(crlf(ugly)), "w.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if string(lfOut) == ugly || string(crOut) != crlf(string(lfOut)) {
		t.Errorf("formats CR LF as\n%q\nLF as\n%q", crOut, lfOut)
	}

	broken := strings.Replace(ugly, `url = "https://x"`, `url = "https://x`, 1)
	report := func(src string) string {
		t.Helper()
		_, diags := Format([]byte(src), "w.hcl")
		if !diags.HasErrors() {
			t.Fatal("no errors")
		}
		var out bytes.Buffer
		if err := WriteDiagnostics(&out, []Source{{Name: "w.hcl", Data: []byte(src)}}, diags); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	if lf, cr := report(broken), report(crlf(broken)); cr != lf || !strings.Contains(lf, "w.hcl:6:") {
		t.Errorf("CR LF file:\n%s\nLF file:\n%s", cr, lf)
	}
}
