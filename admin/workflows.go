package admin

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/httpjson"
	"github.com/hookflow/hookflow/workflows"
)

// Workflows gives the set of workflows in use now.
type Workflows func() *workflows.Set

// summarizer is a trigger's configuration that describes itself.
type summarizer interface{ Summary() map[string]any }

// stateful is a trigger's configuration with state kept in Redis under a key, such
// as how a poll trigger's polls went.
type stateful interface{ StateKey() string }

// TriggerStates reads the state of stateful triggers: the workflow list shows it
// when the Runs given are one.
type TriggerStates interface {
	TriggerState(ctx context.Context, wf *workflows.Workflow, key string) (any, error)
}

func (a *api) withStates(ctx context.Context, wf *workflows.Workflow, info workflowInfo) workflowInfo {
	return withStates(ctx, a.runs, wf, info)
}

// withStates adds to info the state of each stateful trigger of wf, as runs reads it
// (when it is a TriggerStates), as "state"; a state that cannot be read is
// "state_error".
func withStates(ctx context.Context, runs Runs, wf *workflows.Workflow, info workflowInfo) workflowInfo {
	ts, ok := runs.(TriggerStates)
	if !ok {
		return info
	}
	for i, t := range wf.Triggers {
		s, ok := t.Config.(stateful)
		if !ok {
			continue
		}
		st, err := ts.TriggerState(ctx, wf, s.StateKey())
		switch {
		case err != nil:
			info.Triggers[i]["state_error"] = err.Error()
		case st != nil:
			info.Triggers[i]["state"] = st
		}
	}
	return info
}

// failingTriggers lists the stateful triggers of the workflows in use whose last
// attempt failed (a poll whose API fails), for GET /api/v1/status.
func (a *api) failingTriggers(ctx context.Context) []map[string]any {
	out := []map[string]any{}
	for _, wf := range a.workflows().Workflows() {
		info := a.withStates(ctx, wf, describe(wf))
		for _, t := range info.Triggers {
			st, _ := t["state"].(*engine.PollStatus)
			if st == nil || st.Failures == 0 {
				continue
			}
			f := map[string]any{"workflow": wf.Name, "kind": t["kind"], "text": t["text"],
				"failures": st.Failures, "last_error": st.LastError, "last_error_at": st.LastErrorAt}
			if st.NotBefore != nil {
				f["not_before"] = st.NotBefore // its API asked it to wait (Retry-After)
			}
			out = append(out, f)
		}
	}
	return out
}

// workflowInfo is a workflow as GET /api/v1/workflows shows it.
type workflowInfo struct {
	Name        string           `json:"name"`
	Description string           `json:"description,omitempty"`
	Version     string           `json:"version"`
	File        string           `json:"file"` // file:line of its block
	Filter      string           `json:"filter,omitempty"`
	Concurrency int              `json:"concurrency,omitempty"`
	Timeout     string           `json:"timeout,omitempty"` // the deadline of a whole run, as a file writes it ("1h")
	Triggers    []map[string]any `json:"triggers"`
	Steps       []stepInfo       `json:"steps"`
	// OnFailure are the steps of its on_failure block, each named on_failure/NAME.
	OnFailure []stepInfo `json:"on_failure,omitempty"`
}

type stepInfo struct {
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	If          string `json:"if,omitempty"`
	ForEach     string `json:"for_each,omitempty"`
	MaxParallel int    `json:"max_parallel,omitempty"` // with for_each
	Parallel    string `json:"parallel,omitempty"`     // the parallel block holding the step
}

func describe(wf *workflows.Workflow) workflowInfo {
	info := workflowInfo{Name: wf.Name, Description: wf.Description, Version: wf.Version,
		File:        fmt.Sprintf("%s:%d", wf.DefRange.Filename, wf.DefRange.Start.Line),
		Concurrency: wf.Concurrency, Triggers: []map[string]any{}, Steps: []stepInfo{}}
	// A secret may be written into a path ("/in/${secret("TOKEN")}") or a condition.
	hide := wf.Secrets.String
	if wf.Filter != nil {
		info.Filter = hide(wf.Filter.Source)
	}
	for _, t := range wf.Triggers {
		d := map[string]any{}
		if s, ok := t.Config.(summarizer); ok {
			d, _ = wf.Secrets.Value(s.Summary()).(map[string]any)
		}
		d["kind"] = t.Kind
		info.Triggers = append(info.Triggers, d)
	}
	if wf.Timeout > 0 {
		info.Timeout = workflows.FormatDuration(wf.Timeout) // as a file writes it: "2h"
	}
	step := func(s *workflows.Step) stepInfo {
		st := stepInfo{Name: s.Name, Kind: s.Kind, Parallel: s.Parallel}
		if s.If != nil {
			st.If = hide(s.If.Source)
		}
		if s.ForEach != nil {
			st.ForEach, st.MaxParallel = hide(s.ForEach.Source), s.MaxParallel
		}
		return st
	}
	for _, s := range wf.Steps {
		info.Steps = append(info.Steps, step(s))
	}
	for _, s := range wf.OnFailure {
		info.OnFailure = append(info.OnFailure, step(s))
	}
	return info
}

// listWorkflows answers GET /api/v1/workflows: the workflows in use, by name.
func (a *api) listWorkflows(w http.ResponseWriter, r *http.Request) {
	wfs := a.workflows().Workflows()
	out := make([]workflowInfo, len(wfs))
	for i, wf := range wfs {
		out[i] = a.withStates(r.Context(), wf, describe(wf))
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"workflows": out})
}

// workflow answers GET /api/v1/workflows/{name}.
func (a *api) workflow(w http.ResponseWriter, r *http.Request) {
	wf := a.workflows().Workflow(r.PathValue("name"))
	if wf == nil {
		httpjson.Error(w, http.StatusNotFound, "no workflow "+r.PathValue("name"))
		return
	}
	httpjson.Write(w, http.StatusOK, a.withStates(r.Context(), wf, describe(wf)))
}
