package workflows_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/workflows"
)

// The golden files whose diagnostics are warnings only: each loads, so serve runs it
// and validate passes it, and says what looks wrong.
var warningOnly = []string{
	"condition_unknown_type",
	"credential_header_read",
	"credential_in_file",
	"for_each_same_idempotency_key",
	"outcome_never_matches",
	"output_field_missing",
	"poll_seen_window_shorter_than_interval",
	"set_field_misspelled",
	"status_of_non_http_step",
	"sync_answer_after_response_timeout",
}

func TestWarningsNeverFailALoad(t *testing.T) {
	k := realKinds()
	for _, name := range warningOnly {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join("testdata", "errors", name+".hcl")
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			set, diags := workflows.Load([]workflows.Source{{Name: f, Data: data}}, k)
			if set == nil || diags.HasErrors() {
				t.Fatalf("not loaded: %v", diags)
			}
			if len(diags) == 0 {
				t.Fatal("no warning")
			}
			for _, d := range diags {
				if d.Severity != hcl.DiagWarning {
					t.Errorf("%s: severity %v, want a warning", d.Summary, d.Severity)
				}
			}
		})
	}
}

// Fields every step has, and the fields its kind lists, are read without a warning.
func TestOutputFieldsThatExistAreNotWarnedAbout(t *testing.T) {
	src := `workflow "orders" {
  step "http" "find" {
    url = "https://crm.example.com/customers"
  }
  step "set" "totals" {
    net = "{{ event.body.amount / 100 }}"
  }
  step "log" "note" {
    message = "{{ steps.find.status }} {{ steps.find.body.id }} {{ steps.find.headers }} {{ steps.find.outcome }} {{ steps.find.error }} {{ steps.totals.net }}"
  }
  step "delay" "wait" {
    duration = "1s"
  }
  step "respond" "answer" {
    if     = "steps.note.outcome == 'succeeded' && steps.wait.seconds > 0"
    status = "{{ steps.find.status }}"
    json   = { level = "{{ steps.note.level }}", message = "{{ steps.note.message }}", until = "{{ steps.wait.until }}" }
  }
  step "log" "after" {
    for_each = "event.body.items"
    message  = "{{ steps.answer.status }} {{ steps.answer.body }} {{ steps[each.value].anything }}"
  }
  step "log" "last" {
    message = "{{ len(steps.after) }} {{ steps.after[0].message }}"
  }
}
`
	set, diags := workflows.Load([]workflows.Source{{Name: "orders.hcl", Data: []byte(src)}}, realKinds())
	if set == nil || len(diags) > 0 {
		t.Fatalf("diagnostics: %v", diags)
	}
}

// Outcomes compared with the values they have are not warned about, nor is a field
// named outcome that is not a step's (of an event, of a response's body, of the items
// a predicate inside one over a step's items reads).
func TestOutcomesThatOccurAreNotWarnedAbout(t *testing.T) {
	src := `workflow "orders" {
  step "http" "a" {
    url      = "https://api.example.com/a"
    on_error = "continue"
  }
  step "http" "r" {
    for_each = "event.body.items"
    url      = "https://api.example.com/r"
    on_error = "continue"
  }
  step "log" "note" {
    if      = "steps.a.outcome == 'succeeded' || 'failed' != steps.a.outcome || steps.a.outcome in ['skipped']"
    message = "{{ any(steps.r, .outcome in ['cancelled', 'failed']) }} {{ steps.r[0].outcome == 'cancelled' }} {{ all(values(steps.r), #.outcome != 'skipped') }}"
  }
  step "log" "others" {
    if      = "event.body.outcome == 'success' && steps.a.body.outcome == 'success'"
    message = "{{ any(steps.r, any(.body.checks, .outcome == 'success')) }} {{ any(event.body.runs, .outcome == 'success') }}"
  }
}
`
	set, diags := workflows.Load([]workflows.Source{{Name: "orders.hcl", Data: []byte(src)}}, realKinds())
	if set == nil || len(diags) > 0 {
		t.Fatalf("diagnostics: %v", diags)
	}
}

// A for_each step's idempotency_key that reads each, or is "", is not warned about.
func TestForEachIdempotencyKeysThatDifferAreNotWarnedAbout(t *testing.T) {
	for _, key := range []string{`"order-{{ event.body.id }}-{{ each.key }}"`, `"{{ each.value.sku }}"`, `""`} {
		src := `workflow "orders" {
  step "http" "line" {
    for_each        = "event.body.lines"
    url             = "https://erp.example.com/lines"
    idempotency_key = ` + key + `
  }
}
`
		set, diags := workflows.Load([]workflows.Source{{Name: "orders.hcl", Data: []byte(src)}}, realKinds())
		if set == nil || len(diags) > 0 {
			t.Errorf("idempotency_key = %s: diagnostics: %v", key, diags)
		}
	}
}

