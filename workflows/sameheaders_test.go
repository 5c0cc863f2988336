package workflows_test

import (
	"strings"
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

// TestHeadersDifferingInCase: two names of one header, which differ only in case, are
// an error at the one written later, naming both, wherever a file writes headers; a
// request would carry only one of their values.
func TestHeadersDifferingInCase(t *testing.T) {
	src := `api "crm" {
  base_url = "https://crm.example.com"
  headers  = { Accept = "application/json", ACCEPT = "text/plain" }
}
workflow "w" {
  trigger "webhook" { path = "/w" }
  step "http" "h" {
    url     = "https://x.example.com/a"
    headers = {
      X-Team    = "a"
      X-Request = "r"
      x-team    = "b"
      X-TEAM    = "c"
    }
  }
  step "respond" "r" {
    headers = { Content-Type = "text/plain", content-type = "text/html" }
  }
}
`
	_, diags := workflows.Load([]workflows.Source{{Name: "w.hcl", Data: []byte(src)}}, realKinds())
	var got []string
	for _, d := range diags {
		if d.Summary == "Duplicate header" {
			got = append(got, d.Subject.String()+" "+d.Detail[:strings.Index(d.Detail, ":")])
		}
	}
	want := []string{
		"w.hcl:3,45-51 Accept and ACCEPT name one header",
		"w.hcl:12,7-13 X-Team and x-team name one header",
		"w.hcl:13,7-13 X-Team and X-TEAM name one header",
		"w.hcl:17,46-58 Content-Type and content-type name one header",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s\n(all: %v)", strings.Join(got, "\n"), strings.Join(want, "\n"), diags)
	}

	ok := strings.Replace(src, "x-team    = \"b\"", "", 1)
	ok = strings.Replace(ok, "X-TEAM    = \"c\"", "X-Other = \"c\"", 1)
	ok = strings.Replace(ok, "ACCEPT", "X-Accept", 1)
	ok = strings.Replace(ok, "content-type = \"text/html\"", "X-Content = \"text/html\"", 1)
	if _, diags := workflows.Load([]workflows.Source{{Name: "w.hcl", Data: []byte(ok)}}, realKinds()); diags.HasErrors() {
		t.Errorf("distinct names: %v", diags)
	}
}
