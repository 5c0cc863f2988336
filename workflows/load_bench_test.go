package workflows_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

// BenchmarkLoad1000Workflows loads 1,000 generated workflows, each a verified webhook,
// a filter and two http steps, with the real kinds: one file per workflow, as people
// keep them, and all in one file, the worst case for HCL's lexer.
func BenchmarkLoad1000Workflows(b *testing.B) {
	vars := workflows.Source{Name: "vars.hcl", Data: []byte("vars {\n  crm = \"https://crm.example.com\"\n}\n")}
	files := []workflows.Source{vars}
	var one strings.Builder
	one.Write(vars.Data)
	for i := range 1000 {
		src := fmt.Sprintf(`
workflow "wf_%d" {
  trigger "webhook" {
    path = "/orders/%d"
    verify "github" {
      secrets = ["s3cret-%d"]
    }
  }
  filter = "event.body.type == 'order.paid' && event.body.total >= %d"
  step "http" "find" {
    url     = "${vars.crm}/customers"
    query   = { email = "{{ event.body.email }}" }
    headers = { Authorization = "Bearer x" }
  }
  step "http" "update" {
    if     = "steps.find.body.id != nil"
    method = "PATCH"
    url    = "${vars.crm}/customers/{{ steps.find.body.id }}"
    json   = { status = "paid", total = "{{ event.body.total / 100 }}" }
  }
}
`, i, i, i, i)
		files = append(files, workflows.Source{Name: fmt.Sprintf("wf_%d.hcl", i), Data: []byte(src)})
		one.WriteString(src)
	}
	k := realKinds()
	for _, c := range []struct {
		name string
		srcs []workflows.Source
	}{{"files", files}, {"one_file", []workflows.Source{{Name: "all.hcl", Data: []byte(one.String())}}}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, diags := workflows.Load(c.srcs, k); diags.HasErrors() {
					b.Fatal(diags.Error())
				}
			}
		})
	}
}
