package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// hookflow test DIR/... tests each set of workflows under DIR, a directory holding
// workflow files below none that does, loaded with its subdirectories as serve and
// hookflow test SETDIR load it: its tests may sit in a subdirectory, and call or
// read the workflows, vars and api blocks of the set's directories above them.
func TestWorkflowTestsDirDotsTestsEachSet(t *testing.T) {
	const notify = `workflow "notify" {
  step "http" "slack" {
    url = "https://hooks.example.com/x"
  }
}
`
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string // in the output
	}{
		{"a test beside a workflow that calls one of the directory above", map[string]string{
			"root.hcl": notify,
			"billing/inv.hcl": `workflow "invoice" {
  step "workflow" "tell" {
    workflow = "notify"
  }
}
`,
			"billing/inv.test.hcl": "test \"invoice tells\" {\n  workflow = \"invoice\"\n  mock \"tell/slack\" {}\n}\n",
		}, []string{"ok    invoice tells (", "PASS: 1 test\n"}},
		{"vars and an api of the directory above", map[string]string{
			"vars.hcl": `vars {
  crm = "https://crm.example.com"
}

api "books" {
  base_url = "https://books.example.com/v1"
}
`,
			"billing/inv.hcl": `workflow "invoice" {
  step "http" "send" {
    url = "${vars.crm}/invoices"
  }
  step "http" "book" {
    api = "books"
    url = "/entries"
  }
}
`,
			"billing/inv.test.hcl": `test "invoice sent" {
  workflow = "invoice"
  mock "send" {}
  mock "book" {}
  expect "send" {
    url = "https://crm.example.com/invoices"
  }
  expect "book" {
    url = "https://books.example.com/v1/entries"
  }
}
`,
		}, []string{"ok    invoice sent (", "PASS: 1 test\n"}},
		{"tests in a subdirectory of the workflows", map[string]string{
			"wf/lookup.hcl": `workflow "lookup" {
  step "http" "find" {
    url = "https://api.example.com/find"
  }
}
`,
			"wf/tests/lookup.test.hcl": "test \"lookup finds\" {\n  workflow = \"lookup\"\n  mock \"find\" {}\n}\n",
		}, []string{"ok    lookup finds (", "PASS: 1 test\n"}},
		{"sets beside each other, whose workflows' names clash", map[string]string{
			"a/w.hcl":      notify,
			"a/w.test.hcl": "test \"a notifies\" {\n  workflow = \"notify\"\n  mock \"slack\" {}\n}\n",
			"b/w.hcl":      strings.Replace(notify, "/x", "/y", 1),
			"b/w.test.hcl": "test \"b notifies\" {\n  workflow = \"notify\"\n  mock \"slack\" {}\n  expect \"slack\" {\n    url = \"https://hooks.example.com/y\"\n  }\n}\n",
		}, []string{"ok    a notifies (", "ok    b notifies (", "PASS: 2 tests\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, t.TempDir(), tc.files)
			out, code := hookflowTest(t, dir+"/...")
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, out)
			}
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// The groups of DIR/...: a set for each directory holding workflow files below none
// that does, with every test file inside it; a test file in no set, with those of
// its directory, against the workflows of its directory.
func TestTestSets(t *testing.T) {
	root := writeFiles(t, t.TempDir(), map[string]string{
		"a/w.hcl":               "",
		"a/w.test.hcl":          "",
		"a/sub/more.hcl":        "",
		"a/sub/more.test.hcl":   "",
		"a/tests/x.test.hcl":    "",
		"b/deeper/w.hcl":        "",
		"b/deeper/t/w.test.hcl": "",
		"b/lone.test.hcl":       "",
		"c/w.hcl":               "", // a set without tests: nothing to run
		"d/one.test.hcl":        "",
		"d/two.test.hcl":        "",
		".hidden/w.test.hcl":    "",
	})
	groups, err := testGroups([]string{root + "/..."})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range groups {
		var files []string
		for _, s := range g.tests {
			rel, _ := filepath.Rel(g.dir, s.Name)
			files = append(files, rel)
		}
		rel, _ := filepath.Rel(root, g.dir)
		got = append(got, rel+": "+strings.Join(files, " "))
	}
	want := []string{
		"a: sub/more.test.hcl tests/x.test.hcl w.test.hcl",
		"b: lone.test.hcl",
		"b/deeper: t/w.test.hcl",
		"d: one.test.hcl two.test.hcl",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("groups:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A directory given twice, or with a test file in it, or with DIR/... that holds it,
// runs each of its tests once, as go test runs a package named twice once.
func TestWorkflowTestsPathGivenTwice(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"flows/w.hcl":      "workflow \"w\" {\n  step \"log\" \"a\" {\n    message = \"hi\"\n  }\n}\n",
		"flows/a.test.hcl": "test \"a\" {\n  workflow = \"w\"\n}\n",
		"flows/b.test.hcl": "test \"b\" {\n  workflow = \"w\"\n}\n",
	})
	flows := filepath.Join(dir, "flows")
	for _, args := range [][]string{
		{flows, flows},
		{flows, flows + "/"},
		{filepath.Join(flows, "b.test.hcl"), flows},
		{flows + "/...", flows},
		{dir + "/...", flows, filepath.Join(flows, "a.test.hcl")},
	} {
		out, code := hookflowTest(t, args...)
		if code != 0 || !strings.HasSuffix(out, "PASS: 2 tests\n") || strings.Count(out, "ok    a (") != 1 {
			t.Errorf("hookflow test %s: exit %d:\n%s", strings.Join(args, " "), code, out)
		}
	}
}

// The warnings of a test file are printed, as validate prints them, when its tests
// run too; once, though the file is tested with two directories.
func TestWorkflowTestsPrintTheirWarnings(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"flows/sub/w.hcl": `workflow "w" {
  step "log" "a" {
    message = "n={{ event.body.n }}"
  }
}
`,
		"flows/sub/w.test.hcl": `test "a form read as text" {
  workflow   = "w"
  expect_run = "failed" # event.body is the text, with no field n
  event {
    body = "name=Bo&n=1"
  }
}
`,
	})
	flows := filepath.Join(dir, "flows")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"test", flows, filepath.Join(flows, "sub", "w.test.hcl")}, nil, &stdout, &stderr)
	if code := exitStatus(err, &stderr); code != 0 || !strings.HasSuffix(stdout.String(), "PASS: 2 tests\n") {
		t.Fatalf("exit %d:\n%s%s", code, stdout.String(), stderr.String())
	}
	said := stderr.String()
	if strings.Count(said, "Warning: Event body taken as text") != 1 || !strings.Contains(said, "w.test.hcl:5:12") ||
		!strings.Contains(said, `content_type = "application/x-www-form-urlencoded"`) {
		t.Errorf("the warning, once, on standard error:\n%s", said)
	}
}
