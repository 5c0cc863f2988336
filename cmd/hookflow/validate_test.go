package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// hookflowCLI runs the command line in this process and returns what it printed.
func hookflowCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

// writeFiles writes files, by name relative to dir, and returns dir.
func writeFiles(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	for name, src := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// unsetAll removes the named variables from the environment for the test.
func unsetAll(t *testing.T, names []string) {
	t.Helper()
	for _, n := range names {
		t.Setenv(n, "") // restored when the test ends
		os.Unsetenv(n)
	}
}

// exampleVariables returns the names every example reads with env() or secret(), and
// those it reads with secret().
func exampleVariables(t *testing.T) (all, secrets []string) {
	t.Helper()
	re := regexp.MustCompile(`\b(env|secret)\("([A-Za-z_][A-Za-z0-9_]*)"`)
	seen := map[string]bool{}
	err := filepath.WalkDir(examples, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".hcl" {
			return err
		}
		data, err := os.ReadFile(p)
		for _, m := range re.FindAllStringSubmatch(string(data), -1) {
			if !seen[m[2]] {
				seen[m[2]] = true
				all = append(all, m[2])
			}
			if m[1] == "secret" && !seen["secret "+m[2]] {
				seen["secret "+m[2]] = true
				secrets = append(secrets, m[2])
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(secrets)
	return all, secrets
}

// CI checks the files without the secrets: validate passes, and lists what serve needs.
func TestValidateExamplesWithoutSecrets(t *testing.T) {
	all, secrets := exampleVariables(t)
	if len(secrets) < 5 {
		t.Fatalf("only %d secrets found in the examples", len(secrets))
	}
	unsetAll(t, all)
	dirs, err := filepath.Glob(filepath.Join(examples, "*"))
	if err != nil || len(dirs) < 5 {
		t.Fatalf("examples: %v %v", dirs, err)
	}

	stdout, stderr, err := hookflowCLI(t, append([]string{"validate"}, dirs...)...)
	if err != nil {
		t.Fatalf("validate without secrets: %v\n%s%s", err, stdout, stderr)
	}
	for _, d := range dirs {
		if !strings.Contains(stdout, d+": ") {
			t.Errorf("no line for %s:\n%s", d, stdout)
		}
	}
	want := regexp.QuoteMeta(strings.Join(secrets, ", "))
	if !regexp.MustCompile(`(?m)^\d+ secrets not set: ` + want + ` — serve needs them`).MatchString(stdout) {
		t.Errorf("the secrets are not listed once, as %s:\n%s", strings.Join(secrets, ", "), stdout)
	}
	if strings.Contains(stderr, "is not set") {
		t.Errorf("unset secrets reported as problems:\n%s", stderr)
	}
	// docs/cli.md shows this output: its lines, but for those it cuts short with …
	doc, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	sample := regexp.MustCompile("(?s)\\$ hookflow validate examples/\\*\n(.*?)```").FindSubmatch(doc)
	if sample == nil {
		t.Fatal("docs/cli.md shows no output of hookflow validate examples/*")
	}
	for _, line := range strings.Split(strings.TrimSpace(string(sample[1])), "\n") {
		got := strings.ReplaceAll(line, "examples/", examples+"/")
		if before, after, cut := strings.Cut(got, ", … —"); cut {
			if !strings.Contains(stdout, before+", ") || !strings.Contains(stdout, after) {
				t.Errorf("docs/cli.md shows %q, validate prints:\n%s", line, stdout)
			}
		} else if line != "…" && !strings.Contains(stdout, got+"\n") {
			t.Errorf("docs/cli.md shows %q, validate prints:\n%s", line, stdout)
		}
	}

	stdout, stderr, err = hookflowCLI(t, append([]string{"validate", "--strict"}, dirs...)...)
	if err != exitError(1) {
		t.Fatalf("--strict without secrets: %v, want exit status 1", err)
	}
	for _, s := range secrets {
		if !strings.Contains(stderr, "Secret "+s+" is not set") {
			t.Errorf("--strict does not report %s:\n%s", s, stderr)
		}
	}
	if strings.Contains(stdout, "not set:") {
		t.Errorf("--strict lists placeholders:\n%s", stdout)
	}
}

// A placeholder passes the checks of its place: a verify block's minimum length, a
// URL's shape, a duration.
func TestValidatePlaceholderPassesChecks(t *testing.T) {
	unsetAll(t, []string{"HF_SIGNING", "HF_API", "HF_TIMEOUT"})
	dir := writeFiles(t, t.TempDir(), map[string]string{"a.hcl": `workflow "a" {
  trigger "webhook" {
    path = "/a"
    verify "hmac" {
      header  = "X-Signature"
      secrets = [secret("HF_SIGNING")]
    }
  }
  step "http" "call" {
    url     = env("HF_API")
    timeout = env("HF_TIMEOUT")
  }
}
`})
	stdout, stderr, err := hookflowCLI(t, "validate", dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, want := range []string{"1 workflow, no problems", "1 secret not set: HF_SIGNING — serve needs it", "2 environment variables not set: HF_API, HF_TIMEOUT — serve needs them"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout does not say %q:\n%s", want, stdout)
		}
	}
}

func TestValidateJSON(t *testing.T) {
	unsetAll(t, []string{"HF_TOKEN"})
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"a.hcl": "workflow \"a\" {\n  step \"http\" \"x\" {\n    ur = \"https://x\"\n  }\n}\n",
	})
	// The variables not set are listed for the paths that load.
	dir2 := writeFiles(t, t.TempDir(), map[string]string{
		"b.hcl": "workflow \"b\" {\n  step \"http\" \"y\" {\n    url     = \"https://example.com\"\n    headers = { Authorization = secret(\"HF_TOKEN\") }\n  }\n}\n",
	})
	stdout, _, err := hookflowCLI(t, "validate", "--format", "json", dir, dir2)
	if err != exitError(1) {
		t.Errorf("got %v, want exit status 1", err)
	}
	var doc struct {
		Valid bool `json:"valid"`
		Paths []struct {
			Path      string `json:"path"`
			Workflows int    `json:"workflows"`
			Errors    int    `json:"errors"`
		} `json:"paths"`
		Diagnostics []struct {
			Severity  string `json:"severity"`
			Summary   string `json:"summary"`
			Detail    string `json:"detail"`
			File      string `json:"file"`
			Line      int    `json:"line"`
			Column    int    `json:"column"`
			EndLine   int    `json:"end_line"`
			EndColumn int    `json:"end_column"`
		} `json:"diagnostics"`
		Unset []struct {
			Name   string `json:"name"`
			Secret bool   `json:"secret"`
			File   string `json:"file"`
			Line   int    `json:"line"`
		} `json:"unset"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("not one JSON document: %v\n%s", err, stdout)
	}
	if doc.Valid || len(doc.Paths) != 2 || doc.Paths[0].Path != dir || doc.Paths[0].Errors != 1 ||
		doc.Paths[1].Path != dir2 || doc.Paths[1].Workflows != 1 || doc.Paths[1].Errors != 0 {
		t.Errorf("valid %v, paths %+v", doc.Valid, doc.Paths)
	}
	if len(doc.Diagnostics) != 1 {
		t.Fatalf("diagnostics: %+v", doc.Diagnostics)
	}
	d := doc.Diagnostics[0]
	if d.Severity != "error" || d.File != filepath.Join(dir, "a.hcl") || d.Line != 3 || d.Column != 5 ||
		d.EndLine != 3 || d.EndColumn != 7 || !strings.Contains(d.Detail, `Did you mean "url"?`) {
		t.Errorf("diagnostic: %+v", d)
	}
	if len(doc.Unset) != 1 || doc.Unset[0].Name != "HF_TOKEN" || !doc.Unset[0].Secret ||
		doc.Unset[0].File != filepath.Join(dir2, "b.hcl") || doc.Unset[0].Line != 4 {
		t.Errorf("unset: %+v", doc.Unset)
	}

	if _, _, err := hookflowCLI(t, "validate", "--format", "yaml", dir); err != errUsage {
		t.Errorf("--format yaml: %v", err)
	}
}

// A path whose test files have errors has errors: like one whose workflows have, it
// counts no workflows and lists no variables (docs/cli.md).
func TestValidateTestFileErrorsCountNothing(t *testing.T) {
	unsetAll(t, []string{"HF_TOKEN"})
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"b.hcl":         "workflow \"b\" {\n  step \"http\" \"y\" {\n    url     = \"https://example.com\"\n    headers = { Authorization = secret(\"HF_TOKEN\") }\n  }\n}\n",
		"bad.test.hcl":  "test \"t\" {\n  workflow = \"nope\"\n}\n",
		"good.test.hcl": "test \"u\" {\n  workflow = \"b\"\n  event {\n    body = {}\n  }\n}\n",
	})
	stdout, stderr, err := hookflowCLI(t, "validate", dir)
	if err != exitError(1) || !strings.Contains(stderr, "bad.test.hcl:2:") {
		t.Fatalf("%v\n%s%s", err, stdout, stderr)
	}
	if want := dir + ": 1 error, 0 warnings\n"; stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}

	stdout, _, err = hookflowCLI(t, "validate", "--format", "json", dir)
	if err != exitError(1) {
		t.Errorf("got %v, want exit status 1", err)
	}
	var doc struct {
		Valid bool `json:"valid"`
		Paths []struct {
			Workflows int `json:"workflows"`
			Errors    int `json:"errors"`
		} `json:"paths"`
		Unset []struct {
			Name string `json:"name"`
		} `json:"unset"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("not one JSON document: %v\n%s", err, stdout)
	}
	if doc.Valid || len(doc.Paths) != 1 || doc.Paths[0].Workflows != 0 || doc.Paths[0].Errors != 1 || len(doc.Unset) != 0 {
		t.Errorf("valid %v, paths %+v, unset %+v", doc.Valid, doc.Paths, doc.Unset)
	}
}

func TestValidateSeveralPaths(t *testing.T) {
	good := writeFiles(t, t.TempDir(), map[string]string{
		"one.hcl": "workflow \"one\" {\n  trigger \"webhook\" {\n    path = \"/one\"\n  }\n}\n",
	})
	// Each path is checked on its own, as one serve loads it: the same names in two
	// directories do not clash.
	twin := writeFiles(t, t.TempDir(), map[string]string{
		"one.hcl":     "workflow \"one\" {\n  trigger \"webhook\" {\n    path = \"/one\"\n  }\n}\n",
		"sub/two.hcl": "workflow \"two\" {\n  trigger \"webhook\" {\n    path = \"/two\"\n  }\n}\n",
	})
	file := filepath.Join(writeFiles(t, t.TempDir(), map[string]string{
		"bad.hcl": "workflow \"bad\" {\n  filter = \"event.body.x >\"\n}\n",
	}), "bad.hcl")

	stdout, stderr, err := hookflowCLI(t, "validate", good, twin)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if want := good + ": 1 workflow, no problems\n" + twin + ": 2 workflows, no problems\n"; stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}

	stdout, stderr, err = hookflowCLI(t, "validate", good, file)
	if err != exitError(1) || !strings.Contains(stderr, "bad.hcl:2:") || !strings.Contains(stdout, file+": 1 error") ||
		!strings.Contains(stdout, good+": 1 workflow, no problems") {
		t.Errorf("a file and a directory: %v\n%s%s", err, stdout, stderr)
	}
	if _, stderr, err := hookflowCLI(t, "validate", filepath.Join(good, "missing")); err != errUsage || !strings.Contains(stderr, "missing: no such file or directory") {
		t.Errorf("a missing path: %v %s", err, stderr) // a mistake in the command line (paths_test.go)
	}
}

// A poll at 03:45 in Pacific/Chatham, whose clocks go back from 03:45 to 02:45,
// validates: its seen_window is checked against the longest time between two of its
// polls, which the day clocks change is.
func TestValidateScheduleAcrossAQuarterToChange(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"chat.hcl": `workflow "chat" {
  trigger "poll" {
    cron     = "45 3 * * *"
    timezone = "Pacific/Chatham"
    url      = "https://example.com/api/orders"
    items    = "response.body.orders"
    key      = "item.id"
  }
  step "log" "x" {
    message = "hi"
  }
}
`,
		"tick.hcl": "workflow \"tick\" {\n  trigger \"schedule\" {\n    cron = \"0 3 * * *\"\n    timezone = \"Pacific/Chatham\"\n  }\n" +
			"  step \"log\" \"x\" {\n    message = \"hi\"\n  }\n}\n",
	})
	type result struct {
		stdout, stderr string
		err            error
	}
	done := make(chan result, 1)
	go func() {
		stdout, stderr, err := hookflowCLI(t, "validate", dir)
		done <- result{stdout, stderr, err}
	}()
	select {
	case r := <-done:
		if r.err != nil || r.stdout != dir+": 2 workflows, no problems\n" {
			t.Errorf("validate: %v\n%s%s", r.err, r.stdout, r.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("validate did not finish within 20s")
	}
}

// A workflow file is checked with its directory: the vars and api blocks of the other
// files, and their workflows as ones to call; only its own workflows are checked.
func TestValidateFileWithItsDirectory(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"vars.hcl": "vars {\n  base = \"https://crm.example.com\"\n}\n",
		"apis.hcl": "api \"crm\" {\n  base_url = vars.base\n}\n",
		"w.hcl": `workflow "w" {
  step "http" "lookup" {
    url = "${vars.base}/customers"
  }
  step "http" "update" {
    api = "crm"
    url = "/customers/1"
  }
  step "workflow" "invoice" {
    workflow = "invoice"
  }
}
`,
		"sub/invoice.hcl": "workflow \"invoice\" {\n  step \"set\" \"x\" {\n    text = \"x\"\n  }\n}\n",
		// a file being edited: serve would refuse the directory, but not for w.hcl
		"broken.hcl": "workflow \"broken\" {\n  step \"http\" \"x\" {\n    ur = \"https://x\"\n  }\n",
	})
	file := filepath.Join(dir, "w.hcl")
	stdout, stderr, err := hookflowCLI(t, "validate", file)
	if err != nil || stdout != file+": 1 workflow, no problems\n" {
		t.Errorf("validate %s: %v\n%s%s", file, err, stdout, stderr)
	}

	// What the vars files get wrong is reported, and so is a name another file uses.
	writeFiles(t, dir, map[string]string{
		"vars.hcl": "vars {\n  base = \"https://crm.example.com\"\n  other = nope\n}\n",
		"dup.hcl":  "workflow \"w\" {\n}\n",
	})
	stdout, stderr, err = hookflowCLI(t, "validate", file)
	if err != exitError(1) || !strings.Contains(stdout, file+": 2 errors") ||
		!strings.Contains(stderr, "vars.hcl:3:") || !strings.Contains(stderr, `Duplicate workflow "w"`) ||
		strings.Contains(stderr, "broken.hcl") {
		t.Errorf("validate %s with errors in its directory: %v\n%s%s", file, err, stdout, stderr)
	}
}

