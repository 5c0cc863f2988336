package workflows

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

func TestStepReferences(t *testing.T) {
	wf := func(body string) string {
		return "workflow \"w\" {\n" + body + "\n}"
	}
	tests := []struct {
		name, src, at, says string
	}{
		{"in the filter", wf(`  filter = "steps.a.ok"`), "f1.hcl:2:19", "No step has run in the filter"},
		{"in a trigger", wf("  trigger \"hook\" {\n    path = \"{{ steps.a.x }}\"\n  }"), "f1.hcl:3:22", "No step has run in a trigger"},
		{"a later step", wf("  step \"call\" \"a\" { url = \"https://x/{{ steps.b.url }}\" }\n  step \"call\" \"b\" { url = \"https://x\" }"),
			"f1.hcl:2:47", `Steps run in file order, and "b" runs after step "a"`},
		{"an unknown step", wf("  step \"call\" \"first\" { url = \"https://x\" }\n  step \"call\" \"b\" { url = \"https://x/{{ steps.frist.url }}\" }"),
			"f1.hcl:3:47", `Did you mean "first"?`},
		{"an unknown step, nothing close", wf("  step \"call\" \"first\" { url = \"https://x\" }\n  step \"call\" \"b\" { url = \"https://x/{{ steps.zzz.url }}\" }"),
			"f1.hcl:3:47", "Steps before this one: first."},
		{"its own output", wf("  step \"call\" \"a\" {\n    url = \"https://x\"\n    if  = \"steps.a.status == 200\"\n  }"), "f1.hcl:4:18", `Step "a" reads its own output`},
		{"in a joined template", wf("  step \"call\" \"a\" {\n    url  = \"https://x\"\n    json = { t = \"x {{ 1 }} {{ steps.nope.y }}\" }\n  }"),
			"f1.hcl:4:38", "Steps before this one: none: this is the first step."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := loadString(t, tt.src)
			if !diags.HasErrors() {
				t.Fatal("want an error")
			}
			d := diags[0]
			at := fmt.Sprintf("%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
			if at != tt.at || !strings.Contains(d.Summary+": "+d.Detail, tt.says) {
				t.Errorf("got %s %s: %s\nwant %s saying %q", at, d.Summary, d.Detail, tt.at, tt.says)
			}
		})
	}

	ok := wf(`  step "call" "a" { url = "https://x" }
  step "call" "b" {
    if   = "steps.a.url != nil && steps['a'].url != ''"
    url  = "https://x/{{ steps.a.url }}"
    json = { all = "{{ steps }}", dynamic = "{{ steps[event.body.which] }}" }
  }`)
	if _, diags := loadString(t, ok); diags.HasErrors() {
		t.Errorf("valid references refused: %s", diags.Error())
	}
}

