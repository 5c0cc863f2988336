package engine

import (
	"context"
	"testing"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

// olderVersionSrcs are files whose vars blocks builds before "workflows: a version
// hashes the vars and api blocks whatever files hold them" hashed in the order of the
// files' names: they gave the workflow version olderVersion.
var olderVersionSrcs = []workflows.Source{
	{Name: "a_vars.hcl", Data: []byte("vars {\n  region = \"eu\"\n}\n")},
	{Name: "c_vars.hcl", Data: []byte("vars {\n  team = \"ops\"\n}\n")},
	{Name: "flow.hcl", Data: []byte(`workflow "flow" {
  step "probe" "first" {
    value = "{{ vars.region }}"
  }
  step "probe" "second" {
    value = "{{ vars.team }} {{ run.version }}"
  }
}
`)},
}

const olderVersion = "c8a29f8ec3d35f6b"

// A run an older build started on such files goes on, in this build, with the
// version it started with, which its steps read and record: the version this build
// gives the same files is another, but the stored files are that version.
func TestStoredVersionOfAnOlderBuildKeepsItsName(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		rec := &recorder{}
		set, diags := workflows.Load(olderVersionSrcs, probeKinds(rec))
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		wf := set.Workflow("flow")
		if wf.Version == olderVersion {
			t.Fatal("this build gives the files the older version: nothing to test")
		}
		// The older build starts the run, and stores its files, under its version.
		older, _ := workflows.Load(olderVersionSrcs, probeKinds(rec))
		older.Workflow("flow").Version = olderVersion
		id, err := New(b.Client, Options{Logger: quiet}).Start(ctx, older.Workflow("flow"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}

		worker := New(b.Client, Options{Logger: quiet, Kinds: probeKinds(rec)})
		worker.Use(set)
		startPool(t, worker, 1)
		r := waitRun(t, worker, id)
		if r.Status != RunSucceeded || r.Version != olderVersion {
			t.Fatalf("run %+v", r.RunSummary)
		}
		for _, s := range r.Steps {
			if s.Version != olderVersion {
				t.Errorf("step %s ran with version %s, want the run's, %s", s.Name, s.Version, olderVersion)
			}
		}
		if got := r.Steps[1].Output.(map[string]any)["value"]; got != "ops "+olderVersion {
			t.Errorf("second gave %q, want run.version to be %s", got, olderVersion)
		}
	})
}