// run needs what the workflow it runs needs, not what the others of its directory do.
func TestRunNeedsOnlyItsOwnSecrets(t *testing.T) {
	unsetAll(t, []string{"HF_OTHER_SECRET", "HF_OTHER_URL", "HF_OWN_SECRET", "HF_CRM_TOKEN", "HF_BILLING_URL"})
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"vars.hcl": "vars {\n  other = env(\"HF_OTHER_URL\")\n  greeting = \"hello\"\n  billing = env(\"HF_BILLING_URL\")\n}\n",
		"apis.hcl": `api "crm" {
  base_url = "https://crm.example.com"
  headers  = { Authorization = "Bearer ${secret("HF_CRM_TOKEN")}" }
}

api "billing" {
  base_url = vars.billing
}
`,
		"crm.hcl": `workflow "crm" {
  step "http" "call" {
    api = "crm"
    url = "/customers"
  }
}
`,
		"billing.hcl": `workflow "billing" {
  step "http" "call" {
    api = "billing"
    url = "/invoices"
  }
}
`,
		"mine.hcl": `workflow "mine" {
  step "set" "say" {
    text = "{{ vars.greeting }}"
  }
}
`,
		"other.hcl": `workflow "other" {
  trigger "webhook" {
    path = "/other"
    verify "github" {
      secrets = [secret("HF_OTHER_SECRET")]
    }
  }
  step "http" "call" {
    url = "{{ vars.other }}/x"
  }
}
`,
		"needy.hcl": `workflow "needy" {
  step "http" "call" {
    url     = "https://example.com"
    headers = { Authorization = "Bearer ${secret("HF_OWN_SECRET")}" }
  }
}
`,
	})
	stdout, stderr, err := hookflowCLI(t, "run", "--dir", dir, "mine")
	if err != nil || !strings.Contains(stdout, "run succeeded") {
		t.Fatalf("run mine: %v\n%s%s", err, stdout, stderr)
	}

	for name, want := range map[string]string{
		"other":   "Environment variable HF_OTHER_URL is not set",
		"needy":   "Secret HF_OWN_SECRET is not set",
		"crm":     "Secret HF_CRM_TOKEN is not set",                 // what its api block reads
		"billing": "Environment variable HF_BILLING_URL is not set", // what a var its api block reads does
	} {
		_, stderr, err = hookflowCLI(t, "run", "--dir", dir, "--dry-run", name)
		if err != exitError(1) || !strings.Contains(stderr, want) {
			t.Errorf("run %s: %v, want exit status 1 and %q:\n%s", name, err, want, stderr)
		}
	}
	// run checks no signature: the webhook's secret is not needed.
	if _, stderr, _ := hookflowCLI(t, "run", "--dir", dir, "--dry-run", "other"); strings.Contains(stderr, "HF_OTHER_SECRET") ||
		strings.Contains(stderr, "HF_OWN_SECRET") {
		t.Errorf("run other reports what it does not need:\n%s", stderr)
	}
}