func TestRetryAndNotYetWarnings(t *testing.T) {
	set, diags := loadString(t, `workflow "w" {
  concurrency = 5
  timeout     = "1h"
  step "call" "a" {
    url = "https://x"
    retry {
      attempts = 4
      backoff  = "constant"
      initial  = "2s"
      max      = "1m"
    }
  }
  step "call" "b" {
    url = "https://x"
    retry {
      attempts = 2
    }
  }
}`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	wf := set.Workflow("w")
	if wf.Concurrency != 5 || wf.Timeout != time.Hour {
		t.Errorf("workflow %d %v", wf.Concurrency, wf.Timeout)
	}
	if r := wf.Steps[0].Retry; r == nil || *r != (Retry{Attempts: 4, Exponential: false, Initial: 2 * time.Second, Max: time.Minute}) {
		t.Errorf("retry %+v", r)
	}
	if r := wf.Steps[1].Retry; *r != (Retry{Attempts: 2, Exponential: true, Initial: time.Second, Max: 5 * time.Minute}) {
		t.Errorf("default retry %+v", r)
	}
	var warnings []string
	for _, d := range diags {
		if d.Severity == hcl.DiagWarning {
			warnings = append(warnings, fmt.Sprintf("%d:%s", d.Subject.Start.Line, d.Summary))
		}
	}
	if len(warnings) > 0 {
		t.Errorf("warnings %v", warnings)
	}

	for src, says := range map[string]string{
		"concurrency = 0":   "from 1 to 100000",
		`concurrency = "5"`: `got "5"`,
		"step \"call\" \"a\" {\n url = \"https://x\"\n retry {}\n}":                                                     `"attempts" is required`,
		"step \"call\" \"a\" {\n url = \"https://x\"\n retry {\n attempts = 3\n backoff = \"linear\"\n }\n}":            `"exponential" or "constant"`,
		"step \"call\" \"a\" {\n url = \"https://x\"\n retry {\n attempts = 3\n initial = \"1m\"\n max = \"1s\"\n }\n}": "max is shorter than initial",
	} {
		_, diags := loadString(t, "workflow \"w\" {\n"+src+"\n}")
		if !strings.Contains(diags.Error(), says) {
			t.Errorf("%s: %s, want %q", src, diags.Error(), says)
		}
	}
}

func TestSecretsAreRedacted(t *testing.T) {
	t.Setenv("HOOKFLOW_TEST_TOKEN", `s3cr"et`)
	t.Setenv("HOOKFLOW_TEST_ACCOUNT", "123456")
	set, diags := loadString(t, `workflow "w" {
  step "call" "a" {
    url     = "https://x"
    headers = { Authorization = "Bearer ${secret("HOOKFLOW_TEST_TOKEN")}", Account = secret("HOOKFLOW_TEST_ACCOUNT") }
  }
}`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	r := set.Workflow("w").Secrets
	if got := r.String(`failed: Bearer s3cr"et rejected`); got != "failed: Bearer [redacted] rejected" {
		t.Errorf("String: %q", got)
	}
	out := r.Value(map[string]any{"echo": `Bearer s3cr"et`, "n": 123456, "list": []any{"acct 123456"}, "s3cr\"et": 1})
	want := map[string]any{"echo": "Bearer [redacted]", "n": 123456, "list": []any{"acct [redacted]"}, "[redacted]": 1}
	if fmt.Sprint(out) != fmt.Sprint(want) {
		t.Errorf("Value: %v", out)
	}
	var none *Redactor
	if none.String("x") != "x" || none.Value(1) != 1 {
		t.Error("a nil redactor changes values")
	}
}

// TestSecretsStayOutOfDiagnostics: a secret given where something else was expected is
// not printed back.
func TestSecretsStayOutOfDiagnostics(t *testing.T) {
	t.Setenv("HOOKFLOW_TEST_SECRET", "hunter2-topsecret")
	t.Setenv("HOOKFLOW_TEST_SHORT", "abc")
	for _, attr := range []string{
		`concurrency = secret("HOOKFLOW_TEST_SECRET")`,
		`timeout = secret("HOOKFLOW_TEST_SECRET")`,
		`description = "{{ 1 }} ${secret("HOOKFLOW_TEST_SECRET")}"`,
	} {
		_, diags := loadString(t, "workflow \"w\" {\n"+attr+"\n}")
		if !diags.HasErrors() || strings.Contains(diags.Error(), "hunter2") {
			t.Errorf("%s: %s", attr, diags.Error())
		}
	}
	_, diags := loadString(t, `vars { s = secret("HOOKFLOW_TEST_SHORT") }`)
	if !strings.Contains(diags.Error(), "shorter than 6 characters") || diags[0].Summary != "Secret too short" {
		t.Errorf("a 3-character secret: %s", diags.Error())
	}
}

// A secret written into an expression with ${secret("NAME")} that breaks it (a
// backslash, or a quote ending the string it was written into) is quoted by no
// diagnostic, whole or in pieces: the diagnostic says that the expression holds a
// secret.
func TestSecretsWrittenIntoExpressionsStayOutOfDiagnostics(t *testing.T) {
	for name, secret := range map[string]string{
		"backslash":    `hunter2-x\qzzzz`,
		"quote":        `hunter2-x'smore zzzz`,
		"unknown name": `hunter2' + nosuchname + 'zzzz`,
		"unclosed":     `hunter2'zzzz`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("HOOKFLOW_TEST_SECRET", secret)
			for _, attr := range []string{
				`step "set" "s" { ok = "{{ event.query.key == '${secret("HOOKFLOW_TEST_SECRET")}' }}" }`,
				`filter = "event.query.key == '${secret("HOOKFLOW_TEST_SECRET")}'"`,
			} {
				_, diags := loadString(t, "workflow \"w\" {\n"+attr+"\n}")
				if !diags.HasErrors() {
					t.Fatalf("%s: loads", attr)
				}
				for _, piece := range []string{"hunter2", "smore", "zzzz", "nosuchname"} {
					if strings.Contains(diags.Error(), piece) {
						t.Errorf("%s: the diagnostic quotes %q: %s", attr, piece, diags.Error())
					}
				}
				if !strings.Contains(diags.Error(), "holds a secret") {
					t.Errorf("%s: %s, want it to say that the expression holds a secret", attr, diags.Error())
				}
			}
		})
	}
}