// A set step that copies a sensitive step's values is sensitive itself, and so is one
// that copies from it; a step that reads only outcome or status, an http step that
// sends the value, a set step of other values, and one that holds a secret are not.
func TestSetStepsThatCopySensitiveValuesAreSensitive(t *testing.T) {
	t.Setenv("COPIED_SECRET", "copied-secret-value")
	src := `workflow "w" {
  step "http" "login" {
    url       = "https://auth.example.com/token"
    sensitive = true
  }
  step "set" "copy" {
    token = "{{ steps.login.body.access_token }}"
  }
  step "set" "copy_of_copy" {
    header = "Bearer {{ steps['copy'].token }}"
  }
  step "set" "secret" {
    header = "Bearer ${secret("COPIED_SECRET")}"
  }
  step "set" "outcome" {
    ok = "{{ steps.login.outcome == 'succeeded' && steps.login.status == 200 }}"
  }
  step "http" "use" {
    url     = "https://api.example.com/things"
    headers = { Authorization = "Bearer {{ steps.login.body.access_token }}" }
  }
  step "set" "plain" {
    v = "{{ steps.use.body.id }}"
  }
}
`
	set, diags := workflows.Load([]workflows.Source{{Name: "w.hcl", Data: []byte(src)}}, realKinds())
	if set == nil {
		t.Fatalf("diagnostics: %v", diags)
	}
	// A secret is never recorded: a set step that holds one is warned about instead.
	if len(diags) != 1 || diags[0].Severity != hcl.DiagWarning || diags[0].Subject.Start.Line != 13 {
		t.Errorf("diagnostics %v, want a warning of the secret in step secret", diags)
	} else if d := diags[0].Detail; !strings.Contains(d, `Step "secret" records its value header with the secret [redacted]`) ||
		!strings.Contains(d, "steps.secret.header") {
		t.Errorf("warning %q, want it to name the step and its value", d)
	}
	want := map[string]bool{"login": true, "copy": true, "copy_of_copy": true}
	for _, s := range set.Workflow("w").Steps {
		if s.Sensitive != want[s.Name] {
			t.Errorf("step %s: sensitive %v, want %v", s.Name, s.Sensitive, want[s.Name])
		}
	}
}

// A credential read from the environment, by secret() or env() (a var that reads one
// included), or built at run time with {{ }}, is not stored with the file: no warning.
// One written out is: testdata/errors/credential_in_file.hcl.
func TestCredentialsFromTheEnvironmentAreNotWarnedAbout(t *testing.T) {
	t.Setenv("HOOKFLOW_CREDENTIAL_TEST", "a-secret-from-the-environment")
	for _, c := range []struct{ name, auth, step string }{
		{"oauth2", `auth "oauth2" {
    token_url     = "https://auth.example.com/oauth/token"
    client_id     = "hookflow"
    client_secret = secret("HOOKFLOW_CREDENTIAL_TEST")
    grant         = "refresh_token"
    refresh_token = env("HOOKFLOW_CREDENTIAL_TEST")
  }`, ""},
		{"bearer", `auth "bearer" { token = "${secret("HOOKFLOW_CREDENTIAL_TEST")}" }`, ""},
		{"basic", `auth "basic" {
    username = "hookflow"
    password = vars.password
  }`, ""},
		{"header", `auth "header" {
    name  = "X-Api-Key"
    value = secret("HOOKFLOW_CREDENTIAL_TEST")
  }`, ""},
		{"step basic_auth", "", `basic_auth = { username = "hookflow", password = secret("HOOKFLOW_CREDENTIAL_TEST") }`},
		{"step header", "", `headers = { Authorization = "Bearer ${vars.password}", Accept = "application/json" }`},
		{"step header at run time", "", `headers = { Authorization = "Bearer {{ event.body.token }}" }`},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := `vars {
  password = secret("HOOKFLOW_CREDENTIAL_TEST")
}
api "crm" {
  base_url = "https://crm.example.com/api"
  ` + c.auth + `
}
workflow "orders" {
  step "http" "call" {
    url = "https://crm.example.com/orders"
    ` + c.step + `
  }
}
`
			set, diags := workflows.Load([]workflows.Source{{Name: "orders.hcl", Data: []byte(src)}}, realKinds())
			if set == nil || len(diags) > 0 {
				t.Errorf("diagnostics: %v", diags)
			}
		})
	}
}

