package main

import (
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/testutil"
)

// A workflow file moved to another directory, then given a header comment, changes
// where the workflow list says each workflow is written, though not its version: the
// versions in use, and what is served, stay as they are, and it is no reload of the
// workflows.
func TestReloadFollowsAWorkflowMoved(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "mvd", "a.hcl"), hookSrc("a"))
	writeFile(t, filepath.Join(dir, "b.hcl"), hookSrc("b"))
	r := serveReloading(t, dir, false)
	file := func(name string) string {
		got, _ := getJSON(t, "http://"+r.s.adminAddr+"/api/v1/workflows/"+name)["file"].(string)
		return got
	}
	if want := filepath.Join(dir, "mvd", "a.hcl") + ":1"; file("a") != want {
		t.Fatalf("a is at %q, want %q", file("a"), want)
	}
	versions := r.status(t)["versions"]

	must(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	must(t, os.Rename(filepath.Join(dir, "mvd", "a.hcl"), filepath.Join(dir, "sub", "a.hcl")))
	moved := filepath.Join(dir, "sub", "a.hcl")
	testutil.Eventually(t, 5*time.Second, "a is shown where it moved", func() bool { return file("a") == moved+":1" })

	writeFile(t, moved, "# Sign-ups from the web form.\n"+hookSrc("a"))
	testutil.Eventually(t, 5*time.Second, "a is shown below its comment", func() bool { return file("a") == moved+":2" })

	if st := r.status(t); !reflect.DeepEqual(st["versions"], versions) || st["ok"] != true {
		t.Errorf("status %v, want the versions %v", st, versions)
	}
	if r.hook(t, "a") != http.StatusAccepted || r.hook(t, "b") != http.StatusAccepted {
		t.Error("a moved workflow changed what is served")
	}
	if n := strings.Count(r.log(), "workflows reloaded"); n != 0 {
		t.Errorf("%d reloads logged for workflows moved", n)
	}
	if n := strings.Count(r.log(), "workflows moved in their files; their versions in use are unchanged"); n != 2 ||
		!strings.Contains(r.log(), "moved=a") {
		t.Errorf("%d moves logged, want 2 naming a", n)
	}
}

// A file of vars renamed, which the directory lists in another place among the
// others, changes no workflow's version: nothing is reloaded.
func TestReloadKeepsVersionsWhenAVarsFileIsRenamed(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a_vars.hcl"), "vars {\n  region = \"eu\"\n}\n")
	writeFile(t, filepath.Join(dir, "c_vars.hcl"), "vars {\n  team = \"ops\"\n}\n")
	writeFile(t, filepath.Join(dir, "hook.hcl"), `workflow "a" {
  trigger "webhook" {
    path = "/a"
  }
  step "set" "where" {
    region = vars.region
    team   = vars.team
  }
}
`)
	r := serveReloading(t, dir, true)
	versions := r.status(t)["versions"]
	must(t, os.Rename(filepath.Join(dir, "a_vars.hcl"), filepath.Join(dir, "d_vars.hcl")))
	resp, err := http.Post("http://"+r.s.adminAddr+"/api/v1/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if st := r.status(t); !reflect.DeepEqual(st["versions"], versions) || st["ok"] != true {
		t.Errorf("status %v, want the versions %v", st, versions)
	}
	if n := strings.Count(r.log(), "workflows reloaded"); n != 0 {
		t.Errorf("%d reloads logged for a vars file renamed:\n%s", n, r.log())
	}
}