// TestFailedVarIsReportedOnce: a var whose value fails is defined all the same; its
// uses are not reported as unknown vars, nor checked against its missing value.
func TestFailedVarIsReportedOnce(t *testing.T) {
	t.Setenv("HOOKFLOW_TEST_SHORT", "abc")
	for name, vars := range map[string]string{
		"short secret": `tok = secret("HOOKFLOW_TEST_SHORT")`,
		"unset env":    `tok = env("HOOKFLOW_TEST_UNSET_URL")`,
	} {
		t.Run(name, func(t *testing.T) {
			_, diags := loadString(t, "vars {\n "+vars+"\n}\nworkflow \"w\" {\n step \"call\" \"a\" {\n"+
				` url = "${vars.tok}/x"`+"\n"+` headers = { Authorization = "Bearer ${vars.tok}" }`+"\n }\n}")
			if len(diags) != 1 || diags[0].Subject.Start.Line != 2 {
				t.Errorf("want one error, at the var: %s", diags.Error())
			}
		})
	}
}

// TestOneBrokenStepDoesNotMisleadTheNext: a step that fails to decode still counts for
// the scope and the duplicates of the steps after it.
func TestOneBrokenStepDoesNotMisleadTheNext(t *testing.T) {
	_, diags := loadString(t, `workflow "w" {
  step "call" "fetch" {
    url     = "https://x"
    timeout = "10 s"
  }
  step "call" "use" {
    url = "https://x/{{ steps.fetch.url }}"
  }
  step "call" "fetch" {
    url = "https://y"
  }
}`)
	var got []string
	for _, d := range diags {
		got = append(got, fmt.Sprintf("%d:%s", d.Subject.Start.Line, d.Summary))
	}
	if want := `4:Invalid duration "10 s",9:Duplicate step "fetch"`; strings.Join(got, ",") != want {
		t.Errorf("got %v, want %s", got, want)
	}
}

func TestRetryInASetStep(t *testing.T) {
	set, diags := loadString(t, `workflow "w" {
  step "set" "s" {
    x = 1
    retry {
      attempts = 2
    }
  }
}`)
	if diags.HasErrors() || set.Workflow("w").Steps[0].Retry.Attempts != 2 {
		t.Errorf("retry in set: %s", diags.Error())
	}
	_, diags = loadString(t, "workflow \"w\" {\n  step \"set\" \"s\" {\n    x = 1\n    other {}\n  }\n}")
	if !strings.Contains(diags.Error(), `Unexpected "other" block`) {
		t.Errorf("another block in set: %s", diags.Error())
	}
}