// run needs what it reads: not a webhook's signing secret, nor a poll's request
// unless it polls (run --poll), nor the steps' secrets when it starts no run (run
// --poll --dry-run). A dry run of the steps needs theirs: it builds their requests.
func TestRunNeedsWhatItReads(t *testing.T) {
	unsetAll(t, []string{"HF_SIGNING", "HF_SHOP_TOKEN", "HF_SHIP_TOKEN"})
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `[{"id": "o1"}]`)
	}))
	defer shop.Close()
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"pushes.hcl": `workflow "pushes" {
  trigger "webhook" {
    path = "/pushes"
    verify "github" {
      secrets = [secret("HF_SIGNING")]
    }
  }
  step "set" "seen" {
    ok = true
  }
}
`,
		"orders.hcl": `workflow "orders" {
  trigger "poll" {
    every   = "1m"
    url     = "` + shop.URL + `/orders"
    headers = { Authorization = "Bearer ${secret("HF_SHOP_TOKEN")}" }
    items   = "response.body"
    key     = "item.id"
  }
  step "http" "ship" {
    url     = "https://ship.example.com/shipments"
    headers = { Authorization = "Bearer ${secret("HF_SHIP_TOKEN")}" }
  }
}
`,
	})
	hookflow := func(env map[string]string, args ...string) (string, error) {
		t.Helper()
		for _, n := range []string{"HF_SHOP_TOKEN", "HF_SHIP_TOKEN"} {
			os.Unsetenv(n)
		}
		for n, v := range env {
			t.Setenv(n, v)
		}
		stdout, stderr, err := hookflowCLI(t, append([]string{"run", "--dir", dir, "--allow-net", "127.0.0.1/32"}, args...)...)
		return stdout + stderr, err
	}
	shopToken := map[string]string{"HF_SHOP_TOKEN": "shop-token-1"}
	shipToken := map[string]string{"HF_SHIP_TOKEN": "ship-token-1"}
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		lack string // the variable reported missing; "": none
	}{
		{"a webhook's signing secret", nil, []string{"--dry-run", "pushes"}, ""},
		{"a poll's request, not polled", shipToken, []string{"--dry-run", "--event", "-", "orders"}, ""},
		{"the steps of a dry run", shopToken, []string{"--dry-run", "--event", "-", "orders"}, "HF_SHIP_TOKEN"},
		{"the steps, when no run starts", shopToken, []string{"--poll", "orders", "--dry-run"}, ""},
		{"the poll's request", shipToken, []string{"--poll", "orders", "--dry-run"}, "HF_SHOP_TOKEN"},
		{"the steps of the runs of the items", shopToken, []string{"--poll", "orders"}, "HF_SHIP_TOKEN"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := hookflow(tt.env, tt.args...)
			switch {
			case tt.lack == "" && (err != nil || strings.Contains(out, "is not set")):
				t.Errorf("%v, want no variable missing:\n%s", err, out)
			case tt.lack != "" && (err != exitError(1) || !strings.Contains(out, "Secret "+tt.lack+" is not set")):
				t.Errorf("%v, want exit status 1 and %s missing:\n%s", err, tt.lack, out)
			}
		})
	}
}

