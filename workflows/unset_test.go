package workflows

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// unsetKinds is testKinds with a trigger that checks what it is given, as the verify
// blocks of webhooks do: a secret of at least 40 characters, with no "/" in it.
func unsetKinds() *Kinds {
	k := testKinds()
	k.AddTrigger(TriggerKind{
		Name:       "signed",
		Attrs:      []Attr{{Name: "path", Required: true}, {Name: "secret", Required: true}},
		EventAttrs: []string{"path"},
		New: func(b *Block) (any, hcl.Diagnostics) {
			path, diags := b.ConstString("path", "")
			s, d := b.ConstString("secret", "")
			diags = append(diags, d...)
			if len(s) < 40 || strings.Contains(s, "/") {
				diags = append(diags, b.Attr("secret").Error("Bad secret", "It is too short or holds a /."))
			}
			return path, diags
		},
	})
	return k
}

const unsetSrc = `vars {
  crm   = env("HOOKFLOW_TEST_CRM")
  other = env("HOOKFLOW_TEST_OTHER")
}

workflow "orders" {
  trigger "signed" {
    path   = "/orders"
    secret = secret("HOOKFLOW_TEST_SIGNING")
  }
  step "call" "push" {
    url     = "${vars.crm}/orders"
    timeout = env("HOOKFLOW_TEST_TIMEOUT")
    headers = { Authorization = "Bearer ${secret("HOOKFLOW_TEST_TOKEN")}" }
  }
}

workflow "tickets" {
  trigger "hook" {
    path = "/tickets"
  }
  step "call" "open" {
    url = "{{ vars.other }}/tickets"
    retry {
      attempts = 3
      initial  = env("HOOKFLOW_TEST_TIMEOUT")
    }
  }
}

workflow "ping" {
  trigger "hook" {
    path = "/ping"
  }
  step "call" "pong" {
    url = "https://example.com/pong"
  }
}
`

func unsetEnv(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		t.Setenv(n, "") // restored after the test
		os.Unsetenv(n)
	}
}

