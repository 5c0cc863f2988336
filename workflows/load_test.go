package workflows

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

const validSrc = `
vars {
  base = "https://api.example.com"
  token = env("HOOKFLOW_TEST_TOKEN", "t0")
}

workflow "order_paid" {
  description = "Paid orders to the CRM"

  trigger "hook" {
    path = "/orders"
  }

  filter = "event.body.amount >= 1000"

  step "call" "find" {
    url     = "${vars.base}/customers"
    headers = { Authorization = "Bearer ${vars.token}" }
    timeout = "5s"
  }

  step "call" "update" {
    if       = "steps.find.url != nil"
    url      = "${vars.base}/customers/{{ steps.find.url }}"
    json     = { amount = "{{ event.body.amount / 100 }}", id = "{{ event.body.id }}" }
    on_error = "continue"
  }
}
`

func loadString(t *testing.T, files ...string) (*Set, hcl.Diagnostics) {
	t.Helper()
	var srcs []Source
	for i, f := range files {
		srcs = append(srcs, Source{Name: fmt.Sprintf("f%d.hcl", i+1), Data: []byte(f)})
	}
	return Load(srcs, testKinds())
}

func TestLoadValid(t *testing.T) {
	set, diags := loadString(t, validSrc)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	wf := set.Workflow("order_paid")
	if wf == nil {
		t.Fatal("workflow not loaded")
	}
	if wf.Description != "Paid orders to the CRM" || len(wf.Triggers) != 1 || len(wf.Steps) != 2 {
		t.Fatalf("unexpected workflow: %+v", wf)
	}
	if wf.Triggers[0].Kind != "hook" || wf.Triggers[0].Config != "/orders" {
		t.Errorf("trigger: %+v", wf.Triggers[0])
	}
	find, update := wf.Steps[0], wf.Steps[1]
	if find.Timeout != 5*time.Second || find.OnError != FailRun || find.If != nil {
		t.Errorf("find: %+v", find)
	}
	if update.Timeout != DefaultStepTimeout || update.OnError != Continue || update.If == nil {
		t.Errorf("update: %+v", update)
	}
	if len(wf.Version) != 16 {
		t.Errorf("version %q", wf.Version)
	}

	env := &Env{
		Event: map[string]any{"body": map[string]any{"amount": 2500, "id": "ord_1"}},
		Steps: map[string]any{"find": map[string]any{"url": "c_9"}},
		Vars:  wf.Vars,
	}
	if ok, err := wf.Filter.Eval(env); !ok || err != nil {
		t.Errorf("filter: %v %v", ok, err)
	}
	out, err := update.Action.Do(context.Background(), &Call{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"url":  "https://api.example.com/customers/c_9",
		"json": map[string]any{"amount": 25.0, "id": "ord_1"},
	}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("update renders %#v, want %#v", out, want)
	}
	out, _ = find.Action.Do(context.Background(), &Call{Env: env})
	if h := out.(map[string]any)["headers"]; !reflect.DeepEqual(h, map[string]any{"Authorization": "Bearer t0"}) {
		t.Errorf("env() default not applied: %#v", h)
	}
}

func TestVersion(t *testing.T) {
	version := func(src string) string {
		set, diags := loadString(t, src)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		return set.Workflow("order_paid").Version
	}
	base := version(validSrc)
	if got := version(strings.ReplaceAll(validSrc, "  ", "    ")); got != base {
		t.Error("re-indenting changed the version")
	}
	if got := version(strings.Replace(validSrc, "  step \"call\" \"find\" {", "  # finds the customer\n\n  step \"call\" \"find\" { // by email", 1)); got != base {
		t.Error("adding comments and a blank line changed the version")
	}
	if got := version(strings.Replace(validSrc, `timeout = "5s"`, `timeout = "6s"`, 1)); got == base {
		t.Error("changing a step kept the version")
	}
	// validSrc reads HOOKFLOW_TEST_TOKEN with env(): a new value is a new version.
	t.Setenv("HOOKFLOW_TEST_TOKEN", "t1")
	if got := version(validSrc); got == base {
		t.Error("changing an env() value kept the version")
	}
	secretSrc := strings.Replace(validSrc, `env("HOOKFLOW_TEST_TOKEN", "t0")`, `secret("HOOKFLOW_TEST_SECRET")`, 1)
	t.Setenv("HOOKFLOW_TEST_SECRET", "first-secret")
	first := version(secretSrc)
	t.Setenv("HOOKFLOW_TEST_SECRET", "rotated-secret")
	if got := version(secretSrc); got != first {
		t.Error("rotating a secret changed the version")
	}
	if got := version(strings.Replace(validSrc, ">= 1000", ">= 2000", 1)); got == base {
		t.Error("changing the filter kept the version")
	}
	if got := version(strings.Replace(validSrc, "api.example.com", "api2.example.com", 1)); got == base {
		t.Error("changing a var kept the version")
	}
}

