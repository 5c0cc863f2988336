package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/hookflow/hookflow/internal/testutil"
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
		case "test": // written against the Stripe example, and checked against it
			const dir = "../../examples/stripe-payment"
			srcs, _ := workflows.ReadDir(dir)
			set, diags := workflows.LoadWith(srcs, k, workflows.Options{AllowUnset: true})
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			if _, diags := workflows.LoadTests([]workflows.Source{{Name: dir + "/example.test.hcl", Data: []byte(src)}}, set); len(diags) > 0 {
				t.Errorf("test example %d does not load: %s\n%s", i+1, diags.Error(), src)
			}
			continue
		case "vars", "workflow", "api":
		case "step", "trigger", "parallel", "on_failure":
			src = "workflow \"doc\" {\n" + src + "\n}\n"
		case "retry", "paginate":
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
		for _, m := range regexp.MustCompile(`workflow += "(\w+)"`).FindAllStringSubmatch(src, -1) {
			src += "workflow \"" + m[1] + "\" {\n}\n" // the workflow a workflow step runs
		}
		set, diags := workflows.Load([]workflows.Source{{Name: "example.hcl", Data: []byte(src)}}, k)
		if len(diags) > 0 {
			t.Errorf("example %d does not load without a warning: %s\n%s", i+1, diags.Error(), b[1])
		}
		if set != nil {
			pagesOnDryRunAnswer(t, i+1, set)
		}
	}
}

// TestDocValidateOutput runs each `hookflow validate` of the README and
// docs/language.md on what it shows: the ```hcl example that holds the line its
// error quotes, with the misspelling the error names put back in, saved where the
// error says. What hookflow prints must hold what the document shows, line, column
// and carets alike.
func TestDocValidateOutput(t *testing.T) {
	var data []byte
	for _, doc := range []string{"../../README.md", "../../docs/language.md"} {
		d, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, d...)
	}
	examples := regexp.MustCompile("(?s)```hcl\n(.*?)```").FindAllStringSubmatch(string(data), -1)
	runs := regexp.MustCompile("(?s)```console\n[$] hookflow validate (\\S+)\n(.*?)```").FindAllStringSubmatch(string(data), -1)
	if len(runs) == 0 {
		t.Fatal("no hookflow validate shown")
	}
	for _, m := range regexp.MustCompile(`(?:secret|env)\("([A-Z_]+)"`).FindAllStringSubmatch(string(data), -1) {
		t.Setenv(m[1], "https://example.com/from-the-environment")
	}
	dir := t.TempDir()
	t.Chdir(dir)
	for i, run := range runs {
		arg, shown := run[1], run[2]
		at := regexp.MustCompile(`(?m)^  on (\S+\.hcl):(\d+):\d+, .*\n +(\d+): (.*)$`).FindStringSubmatch(shown)
		typo := regexp.MustCompile(`"(\w+)"(?s:.*)Did you mean "(\w+)"\?`).FindStringSubmatch(shown)
		if at == nil || typo == nil || at[2] != at[3] {
			t.Errorf("validate %d: no file:line:col, quoted line and \"Did you mean\" to run it on:\n%s", i+1, shown)
			continue
		}
		file, line, written := at[1], at[2], at[4]
		meant := strings.Replace(written, typo[1], typo[2], 1)
		var src string
		for _, e := range examples {
			if strings.Contains(e[1], "\n"+meant+"\n") {
				src = strings.Replace(e[1], "\n"+meant+"\n", "\n"+written+"\n", 1)
			}
		}
		if src == "" {
			t.Errorf("validate %d: no example holds the line\n%s", i+1, meant)
			continue
		}
		if n := strings.Count(src[:strings.Index(src, written)], "\n") + 1; fmt.Sprint(n) != line {
			t.Errorf("validate %d: the example has the line at %d, the document says %s", i+1, n, line)
		}
		writeFiles(t, dir, map[string]string{file: src})
		stdout, stderr, _ := hookflowCLI(t, "validate", arg)
		if !strings.Contains(stdout+stderr, shown) {
			t.Errorf("validate %d: hookflow validate %s prints\n%s%s\nnot what the document shows:\n%s", i+1, arg, stdout, stderr, shown)
		}
		if err := os.RemoveAll(filepath.Join(dir, filepath.Dir(file))); err != nil {
			t.Fatal(err)
		}
	}
}