// A set step whose value reads secret() is warned about when the secret is not set
// too, as validate mostly runs without secrets: directly, or through a var.
func TestSetStepSecretWarnedWithoutItsValue(t *testing.T) {
	for _, c := range []struct{ name, value string }{
		{"secret()", `"Bearer ${secret("HOOKFLOW_UNSET_SECRET")}"`},
		{"a var", `"Bearer ${vars.token}"`},
		{"an object", `{ authorization = "Bearer ${vars.token}" }`},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := `vars {
  token = secret("HOOKFLOW_UNSET_SECRET")
}
workflow "w" {
  step "set" "s" {
    header = ` + c.value + `
  }
}
`
			_, diags := workflows.LoadWith([]workflows.Source{{Name: "w.hcl", Data: []byte(src)}}, realKinds(),
				workflows.Options{AllowUnset: true})
			var warned bool
			for _, d := range diags {
				warned = warned || d.Summary == "A set step's value holds a secret" && d.Subject.Start.Line == 6
			}
			if !warned || diags.HasErrors() {
				t.Errorf("diagnostics %v, want a warning of the secret in step s", diags)
			}
		})
	}
}

// A file with no block, empty or only comments, loads with a warning at the file; a
// file with only vars or an api is no such file.
func TestFileWithNoBlocksIsAWarning(t *testing.T) {
	srcs := []workflows.Source{
		{Name: "a.hcl", Data: []byte("workflow \"a\" {}\n")},
		{Name: "empty.hcl", Data: nil},
		{Name: "comments.hcl", Data: []byte("# moved to a.hcl\n/* and\n   so on */\n")},
		{Name: "vars.hcl", Data: []byte("vars {\n  base = \"https://x\"\n}\n")},
	}
	set, diags := workflows.Load(srcs, realKinds())
	if set == nil || len(set.Workflows()) != 1 {
		t.Fatalf("not loaded: %v", diags)
	}
	var at []string
	for _, d := range diags {
		if d.Severity != hcl.DiagWarning || d.Summary != "No blocks in file" || d.Subject == nil || d.Subject.Start.Line != 1 {
			t.Errorf("diagnostic %v", d)
			continue
		}
		at = append(at, d.Subject.Filename)
	}
	if strings.Join(at, " ") != "empty.hcl comments.hcl" {
		t.Errorf("warned of %v, want empty.hcl and comments.hcl", at)
	}
}

// A sync webhook's respond step is warned of when the steps before it may take its
// response_timeout or longer, by what the file writes: each http step's attempts
// timing out, and the longest waits between them (exponential: initial, then doubling
// up to max). A step on its defaults counts for nothing: the plainest sync webhook,
// one http step, is not warned of for a default timeout longer than the default
// response_timeout.
func TestAnswerTimeWarning(t *testing.T) {
	const written = "timeout = \"2s\"\n"
	for _, c := range []struct {
		name, response, responseTimeout, step string
		want                                  string // "" for no warning
	}{
		{"one attempt within", `response = "sync"`, "2500ms", written, ""},
		{"async", `response = "async"`, "2500ms", written + `retry { attempts = 5 }`, ""},
		{"constant", `response = "sync"`, "2500ms", written + "retry {\n attempts = 3\n backoff = \"constant\"\n initial = \"1s\"\n}", "may take 8s at worst"},
		// 4×2s, then waits of 1s, 2s and 3s (4s past max).
		{"exponential", `response = "sync"`, "2500ms", written + "retry {\n attempts = 4\n backoff = \"exponential\"\n initial = \"1s\"\n max = \"3s\"\n}", "may take 14s at worst"},
		{"defaults", `response = "sync"`, "", "", ""},
		{"defaults, a short response_timeout", `response = "sync"`, "2500ms", "", ""},
		{"a timeout written past it", `response = "sync"`, "", "timeout = \"15s\"\n", "may take 15s at worst: tickets 15s (a timeout of 15s)"},
		{"a retry on the default timeout", `response = "sync"`, "", "retry {\n attempts = 2\n backoff = \"constant\"\n initial = \"1s\"\n}",
			"may take 1m1s at worst: tickets 1m1s (2 attempts with the default timeout of 30s, and the waits between them)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			responseTimeout := ""
			if c.responseTimeout != "" {
				responseTimeout = `response_timeout = "` + c.responseTimeout + `"`
			}
			src := `workflow "slash" {
  trigger "webhook" {
    path = "/slash"
    ` + c.response + `
    ` + responseTimeout + `
  }
  step "http" "tickets" {
    url     = "https://helpdesk.example.com/tickets"
    ` + c.step + `
  }
  step "respond" "answer" {
    json = { ok = true }
  }
}`
			_, diags := workflows.Load([]workflows.Source{{Name: "slash.hcl", Data: []byte(src)}}, realKinds())
			var got []string
			for _, d := range diags {
				if d.Summary == "The answer may come after response_timeout" {
					got = append(got, d.Detail)
				} else if d.Severity == hcl.DiagError || c.response == `response = "sync"` {
					t.Errorf("unexpected: %s: %s", d.Summary, d.Detail)
				}
			}
			switch {
			case c.want == "" && len(got) > 0:
				t.Errorf("warned: %v", got)
			case c.want != "" && (len(got) != 1 || !strings.Contains(got[0], c.want)):
				t.Errorf("want one warning with %q, got %v", c.want, got)
			}
		})
	}
}