func TestLoadAllowUnset(t *testing.T) {
	unsetEnv(t, "HOOKFLOW_TEST_CRM", "HOOKFLOW_TEST_OTHER", "HOOKFLOW_TEST_SIGNING", "HOOKFLOW_TEST_TIMEOUT", "HOOKFLOW_TEST_TOKEN")
	srcs := []Source{{Name: "flows.hcl", Data: []byte(unsetSrc)}}

	set, diags := Load(srcs, unsetKinds())
	if set != nil {
		t.Fatal("a load without placeholders gives a set")
	}
	for _, name := range []string{"CRM", "OTHER", "SIGNING", "TIMEOUT", "TOKEN"} {
		if !strings.Contains(allText(diags), "HOOKFLOW_TEST_"+name+" is not set") {
			t.Errorf("a load without placeholders does not report HOOKFLOW_TEST_%s:\n%s", name, allText(diags))
		}
	}

	set, diags = LoadWith(srcs, unsetKinds(), Options{AllowUnset: true})
	if diags.HasErrors() {
		t.Fatalf("with placeholders: %s", diags.Error())
	}
	var got []string
	for _, u := range set.Unset() {
		got = append(got, fmt.Sprintf("%s secret=%v %v line %d", u.Name, u.Secret, u.Workflows, u.Range.Start.Line))
	}
	want := []string{
		"HOOKFLOW_TEST_CRM secret=false [orders] line 2",
		"HOOKFLOW_TEST_OTHER secret=false [tickets] line 3",
		"HOOKFLOW_TEST_SIGNING secret=true [orders] line 9",
		"HOOKFLOW_TEST_TIMEOUT secret=false [orders tickets] line 13",
		"HOOKFLOW_TEST_TOKEN secret=true [orders] line 14",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Unset:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	if d := set.Missing("ping"); len(d) != 0 {
		t.Errorf("ping needs nothing, got %s", d.Error())
	}
	// Each points where a load without placeholders does: at the call of env() or secret().
	d := allText(set.Missing("tickets"))
	if want := "flows.hcl:3,11-15: Environment variable HOOKFLOW_TEST_OTHER is not set\nflows.hcl:26,18-22: Environment variable HOOKFLOW_TEST_TIMEOUT is not set\n"; d != want {
		t.Errorf("tickets:\n%s\nwant:\n%s", d, want)
	}
	if d := set.Missing("orders"); len(d) != 3 || strings.Contains(allText(d), "SIGNING") {
		t.Errorf("orders:\n%s", allText(d))
	}
	if d := allText(set.TriggerMissing("orders", 0)); d != "flows.hcl:9,14-21: Secret HOOKFLOW_TEST_SIGNING is not set\n" {
		t.Errorf("the trigger of orders:\n%s", d)
	}
	step, _ := set.Workflow("orders").Step("push")
	if step.Timeout != DefaultStepTimeout {
		t.Errorf("a placeholder timeout: %s, want the default", step.Timeout)
	}
}

// What only a trigger reads, itself or through a var, is missing for that trigger, not
// for a run of its workflow; what the attributes a run's event is made of read (a
// webhook's path) is missing for both.
func TestMissingOfTriggers(t *testing.T) {
	unsetEnv(t, "HOOKFLOW_TEST_SIGNING", "HOOKFLOW_TEST_SIGNING2", "HOOKFLOW_TEST_CRM", "HOOKFLOW_TEST_PATH", "HOOKFLOW_TEST_PREFIX")
	src := `vars {
  signing = secret("HOOKFLOW_TEST_SIGNING")
  crm     = env("HOOKFLOW_TEST_CRM")
  prefix  = env("HOOKFLOW_TEST_PREFIX")
}

workflow "w" {
  trigger "signed" {
    path   = "/a/${env("HOOKFLOW_TEST_PATH")}"
    secret = vars.signing
  }
  trigger "signed" {
    secret = secret("HOOKFLOW_TEST_SIGNING2")
    path   = "${vars.prefix}/b"
  }
  step "call" "x" {
    url = "${vars.crm}/x"
  }
}
`
	set, diags := LoadWith([]Source{{Name: "w.hcl", Data: []byte(src)}}, unsetKinds(), Options{AllowUnset: true})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	for _, tt := range []struct {
		what string
		got  hcl.Diagnostics
		want []string
	}{
		{"a run", set.Missing("w"), []string{"HOOKFLOW_TEST_CRM", "HOOKFLOW_TEST_PREFIX", "HOOKFLOW_TEST_PATH"}},
		{"the first trigger", set.TriggerMissing("w", 0), []string{"HOOKFLOW_TEST_SIGNING", "HOOKFLOW_TEST_PATH"}},
		{"the second trigger", set.TriggerMissing("w", 1), []string{"HOOKFLOW_TEST_PREFIX", "HOOKFLOW_TEST_SIGNING2"}},
	} {
		var got []string
		for _, d := range SortDiagnostics(tt.got) {
			got = append(got, strings.Fields(d.Summary)[len(strings.Fields(d.Summary))-4])
		}
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("%s needs %v, want %v:\n%s", tt.what, got, tt.want, allText(tt.got))
		}
	}
}

// A placeholder excuses the checks of the value that holds it, not the mistakes
// written beside it.
func TestLoadAllowUnsetKeepsOtherErrors(t *testing.T) {
	unsetEnv(t, "HOOKFLOW_TEST_TOKEN")
	src := `workflow "a" {
  trigger "hook" {
    path = "/a"
  }
  step "call" "x" {
    url = "${secret("HOOKFLOW_TEST_TOKEN")}/{{ steps.nope.id }}"
  }
  step "call" "y" {
    url     = "https://example.com"
    timeout = "soon"
  }
}
`
	_, diags := LoadWith([]Source{{Name: "a.hcl", Data: []byte(src)}}, testKinds(), Options{AllowUnset: true})
	msg := allText(diags)
	if !strings.Contains(msg, "a.hcl:6,") || !strings.Contains(msg, "nope") || !strings.Contains(msg, `"soon"`) {
		t.Errorf("want the unknown step and the bad timeout, got:\n%s", msg)
	}
}

// allText lists diagnostics one a line: where, and the summary.
func allText(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		if d.Subject != nil {
			b.WriteString(d.Subject.String() + ": ")
		}
		b.WriteString(d.Summary + "\n")
	}
	return b.String()
}
