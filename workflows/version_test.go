package workflows_test

import (
	"cmp"
	"slices"
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

// sharedSrcs are files of vars and api blocks beside a workflow that reads them.
var sharedSrcs = []workflows.Source{
	{Name: "a_vars.hcl", Data: []byte("vars {\n  region = \"eu\"\n}\n")},
	{Name: "b_apis.hcl", Data: []byte("api \"crm\" {\n  base_url = \"https://crm.example.com/api\"\n}\n\napi \"billing\" {\n  base_url = \"https://billing.example.com\"\n}\n")},
	{Name: "c_vars.hcl", Data: []byte("vars {\n  team = \"ops\"\n}\n")},
	{Name: "sync.hcl", Data: []byte("workflow \"sync\" {\n  step \"http\" \"find\" {\n    api = \"crm\"\n    url = \"/customers/${vars.region}/${vars.team}\"\n  }\n}\n")},
}

// renamed is srcs with the files renamed, in the order a directory lists them.
func renamed(srcs []workflows.Source, names map[string]string) []workflows.Source {
	out := slices.Clone(srcs)
	for i := range out {
		if n, ok := names[out[i].Name]; ok {
			out[i].Name = n
		}
	}
	slices.SortFunc(out, func(a, b workflows.Source) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// A version leaves out where the vars and api blocks are written: renaming their
// files, which lists them in another order, or moving blocks between files or within
// one keeps every workflow's version; changing a var does not.
func TestVersionLeavesOutWhereVarsAndAPIsAreWritten(t *testing.T) {
	version := func(srcs []workflows.Source) string {
		t.Helper()
		set, diags := workflows.Load(srcs, realKinds())
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		return set.Workflow("sync").Version
	}
	base := version(sharedSrcs)
	for _, tt := range []struct {
		name string
		srcs []workflows.Source
	}{
		{"a vars file renamed", renamed(sharedSrcs, map[string]string{"a_vars.hcl": "d_vars.hcl"})},
		{"the vars files' names swapped", renamed(sharedSrcs, map[string]string{"a_vars.hcl": "c_vars.hcl", "c_vars.hcl": "a_vars.hcl"})},
		{"the apis file renamed", renamed(sharedSrcs, map[string]string{"b_apis.hcl": "z_apis.hcl"})},
		{"the api blocks in another order", []workflows.Source{sharedSrcs[0],
			{Name: "b_apis.hcl", Data: []byte("api \"billing\" {\n  base_url = \"https://billing.example.com\"\n}\n\napi \"crm\" {\n  base_url = \"https://crm.example.com/api\"\n}\n")},
			sharedSrcs[2], sharedSrcs[3]}},
		{"a vars block moved to the workflow's file", []workflows.Source{sharedSrcs[1], sharedSrcs[2],
			{Name: "sync.hcl", Data: append(slices.Clone(sharedSrcs[0].Data), sharedSrcs[3].Data...)}}},
	} {
		if got := version(tt.srcs); got != base {
			t.Errorf("%s: version %s, want %s", tt.name, got, base)
		}
	}
	changed := slices.Clone(sharedSrcs)
	changed[2].Data = []byte("vars {\n  team = \"dev\"\n}\n")
	if version(changed) == base {
		t.Error("changing a var kept the version")
	}
}

// A workflow whose own file holds vars is stored with its own file first: loaded
// again from its sources, in that order, it has the version it had.
func TestVersionOfAWorkflowBesideItsVars(t *testing.T) {
	srcs := []workflows.Source{sharedSrcs[0], sharedSrcs[1],
		{Name: "sync.hcl", Data: append([]byte("vars {\n  team = \"ops\"\n}\n"), sharedSrcs[3].Data...)}}
	set, diags := workflows.Load(srcs, realKinds())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	wf := set.Workflow("sync")
	if wf.Sources[0].Name != "sync.hcl" {
		t.Fatalf("sources %v, want the workflow's own file first", wf.Sources)
	}
	again, diags := workflows.LoadWith(wf.Sources, realKinds(), workflows.Options{Stored: true})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if v := again.Workflow("sync").Version; v != wf.Version {
		t.Errorf("version %s loaded again from its sources, want %s", v, wf.Version)
	}
}

// A version loaded from its stored files says which version builds before
// "workflows: a version hashes the vars and api blocks whatever files hold them" gave
// them, where it differs: they hashed the blocks in the order of the files. Files
// that list them in the order a version hashes them now keep the version those builds
// gave them.
func TestOlderVersion(t *testing.T) {
	const version = "c8cceaf6f0aa0c36"
	for _, tt := range []struct {
		name  string
		srcs  []workflows.Source
		older string // as such a build gave it; "" when it is version
	}{
		{"blocks the files list out of their order", sharedSrcs, "6c8e7397eb969bc0"},
		{"blocks the files list in their order", renamed(sharedSrcs, map[string]string{"a_vars.hcl": "c_vars.hcl", "c_vars.hcl": "a_vars.hcl"}), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			set, diags := workflows.LoadWith(tt.srcs, realKinds(), workflows.Options{Stored: true})
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			if wf := set.Workflow("sync"); wf.Version != version || wf.OlderVersion != tt.older {
				t.Errorf("version %s, older %q; want %s, older %q", wf.Version, wf.OlderVersion, version, tt.older)
			}
			set, _ = workflows.Load(tt.srcs, realKinds())
			if wf := set.Workflow("sync"); wf.OlderVersion != "" {
				t.Errorf("files in use have an older version, %s", wf.OlderVersion)
			}
		})
	}
}