func TestLoadSeveralFiles(t *testing.T) {
	set, diags := loadString(t,
		`vars { base = "https://x.example" }`,
		`workflow "b" {
  step "call" "one" { url = "${vars.base}/b" }
}`,
		`workflow "a" {}`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var names []string
	for _, wf := range set.Workflows() {
		names = append(names, wf.Name)
	}
	if !reflect.DeepEqual(names, []string{"a", "b"}) {
		t.Errorf("workflows %v, want sorted [a b]", names)
	}
}

// TestLoadOneFile checks Options.File: one file's workflows are checked with the vars
// and api blocks of the others, and only the problems of those are reported.
func TestLoadOneFile(t *testing.T) {
	vars := "vars {\n  base = \"https://x.example\"\n}\n"
	own := "workflow \"own\" {\n  step \"call\" \"one\" { url = \"${vars.base}/own\" }\n}\n"
	tests := []struct {
		name   string
		others []string // the files beside own.hcl, o1.hcl, o2.hcl…
		errors []string // where each error is, file:line
	}{
		{"vars of another file", []string{vars}, nil},
		{"no vars", []string{"workflow \"b\" {}\n"}, []string{"own.hcl:2"}},
		{"a broken file without vars", []string{vars, "workflow \"b\" {\n  filtr = \"true\"\n"}, nil},
		{"a broken vars file", []string{"vars {\n  base = \"https://x.example\"\n  x = nope\n}\n"}, []string{"o1.hcl:3"}},
		{"a workflow of a vars file is not checked", []string{vars + "workflow \"b\" {\n  filtr = \"true\"\n}\n"}, nil},
		{"a name another file uses", []string{vars, "workflow \"own\" {}\n"}, []string{"own.hcl:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srcs := []Source{{Name: "own.hcl", Data: []byte(own)}}
			for i, o := range tt.others {
				srcs = append(srcs, Source{Name: fmt.Sprintf("o%d.hcl", i+1), Data: []byte(o)})
			}
			set, diags := LoadWith(srcs, testKinds(), Options{File: "own.hcl"})
			var errors []string
			for _, d := range diags {
				errors = append(errors, fmt.Sprintf("%s:%d", d.Subject.Filename, d.Subject.Start.Line))
			}
			if !reflect.DeepEqual(errors, tt.errors) {
				t.Fatalf("errors at %v, want %v: %s", errors, tt.errors, diags.Error())
			}
			if set != nil && (len(set.Workflows()) != 1 || set.Workflow("own") == nil) {
				t.Errorf("workflows %v, want own.hcl's only", set.Workflows())
			}
		})
	}
}

// TestLoadDiagnostics checks that each mistake is reported where it was made, with a
// message that says what to do.
func TestLoadDiagnostics(t *testing.T) {
	t.Setenv("HOOKFLOW_TEST_SET", "x")
	tests := []struct {
		name   string
		src    string
		at     string // file:line:col of the diagnostic
		says   string // in the summary or detail
		others int    // further diagnostics expected
	}{
		{"syntax error", "workflow \"a\" {\n  description = \n}", "f1.hcl:2:17", "Invalid expression", 0},
		{"unknown top-level block", "workflw \"a\" {}", "f1.hcl:1:1", "Did you mean \"workflow\"?", 0},
		{"unknown attribute with suggestion", "workflow \"a\" {\n  filtr = \"true\"\n}", "f1.hcl:2:3", "Did you mean \"filter\"?", 0},
		{"unknown step kind", "workflow \"a\" {\n  step \"cal\" \"x\" { url = \"https://x\" }\n}", "f1.hcl:2:8", "Did you mean \"call\"?", 0},
		{"unknown trigger kind", "workflow \"a\" {\n  trigger \"cron\" {}\n}", "f1.hcl:2:11", "The trigger kinds are: hook", 0},
		{"misspelled step attribute", "workflow \"a\" {\n  step \"call\" \"x\" {\n    ur = \"https://x\"\n  }\n}", "f1.hcl:3:5", "Did you mean \"url\"?", 0},
		{"misspelled common step attribute", "workflow \"a\" {\n  step \"call\" \"x\" {\n    url = \"https://x\"\n    timout = \"1s\"\n  }\n}", "f1.hcl:4:5", "Did you mean \"timeout\"?", 0},
		{"missing required attribute", "workflow \"a\" {\n  step \"call\" \"x\" {}\n}", "f1.hcl:2:19", "The argument \"url\" is required", 0},
		{"filter expression error points inside the string", "workflow \"a\" {\n  filter = \"event.body.x >\"\n}", "f1.hcl:2:26", "Invalid expression", 0},
		{"filter that is not bool", "workflow \"a\" {\n  filter = \"len(event.body.items)\"\n}", "f1.hcl:2:13", "Condition is not true or false", 0},
		{"filter written as a template", "workflow \"a\" {\n  filter = \"{{ event.body.ok }}\"\n}", "f1.hcl:2:12", "drop the {{ }}", 0},
		{"filter without quotes", "workflow \"a\" {\n  filter = event.body.ok\n}", "f1.hcl:2:12", `write them in quotes`, 0},
		{"event at load time", "workflow \"a\" {\n  step \"call\" \"x\" { url = event.body.url }\n}", "f1.hcl:2:27", `"{{ event.body.url }}"`, 0},
		{"steps inside ${}", "workflow \"a\" {\n  step \"call\" \"x\" { url = \"https://x/${steps.y.id}\" }\n}", "f1.hcl:2:40", "use a template in a string", 0},
		{"secret() in a template", "workflow \"a\" {\n  step \"call\" \"x\" { url = \"https://x/{{ secret('K') }}\" }\n}", "f1.hcl:2:41", `write it outside {{ }}, as "${secret("NAME")}"`, 0},
		{"AND in a filter", "workflow \"a\" {\n  filter = \"event.a == 1 AND event.b == 2\"\n}", "f1.hcl:2:26", `Expressions write AND as "and" or "&&".`, 0},
		{"unknown root in a template", "workflow \"a\" {\n  step \"call\" \"x\" { url = \"https://x/{{ evnt.id }}\" }\n}", "f1.hcl:2:41", `Did you mean "event"?`, 0},
		{"duplicate workflow points at the first", "workflow \"a\" {}\nworkflow \"a\" {}", "f1.hcl:2:10", "already defined at f1.hcl:1:1", 0},
		{"duplicate step points at the first", "workflow \"a\" {\n  step \"call\" \"x\" { url = \"https://x\" }\n  step \"call\" \"x\" { url = \"https://y\" }\n}", "f1.hcl:3:15", "already defined at f1.hcl:2:3", 0},
		{"invalid step name", "workflow \"a\" {\n  step \"call\" \"find-customer\" { url = \"https://x\" }\n}", "f1.hcl:2:15", "letters, digits and underscores", 0},
		{"duration without a unit", "workflow \"a\" {\n  step \"call\" \"x\" {\n    url = \"https://x\"\n    timeout = 5\n  }\n}", "f1.hcl:4:15", `write timeout = "5s"`, 0},
		{"bad duration", "workflow \"a\" {\n  step \"call\" \"x\" {\n    url = \"https://x\"\n    timeout = \"10\"\n  }\n}", "f1.hcl:4:15", "Invalid duration \"10\"", 0},
		{"bad on_error", "workflow \"a\" {\n  step \"call\" \"x\" {\n    url = \"https://x\"\n    on_error = \"ignore\"\n  }\n}", "f1.hcl:4:16", "Invalid on_error \"ignore\"", 0},
		{"missing env var", "vars {\n  x = env(\"HOOKFLOW_TEST_UNSET\")\n}", "f1.hcl:2:7", "Environment variable HOOKFLOW_TEST_UNSET is not set", 0},
		{"missing secret", "workflow \"a\" {\n  step \"call\" \"x\" { url = secret(\"HOOKFLOW_TEST_UNSET\") }\n}", "f1.hcl:2:27", "Secret HOOKFLOW_TEST_UNSET is not set", 0},
		{"duplicate var", "vars {\n  a = 1\n}\nvars {\n  a = 2\n}", "f1.hcl:5:3", "already defined at f1.hcl:2:3", 0},
		{"var referring to a var", "vars {\n  a = 1\n  b = vars.a\n}", "f1.hcl:3:7", "cannot refer to another var", 0},
		{"unknown var", "workflow \"a\" {\n  step \"call\" \"x\" { url = \"${vars.nope}\" }\n}", "f1.hcl:2:34", `No vars block defines "nope"; there are no vars.`, 0},
		{"condition on a step", "workflow \"a\" {\n  step \"call\" \"x\" {\n    url = \"https://x\"\n    if = \"steps.y.ok ==\"\n  }\n}", "f1.hcl:4:23", `"steps.y.ok ==" ends too soon: something must follow "==".`, 0},
		{"description not a string", "workflow \"a\" {\n  description = [1]\n}", "f1.hcl:2:17", "must be a string", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, diags := loadString(t, tt.src)
			if set != nil || !diags.HasErrors() {
				t.Fatalf("want errors, got none")
			}
			d := diags[0]
			at := fmt.Sprintf("%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
			if at != tt.at {
				t.Errorf("at %s, want %s (%s: %s)", at, tt.at, d.Summary, d.Detail)
			}
			if text := d.Summary + ": " + d.Detail; !strings.Contains(text, tt.says) {
				t.Errorf("diagnostic %q does not say %q", text, tt.says)
			}
			if len(diags) != 1+tt.others {
				t.Errorf("%d diagnostics, want %d: %s", len(diags), 1+tt.others, diags.Error())
			}
		})
	}
}

// TestLoadReportsEveryProblem checks that one load reports the problems of every
// file, not only the first.
func TestLoadReportsEveryProblem(t *testing.T) {
	_, diags := loadString(t,
		"workflow \"a\" {\n  filtr = \"true\"\n}",
		"workflow \"b\" {\n  step \"htp\" \"x\" {}\n}",
		"workflow \"c\" {\n  step \"call\" \"x\" { url = \"{{ }}\" }\n  step \"call\" \"y\" {\n    url = \"https://x\"\n    timeout = \"x\"\n  }\n}")
	files := map[string]bool{}
	for _, d := range diags {
		files[d.Subject.Filename] = true
	}
	if len(diags) != 4 || len(files) != 3 {
		t.Errorf("want 4 diagnostics over 3 files, got %d: %s", len(diags), diags.Error())
	}
}

func TestReadDir(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.hcl", `workflow "a" {}`)
	write("sub/b.hcl", `workflow "b" {}`)
	write("sub/notes.txt", `not a workflow`)
	write(".hidden/c.hcl", `workflow "c" {}`)
	write(".d.hcl", `workflow "d" {}`)
	write("..data/e.hcl", `workflow "e" {}`)
	srcs, diags := ReadDir(dir)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var names []string
	for _, s := range srcs {
		rel, _ := filepath.Rel(dir, s.Name)
		names = append(names, rel)
	}
	if !reflect.DeepEqual(names, []string{"a.hcl", filepath.Join("sub", "b.hcl")}) {
		t.Errorf("read %v", names)
	}
	if _, diags := ReadDir(filepath.Join(dir, "missing")); !diags.HasErrors() {
		t.Error("a missing directory should be an error")
	}
}

// A symbolic link to a directory is not followed, and says so; one to a file is read.
func TestReadDirWarnsOfLinkedDirectories(t *testing.T) {
	dir, elsewhere := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(elsewhere, "b.hcl"), []byte(`workflow "b" {}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(dir, "ext")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(elsewhere, "b.hcl"), filepath.Join(dir, "b.hcl")); err != nil {
		t.Fatal(err)
	}
	srcs, diags := ReadDir(dir)
	if diags.HasErrors() || len(diags) != 1 || diags[0].Summary != "Linked directory not read" ||
		!strings.Contains(diags[0].Detail, filepath.Join(dir, "ext")) {
		t.Errorf("diagnostics %v, want one warning naming the link", diags)
	}
	if len(srcs) != 1 || filepath.Base(srcs[0].Name) != "b.hcl" {
		t.Errorf("read %v, want the linked file", srcs)
	}
	if _, diags := ReadTests(dir); len(diags) != 0 {
		t.Errorf("reading the tests warns again: %v", diags)
	}
}

func TestFileFunctionIsRelativeToTheFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "body.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := `workflow "a" {
  step "call" "x" {
    url  = "https://x"
    json = { text = file("body.txt") }
  }
}`
	if err := os.WriteFile(filepath.Join(dir, "sub", "a.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	srcs, diags := ReadDir(dir)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	set, diags := Load(srcs, testKinds())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	out, _ := set.Workflow("a").Steps[0].Action.Do(context.Background(), &Call{Env: &Env{}})
	if got := out.(map[string]any)["json"]; !reflect.DeepEqual(got, map[string]any{"text": "hello"}) {
		t.Errorf("file() gave %#v", got)
	}
}

func TestKindsPanicOnDuplicate(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("registering a kind twice should panic")
		}
	}()
	k := testKinds()
	k.AddStep(StepKind{Name: "call"})
}

// A workflow's Sources are enough to load it again, to the same version, elsewhere.
func TestSourcesRebuildTheWorkflow(t *testing.T) {
	files := []string{
		"workflow \"a\" {\n  step \"call\" \"x\" {\n    url = \"${vars.base}/a\"\n  }\n}\n",
		"vars {\n  base = \"https://api.example.com\"\n}\n",
		"workflow \"b\" {\n  step \"call\" \"y\" {\n    url = \"https://b.example.com\"\n  }\n}\n",
	}
	set, diags := loadString(t, files...)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	a := set.Workflow("a")
	var names []string
	for _, s := range a.Sources {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "f1.hcl,f2.hcl" {
		t.Fatalf("sources of a: %v, want its own file and the vars file", names)
	}
	again, diags := Load(a.Sources, testKinds())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if got := again.Workflow("a"); got == nil || got.Version != a.Version {
		t.Errorf("rebuilt workflow %+v, want version %s", got, a.Version)
	}
}