func TestRunFields(t *testing.T) {
	ok := `workflow "w" {
  step "call" "a" {
    url  = "https://x/{{ run.id }}"
    json = { wf = "{{ run.workflow }}", v = "{{ run['version'] }}", any = "{{ run[event.body.field] }}", all = "{{ run }}" }
  }
  on_failure {
    step "call" "page" {
      if   = "run.failed_step != 'a'"
      url  = "https://x/{{ run.id }}"
      json = { error = "{{ run.error }}", step = "{{ run?.failed_step }}" }
    }
  }
}`
	if _, diags := loadString(t, ok); diags.HasErrors() {
		t.Fatalf("fields of run refused: %s", diags.Error())
	}

	step := func(body string) string {
		return "workflow \"w\" {\n  step \"call\" \"a\" {\n    url = \"https://x\"\n" + body + "\n  }\n}"
	}
	onFailure := func(body string) string {
		return "workflow \"w\" {\n  step \"call\" \"a\" { url = \"https://x\" }\n  on_failure {\n    step \"call\" \"b\" {\n" + body + "\n    }\n  }\n}"
	}
	for _, c := range []struct{ name, src, at, says string }{
		{"a misspelling", step(`    json = { id = "{{ run.idd }}" }`), "f1.hcl:4:27", `Did you mean run.id?`},
		{"a field of a field", step(`    json = { id = "{{ run.foo.bar }}" }`), "f1.hcl:4:27", `Unknown field "foo" of run`},
		{"run.error outside on_failure", step(`    if = "run.error != nil"`), "f1.hcl:4:15", "run.error outside on_failure"},
		{"a misspelling in on_failure", onFailure(`      url = "https://x/{{ run.eror }}"`), "f1.hcl:5:31", "Did you mean run.error?"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, diags := loadString(t, c.src)
			if !diags.HasErrors() {
				t.Fatal("want an error")
			}
			d := diags[0]
			at := fmt.Sprintf("%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
			if at != c.at || !strings.Contains(d.Summary+": "+d.Detail, c.says) {
				t.Errorf("got %s %s: %s\nwant %s saying %q", at, d.Summary, d.Detail, c.at, c.says)
			}
		})
	}
}

// A misspelt field of each is a load error, where it is written, not a failed step.
func TestEachFields(t *testing.T) {
	step := func(body string) string {
		return "workflow \"w\" {\n  step \"call\" \"a\" {\n    for_each = \"[1]\"\n    url = \"https://x\"\n" + body + "\n  }\n}"
	}
	if _, diags := loadString(t, step(`    json = { k = "{{ each.key }}", v = "{{ each['value'] }}", x = "{{ each.value.vaule }}" }`)); diags.HasErrors() {
		t.Fatalf("fields of each refused: %s", diags.Error())
	}
	for _, c := range []struct{ name, src, at, says string }{
		{"each.vaule", step(`    json = { v = "{{ each.vaule }}" }`), "f1.hcl:5:27", `Unknown field "vaule" of each: each is the current item of the for_each step: each.value is the item and each.key its index or key, so each.vaule fails the step. Did you mean each.value?`},
		{"each.kye in an if", step(`    if = "each.kye > 0"`), "f1.hcl:5:16", `Did you mean each.key?`},
		{"each.items", step(`    json = { v = "{{ each.items }}" }`), "f1.hcl:5:27", `Unknown field "items" of each`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, diags := loadString(t, c.src)
			if !diags.HasErrors() {
				t.Fatal("want an error")
			}
			d := diags[0]
			at := fmt.Sprintf("%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
			if at != c.at || !strings.Contains(d.Summary+": "+d.Detail, c.says) {
				t.Errorf("got %s %s: %s\nwant %s saying %q", at, d.Summary, d.Detail, c.at, c.says)
			}
		})
	}
}