// pagesOnDryRunAnswer evaluates the next and items of each paginate block of the set
// on the page a dry run answers without --response, 200 with {}: a page without the
// fields the expressions read must end the list, not fail the step.
func pagesOnDryRunAnswer(t *testing.T, example int, set *workflows.Set) {
	t.Helper()
	env := &workflows.Env{Event: map[string]any{}, Steps: map[string]any{}, Vars: map[string]any{}, Run: map[string]any{}}
	page := map[string]any{"status": 200, "headers": map[string]any{}, "body": map[string]any{}}
	for _, wf := range set.Workflows() {
		for _, s := range wf.Steps {
			pg, ok := s.Action.(interface{ Paginate() *workflows.Paginate })
			if !ok || pg.Paginate() == nil {
				continue
			}
			for _, e := range []*workflows.PageExpr{pg.Paginate().Next, pg.Paginate().Items} {
				if e == nil {
					continue
				}
				if _, err := e.Eval(workflows.NewPageEnv(env, page, "GET", "https://example.com/api", 1)); err != nil {
					t.Errorf("example %d: on a dry run's answer, {}: %v", example, err)
				}
			}
		}
	}
}

// docs/language.md calls every label it shows of a step of one item's child run
// (kids[1]/call) an error, as hookflow refuses one in a mock, an expect and a resume:
// a test names the steps of every item's child alike (kids/call).
func TestDocItemChildStepsAreErrors(t *testing.T) {
	data, err := os.ReadFile("../../docs/language.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(data)), " ") // a sentence across its line breaks
	labels := regexp.MustCompile("`(\\w+)\\[([^\\]`]*)\\]/(\\w+)`").FindAllStringSubmatchIndex(text, -1)
	if len(labels) == 0 {
		t.Fatal("docs/language.md shows no step of one item's child run (kids[1]/call)")
	}
	k := kinds(nil, nil)
	for _, m := range labels {
		label, step, child := text[m[0]+1:m[1]-1], text[m[2]:m[3]], text[m[6]:m[7]]
		sentence := text[m[1]:]
		if i := strings.Index(sentence, ". "); i >= 0 {
			sentence = sentence[:i]
		}
		if !strings.Contains(sentence, "error") {
			t.Errorf("docs/language.md shows %s as a name a test may use: %s%s", label, text[m[0]:m[1]], sentence)
		}
		for _, c := range []struct{ block, childStep string }{
			{`mock %q {}`, `step "http" %q { url = "https://example.com" }`},
			{`expect %q { count = 1 }`, `step "http" %q { url = "https://example.com" }`},
			{`resume %q {}`, `step "wait" %q { timeout = "1h" }`},
		} {
			src := fmt.Sprintf("workflow \"child\" {\n  "+c.childStep+"\n}\n", child) +
				fmt.Sprintf("workflow \"parent\" {\n  step \"workflow\" %q {\n    for_each = \"[1, 2]\"\n    workflow = \"child\"\n  }\n}\n", step)
			set, diags := workflows.Load([]workflows.Source{{Name: "parent.hcl", Data: []byte(src)}}, k)
			if diags.HasErrors() {
				t.Fatalf("%s\n%s", diags.Error(), src)
			}
			test := fmt.Sprintf("test \"t\" {\n  workflow = \"parent\"\n  "+c.block+"\n}\n", label)
			if _, diags := workflows.LoadTests([]workflows.Source{{Name: "parent.test.hcl", Data: []byte(test)}}, set); !diags.HasErrors() {
				t.Errorf("hookflow takes %s:\n%s", label, test)
			}
		}
	}
}

// TestReadmeWorkflowIsFormatted checks that the README's sample workflow, the first
// workflow people copy, is as hookflow fmt writes it: fmt --check passes on a copy.
func TestReadmeWorkflowIsFormatted(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n## A workflow\n")
	if !ok {
		t.Fatal(`README.md has no section "A workflow"`)
	}
	m := regexp.MustCompile("(?s)```hcl\n(.*?)```").FindStringSubmatch(section)
	if m == nil || !strings.Contains(m[1], "workflow \"") {
		t.Fatal(`no workflow in the README's section "A workflow"`)
	}
	if out, diags := workflows.Format([]byte(m[1]), "README.md"); diags.HasErrors() || !bytes.Equal(out, []byte(m[1])) {
		t.Errorf("the README's sample workflow is not formatted; hookflow fmt writes it:\n%s", out)
	}
	path := filepath.Join(t.TempDir(), "sample.hcl")
	if err := os.WriteFile(path, []byte(m[1]), 0o644); err != nil {
		t.Fatal(err)
	}
	if stdout, stderr, err := hookflowCLI(t, "fmt", "--check", path); err != nil {
		t.Errorf("fmt --check on the README's sample: %v\n%s%s", err, stdout, stderr)
	}
}

// TestNoConflictMarkers: no document or example carries what an unfinished merge
// leaves behind.
func TestNoConflictMarkers(t *testing.T) {
	marker := regexp.MustCompile(`(?m)^(<<<<<<< |>>>>>>> |=======$)`)
	var files []string
	for _, pattern := range []string{"../../*.md", "../../docs/*.md", "../../examples/*/*"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 10 {
		t.Fatalf("only %d files found", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // a directory
		}
		if loc := marker.FindIndex(data); loc != nil {
			t.Errorf("%s:%d: a merge conflict marker", f, bytes.Count(data[:loc[0]], []byte("\n"))+1)
		}
	}
}

// The command table of docs/cli.md lists every command, and every subcommand of the
// commands that group others, on the row of its group.
func TestCLIDocListsEveryCommand(t *testing.T) {
	data, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{} // by command: its row's first cell
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z-]+)([^|]|\\\\\\|)*?` \\|").FindAllStringSubmatch(string(data), -1) {
		rows[m[1]] = m[0]
	}
	root := newRootCommand(nil, io.Discard, io.Discard)
	for _, c := range root.Commands() {
		if c.Name() == "help" {
			continue
		}
		row, ok := rows[c.Name()]
		if !ok {
			t.Errorf("docs/cli.md's command table has no row for %s", c.Name())
			continue
		}
		for _, sub := range c.Commands() {
			if c.Name() != "completion" && !strings.Contains(row, sub.Name()) {
				t.Errorf("the row of %s in docs/cli.md's command table does not list %s: %s", c.Name(), sub.Name(), row)
			}
		}
	}
}

// TestGettingStartedDeadLetter follows step 5 of docs/getting-started.md: the GitHub
// example served beside a Slack URL that nothing answers yet, a signed push whose run
// fails into the dead letters, the stand-in workflow the guide writes saved while the
// server runs, and the dead letter retried to success, with no restart.
func TestGettingStartedDeadLetter(t *testing.T) {
	data, err := os.ReadFile("../../docs/getting-started.md")
	if err != nil {
		t.Fatal(err)
	}
	guide := string(data)
	var standIn string
	for _, m := range regexp.MustCompile("(?s)```hcl\n(.*?)```").FindAllStringSubmatch(guide, -1) {
		if strings.HasPrefix(m[1], `workflow "slack"`) {
			standIn = m[1]
		}
	}
	if standIn == "" || !strings.Contains(guide, "export SLACK_WEBHOOK_URL=http://127.0.0.1:8080/hooks/slack") ||
		!strings.Contains(guide, "dlq retry RUN_ID:notify") {
		t.Fatal("getting-started.md no longer has step 5's stand-in for Slack, its URL or its retry")
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "push.hcl"), string(exampleFile(t, "github-push", "push.hcl")))
	addr := freeAddr(t)
	const secret = "change-me-to-a-long-random-string"
	t.Setenv("GITHUB_WEBHOOK_SECRET", secret)
	t.Setenv("SLACK_WEBHOOK_URL", "http://"+addr+"/hooks/slack")
	s := serveDir(t, dir, "", addr)
	hookflow := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), append(args, "--admin", s.adminAddr), nil, &stdout, &stderr); err != nil {
			t.Fatalf("hookflow %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
		}
		return stdout.String()
	}

	event, headers := exampleFile(t, "github-push", "event.json"), exampleHeaders(t, "github-push")
	headers.Set("X-Hub-Signature-256", signGitHub(secret, event))
	a := deliver(t, "http://"+addr+"/hooks/github", event, headers)
	if a.status != http.StatusAccepted {
		t.Fatalf("the signed push: %d %s", a.status, a.body)
	}
	runID := a.json(t)["run_id"].(string)
	if run := waitRun(t, statusURL(s, runID)); run["status"] != "failed" || !strings.Contains(fmt.Sprint(run["error"]), "404") {
		t.Fatalf("the run should fail at its Slack step with a 404: %v", run)
	}
	if out := hookflow("dlq", "list"); !strings.Contains(out, runID+":notify") {
		t.Fatalf("dlq list does not list the Slack step:\n%s", out)
	}

	writeFile(t, filepath.Join(dir, "slack.hcl"), standIn)
	testutil.Eventually(t, 15*time.Second, "the stand-in for Slack is served", func() bool {
		resp, err := http.Get("http://" + s.adminAddr + "/api/v1/workflows/slack")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	hookflow("dlq", "retry", runID+":notify")
	testutil.Eventually(t, 15*time.Second, "the retried run succeeded", func() bool {
		return getJSON(t, statusURL(s, runID))["status"] == "succeeded"
	})
	runs := listRuns(t, s, "slack")
	if len(runs) != 1 {
		t.Fatalf("the stand-in ran %d times", len(runs))
	}
	logged := stepNamed(t, waitRun(t, statusURL(s, runs[0].(map[string]any)["id"].(string))), "message")
	if msg := fmt.Sprint(logged["output"]); !strings.Contains(msg, "*octocat* pushed 1 commit") {
		t.Errorf("the stand-in logged %s", msg)
	}
	if out := hookflow("dlq", "list"); strings.Contains(out, runID) {
		t.Errorf("the dead letter is still listed after its retry succeeded:\n%s", out)
	}
}

// TestDocLinks: every relative link of the README, docs/ and the examples' READMEs
// names a file that exists, and every #anchor a heading of its file, as GitHub slugs
// headings.
func TestDocLinks(t *testing.T) {
	var docs []string
	for _, pattern := range []string{"../../*.md", "../../docs/*.md", "../../examples/*/*.md"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, m...)
	}
	if len(docs) < 10 {
		t.Fatalf("only %d documents found", len(docs))
	}
	anchors := map[string]map[string]bool{} // by cleaned path
	anchorsOf := func(path string) map[string]bool {
		if a, ok := anchors[path]; ok {
			return a
		}
		a := map[string]bool{}
		if data, err := os.ReadFile(path); err == nil {
			for _, h := range markdownHeadings(string(data)) {
				slug := githubSlug(h)
				s := slug
				for i := 1; a[s]; i++ {
					s = fmt.Sprintf("%s-%d", slug, i)
				}
				a[s] = true
			}
		}
		anchors[path] = a
		return a
	}
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, doc := range docs {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(stripCode(string(data)), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			path := filepath.Clean(doc)
			if file != "" {
				path = filepath.Join(filepath.Dir(doc), file)
				if _, err := os.Stat(path); err != nil {
					t.Errorf("%s: link to %s: no such file", doc, target)
					continue
				}
			}
			if anchor != "" && strings.HasSuffix(path, ".md") && !anchorsOf(path)[anchor] {
				t.Errorf("%s: link to %s: no heading has the anchor #%s", doc, target, anchor)
			}
		}
	}
}

// stripCode removes fenced code blocks and code spans, whose text is not a link.
func stripCode(md string) string {
	md = regexp.MustCompile("(?ms)^```.*?^```").ReplaceAllString(md, "")
	return regexp.MustCompile("`[^`\n]*`").ReplaceAllString(md, "``")
}

// markdownHeadings returns the text of a document's ATX headings, outside code blocks.
func markdownHeadings(md string) []string {
	md = regexp.MustCompile("(?ms)^```.*?^```").ReplaceAllString(md, "")
	var hs []string
	for _, m := range regexp.MustCompile(`(?m)^#{1,6} +(.+?) *#* *$`).FindAllStringSubmatch(md, -1) {
		hs = append(hs, m[1])
	}
	return hs
}

// githubSlug is the anchor GitHub gives a heading: lower case, punctuation dropped
// (hyphens and underscores kept), each space a hyphen.
func githubSlug(heading string) string {
	heading = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`).ReplaceAllString(heading, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