func TestFmtCheckPrintsDiff(t *testing.T) {
	messy := "workflow \"a\" {\ndescription=\"x\"\n  trigger \"webhook\" {\n      path = \"/a\"\n  }\n}\n"
	one := writeFiles(t, t.TempDir(), map[string]string{"a.hcl": messy})
	two := writeFiles(t, t.TempDir(), map[string]string{"b.hcl": messy})
	a, b := filepath.Join(one, "a.hcl"), filepath.Join(two, "b.hcl")

	stdout, _, err := hookflowCLI(t, "fmt", "--check", one, b)
	if err != exitError(1) {
		t.Errorf("--check: %v, want exit status 1", err)
	}
	hunk := "@@ -1,6 +1,6 @@\n workflow \"a\" {\n-description=\"x\"\n+  description = \"x\"\n   trigger \"webhook\" {\n-      path = \"/a\"\n+    path = \"/a\"\n   }\n }\n"
	if want := "--- " + a + "\n+++ " + a + "\n" + hunk + "--- " + b + "\n+++ " + b + "\n" + hunk; stdout != want {
		t.Errorf("--check printed:\n%s\nwant:\n%s", stdout, want)
	}
	if data, _ := os.ReadFile(a); string(data) != messy {
		t.Error("--check changed a file")
	}

	stdout, _, err = hookflowCLI(t, "fmt", one, two)
	if err != nil || stdout != a+"\n"+b+"\n" {
		t.Errorf("fmt of two directories: %v %q", err, stdout)
	}
	if stdout, _, err := hookflowCLI(t, "fmt", "--check", a, two); err != nil || stdout != "" {
		t.Errorf("--check after fmt: %v %q", err, stdout)
	}
}

// A linked directory, which hookflow does not follow, is a warning of validate and of
// the load serve and run make, not a silent gap.
func TestLinkedDirectoryWarned(t *testing.T) {
	dir, elsewhere := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(dir, "a.hcl"), `workflow "a" {}`+"\n")
	writeFile(t, filepath.Join(elsewhere, "b.hcl"), `workflow "b" {}`+"\n")
	if err := os.Symlink(elsewhere, filepath.Join(dir, "ext")); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := hookflowCLI(t, "validate", dir)
	if err != nil || !strings.Contains(out+stderr, "1 workflow, no errors, 1 warning") || !strings.Contains(stderr, "Linked directory not read") {
		t.Errorf("validate: %v\n%s%s", err, out, stderr)
	}
	var loadErr strings.Builder
	set, n := load(dir, workflows.NewKinds(), &loadErr)
	if set == nil || n != 1 || !strings.Contains(loadErr.String(), "Linked directory not read") {
		t.Errorf("load: %d warnings:\n%s", n, loadErr.String())
	}
}