// A for_each step's output is its items' outputs, each with its own outcome and
// error: steps.r.outcome would fail at run time (a list has no fields) or read the
// item keyed "outcome" of a map, so it gets a load warning that says what to write.
func TestForEachOutcomeIsReadPerItem(t *testing.T) {
	wf := func(forEach, read string) string {
		return "workflow \"w\" {\n  step \"call\" \"r\" {\n    for_each = \"" + forEach + "\"\n    url = \"https://x/{{ each.value }}\"\n  }\n" +
			"  step \"set\" \"after\" { v = \"" + read + "\" }\n}"
	}
	ok := []string{
		"{{ all(steps.r, .outcome == 'succeeded') }}",
		"{{ steps.r[0].outcome }} {{ steps.r[0].error }}",
		"{{ len(steps.r) }}",
	}
	for _, read := range ok {
		if _, diags := loadString(t, wf("event.body.codes", read)); diags.HasErrors() {
			t.Errorf("%s refused: %s", read, diags.Error())
		}
	}
	if _, diags := loadString(t, wf("{'a': 1}", "{{ steps.r['a'].outcome }}")); diags.HasErrors() {
		t.Errorf("an item of a map refused: %s", diags.Error())
	}
	for _, c := range []struct{ name, forEach, read, at, says string }{
		{"outcome of a list", "event.body.codes", "{{ steps.r.outcome }}", "f1.hcl:6:40",
			"steps.r.outcome of a for_each step: Step \"r\" has for_each, so steps.r is the list of its items' outputs"},
		{"outcome suggests all", "event.body.codes", "{{ steps.r.outcome }}", "f1.hcl:6:40", "all(steps.r, .outcome == 'succeeded')"},
		{"error of a map", "{'a': 1}", "{{ steps.r.error }}", "f1.hcl:6:40", "any(steps.r, .outcome == 'failed')"},
		{"in an expression", "event.body.codes", "{{ steps.r?.outcome == 'failed' }}", "f1.hcl:6:41", "steps.r.outcome of a for_each step"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, diags := loadString(t, wf(c.forEach, c.read))
			// A warning: the step has them when its for_each cannot be listed and
			// on_error = "continue" goes on.
			if diags.HasErrors() || len(diags) == 0 || diags[0].Severity != hcl.DiagWarning {
				t.Fatalf("want a warning: %v", diags)
			}
			d := diags[0]
			at := fmt.Sprintf("%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
			if at != c.at || !strings.Contains(d.Summary+": "+d.Detail, c.says) {
				t.Errorf("got %s %s: %s\nwant %s saying %q", at, d.Summary, d.Detail, c.at, c.says)
			}
		})
	}
}

// docs/language.md speaks of steps.r.outcome read straight off a for_each step in
// more than one place: each says what TestForEachOutcomeIsReadPerItem finds, a
// warning (validate passes), not an error.
func TestDocsCallForEachOutcomeAWarning(t *testing.T) {
	doc, err := os.ReadFile("../docs/language.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(doc)), " ")
	found := 0
	for _, sentence := range strings.Split(text, ". ") {
		if !strings.Contains(sentence, "`steps.r.outcome`") && !strings.Contains(sentence, "`steps.reserve.outcome`") {
			continue
		}
		found++
		if !strings.Contains(sentence, "warning") || regexp.MustCompile(`\b(is|are) an error\b`).MatchString(sentence) {
			t.Errorf("docs/language.md does not call the read a warning: %s", sentence)
		}
	}
	if found < 2 {
		t.Errorf("docs/language.md speaks of steps.r.outcome in %d places, want 2", found)
	}
}

// A warning about an expression a secret with a quote in it was written into quotes
// none of it either, as its errors do not: in a filter, an if, a for_each or a
// paginate expression, as in a template.
func TestSecretsWrittenIntoExpressionsStayOutOfWarnings(t *testing.T) {
	for name, c := range map[string]struct{ secret, attr string }{
		"a filter of unknown type": {`x' ? event.body.hunter2 : 'zzzz`,
			`filter = "event.query.key == '${secret("HOOKFLOW_TEST_SECRET")}'"`},
		"a filter reading a credential header": {`x' || event.headers['x-hunter2-token'] == 'zzzz`,
			`filter = "event.query.key == '${secret("HOOKFLOW_TEST_SECRET")}'"`},
		"an if": {`x' ? event.body.hunter2 : 'zzzz`,
			`step "set" "s" {
  if = "event.query.key == '${secret("HOOKFLOW_TEST_SECRET")}'"
  ok = true
}`},
		"a for_each": {`x'] ?? event.headers['x-hunter2-token`,
			`step "set" "s" {
  for_each = "event.body['${secret("HOOKFLOW_TEST_SECRET")}']"
  ok = true
}`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("HOOKFLOW_TEST_SECRET", c.secret)
			_, diags := loadString(t, "workflow \"w\" {\n"+c.attr+"\n}")
			if len(diags) == 0 || diags.HasErrors() {
				t.Fatalf("want warnings only: %s", diags.Error())
			}
			for _, piece := range []string{"hunter2", "zzzz"} {
				if strings.Contains(diags.Error(), piece) {
					t.Errorf("the warning quotes %q: %s", piece, diags.Error())
				}
			}
			if !strings.Contains(diags.Error(), "holds a secret") {
				t.Errorf("%s, want it to say that the expression holds a secret", diags.Error())
			}
		})
	}
}
