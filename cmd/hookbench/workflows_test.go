package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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
		"bench_github":   {"/bench/github", 0},
		"bench_hold":     {"/bench/hold", 1},
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

// acceptAll stands in for the engine: every run starts.
type acceptAll struct{ started atomic.Int64 }

func (a *acceptAll) Start(context.Context, *workflows.Workflow, *workflows.Event) (string, error) {
	a.started.Add(1)
	return "run", nil
}

func (a *acceptAll) StartOnce(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event, _ string, _ time.Duration) (string, bool, error) {
	id, err := a.Start(ctx, wf, ev)
	return id, true, err
}

func (a *acceptAll) StartFailed(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event, _ string) (string, error) {
	return a.Start(ctx, wf, ev)
}

func (a *acceptAll) Await(context.Context, *workflows.Workflow, string) (*workflows.Reply, error) {
	return nil, context.DeadlineExceeded
}

// TestGitHubSigning: what --github-secret sends passes bench/github's verification,
// and a wrong secret does not.
func TestGitHubSigning(t *testing.T) {
	k := workflows.NewKinds()
	actions.Register(k, actions.Options{})
	triggers.Register(k)
	srcs, _ := workflows.ReadDir("workflows")
	set, diags := workflows.Load(srcs, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	starter := &acceptAll{}
	hooks := triggers.NewWebhooks(starter, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	hooks.Use(set)
	srv := httptest.NewServer(hooks)
	defer srv.Close()
	for secret, want := range map[string]int{"hookbench-github-secret": 202, "another-secret": 401} {
		g := newGenerator(genConfig{target: srv.URL + "/hooks/bench/github", conns: 1, timeout: 5 * time.Second, githubSecret: secret})
		now := time.Now()
		g.send(plan{start: now, windowStart: now.Add(-time.Hour), windowEnd: now.Add(time.Hour)}, 1, now)
		if got := g.Status(want); got != 1 {
			t.Errorf("secret %q: no %d answer", secret, want)
		}
	}
	if n := starter.started.Load(); n != 1 {
		t.Errorf("%d runs started, want 1", n)
	}
}

// TestAcceptGzip: --accept-gzip asks for compressed answers, and only with it.
func TestAcceptGzip(t *testing.T) {
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.Header.Get("Accept-Encoding"))
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	for _, gzip := range []bool{false, true} {
		g := newGenerator(genConfig{target: srv.URL, conns: 1, timeout: 5 * time.Second, acceptGzip: gzip})
		now := time.Now()
		g.send(plan{start: now, windowStart: now.Add(-time.Hour), windowEnd: now.Add(time.Hour)}, 1, now)
	}
	if len(asked) != 2 || asked[0] != "" || asked[1] != "gzip" {
		t.Errorf("Accept-Encoding sent: %q, want none and then gzip", asked)
	}
}
