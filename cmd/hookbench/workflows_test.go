package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/triggers"
	"github.com/hookflow/hookflow/workflows"
)

// TestWorkflowsLoad loads the benchmark workflows with every real kind, as
// hookflow serve would, and checks each is there, loads without a warning, serves the
// path hookbench's help names with its number of steps, and is formatted.
func TestWorkflowsLoad(t *testing.T) {
	t.Setenv("HOOKBENCH_SINK", "http://127.0.0.1:9999")
	k := workflows.NewKinds()
	actions.Register(k, actions.Options{})
	triggers.Register(k)
	srcs, diags := workflows.ReadDir("workflows")
	var set *workflows.Set
	if !diags.HasErrors() {
		set, diags = workflows.Load(srcs, k)
	}
	if len(diags) > 0 {
		var out strings.Builder
		_ = workflows.WriteDiagnostics(&out, srcs, diags)
		t.Fatalf("the workflows do not load cleanly:\n%s", out.String())
	}
	type shape struct {
		path  string
		steps int
	}
	got := map[string]shape{}
	for _, wf := range set.Workflows() {
		for _, tr := range wf.Triggers {
			if h, ok := tr.Config.(*triggers.Webhook); ok {
				got[wf.Name] = shape{h.Path, len(wf.Steps)}
			}
		}
	}
	want := map[string]shape{
		"bench_relay":    {"/bench/relay", 1},
		"bench_steps3":   {"/bench/steps3", 3},
		"bench_filtered": {"/bench/filtered", 0},
	}
	if len(got) != len(want) {
		t.Errorf("webhooks %v, want %v", got, want)
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("workflow %s: %+v, want %+v", name, got[name], w)
		}
	}
	for _, src := range srcs {
		if out, _ := workflows.Format(src.Data, src.Name); !bytes.Equal(out, src.Data) {
			t.Errorf("%s is not formatted; run hookflow fmt", src.Name)
		}
	}
}
