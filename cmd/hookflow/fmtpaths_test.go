package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const messyWorkflow = "workflow \"a\" {\n  step \"log\" \"l\" {   message = \"m\" }\n}\n"

// Each file is formatted and listed once, however many paths name it: a directory
// and DIR/..., a file and a symbolic link to it. The link stays a link, and the file
// keeps its mode.
func TestFmtEachFileOnce(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{"a.hcl": messyWorkflow, "sub/b.hcl": messyWorkflow})
	a, b, link := filepath.Join(dir, "a.hcl"), filepath.Join(dir, "sub", "b.hcl"), filepath.Join(dir, "link.hcl")
	if err := os.Symlink("a.hcl", link); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(a, 0o640); err != nil {
		t.Fatal(err)
	}

	stdout, _, err := hookflowCLI(t, "fmt", "--check", dir, dir+"/...", a, link)
	if err != exitError(1) || strings.Count(stdout, "--- ") != 2 || strings.Count(stdout, "--- "+a+"\n") != 1 ||
		strings.Count(stdout, "--- "+b+"\n") != 1 {
		t.Errorf("--check: %v, want each file's diff once:\n%s", err, stdout)
	}

	stdout, stderr, err := hookflowCLI(t, "fmt", link, dir, dir+"/...")
	if err != nil || stdout != link+"\n"+b+"\n" {
		t.Errorf("fmt: %v %q, want each file listed once (%s)", err, stdout, stderr)
	}
	if data, _ := os.ReadFile(a); string(data) != strings.Replace(messyWorkflow, "{   ", "{ ", 1) {
		t.Errorf("a.hcl is now %q", data)
	}
	if info, err := os.Lstat(link); err != nil || info.Mode()&os.ModeSymlink == 0 {
		t.Errorf("link.hcl is no longer a link: %v %v", info.Mode(), err)
	}
	if info, _ := os.Stat(a); info.Mode().Perm() != 0o640 {
		t.Errorf("a.hcl's mode is %v, want 0640", info.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// fmt --check's diff names a file with a space in it so that patch -p0 finds it: a tab
// ends the name, as diff -u writes it.
func TestFmtCheckDiffOfANameWithASpace(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"sp dir/a.hcl": messyWorkflow})
	t.Chdir(root)
	stdout, _, err := hookflowCLI(t, "fmt", "--check", "sp dir")
	if err != exitError(1) || !strings.HasPrefix(stdout, "--- sp dir/a.hcl\t\n+++ sp dir/a.hcl\t\n@@ ") {
		t.Fatalf("%v\n%q", err, stdout)
	}
	patch, err := exec.LookPath("patch")
	if err != nil {
		return // the header is checked above; patch is not on every machine
	}
	cmd := exec.Command(patch, "-p0")
	cmd.Stdin = strings.NewReader(stdout)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("patch -p0: %v\n%s", err, out)
	}
	if stdout, _, err := hookflowCLI(t, "fmt", "--check", "sp dir"); err != nil || stdout != "" {
		t.Errorf("after patch: %v %q", err, stdout)
	}
}

// validate DIR/... checks each set of workflows under DIR on its own, as hookflow test
// runs them: two sets whose workflows' names clash are no error.
func TestValidateSetsUnderADirectory(t *testing.T) {
	one := "workflow \"one\" {\n  trigger \"webhook\" {\n    path = \"/one\"\n  }\n}\n"
	root := writeFiles(t, t.TempDir(), map[string]string{
		"shop/one.hcl":       one,
		"shop/more/two.hcl":  strings.ReplaceAll(one, "one", "two"),
		"billing/one.hcl":    one,
		"billing/README.txt": "not a workflow",
	})
	stdout, stderr, err := hookflowCLI(t, "validate", root+"/...", filepath.Join(root, "shop"))
	want := filepath.Join(root, "billing") + ": 1 workflow, no problems\n" + filepath.Join(root, "shop") + ": 2 workflows, no problems\n"
	if err != nil || stdout != want {
		t.Errorf("%v\n%s\nwant\n%s%s", err, stdout, want, stderr)
	}
	if _, _, err := hookflowCLI(t, "validate", root); err != exitError(1) {
		t.Errorf("the sets as one: %v, want their names to clash", err)
	}
}

// validate writes a file's name with what a terminal would act on as escapes, as it
// writes a snippet.
func TestValidateEscapesFileNames(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{"x\x1b[31mred.hcl": "workflow \"bad\" {\n  filter = \"event.body.x >\"\n}\n"})
	stdout, stderr, err := hookflowCLI(t, "validate", filepath.Join(dir, "x\x1b[31mred.hcl"))
	if err != exitError(1) || strings.Contains(stdout+stderr, "\x1b") || !strings.Contains(stderr, `x\u001b[31mred.hcl:2:`) {
		t.Errorf("%v\n%q\n%q", err, stdout, stderr)
	}
}
