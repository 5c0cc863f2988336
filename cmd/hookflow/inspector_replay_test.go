package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/hookflow/hookflow/engine"
)

// The button that replays a run on the current version replays it on the version it
// names: when the files changed after the page was read, the replay is refused,
// saying which version is in use now, and the run stays as it was; read again, the
// page offers that one.
func TestInspectorReplaysOnTheVersionItNames(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1" {
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer api.Close()
	t.Setenv("INSPECTOR_API", api.URL)
	const src = `
workflow "sync" {
  step "http" "push" {
    url = "${env("INSPECTOR_API")}/PATH"
  }
}
`
	s, admin := serveInspector(t, strings.Replace(src, "PATH", "v1", 1))
	status, started := postJSON(t, admin+"/api/v1/workflows/sync/runs", `{}`)
	if status != http.StatusAccepted {
		t.Fatalf("start answered %d %v", status, started)
	}
	id := started["run_id"].(string)
	waitEngineRun(t, s.engine, id, engine.RunFailed)
	edit := func(path string) string {
		t.Helper()
		writeFile(t, filepath.Join(s.config.dir, "w.hcl"), strings.Replace(src, "PATH", path, 1))
		if st := s.config.Reload("test"); !st.OK {
			t.Fatalf("reload: %s", st.Error)
		}
		return s.config.set.Load().Workflow("sync").Version
	}
	v2 := edit("v2")

	b := newBrowse(t)
	b.do("the failed run", chromedp.Navigate(admin+"/runs/"+id), chromedp.WaitVisible(chromedp.CSS("#replay-current")))
	if got := eval[string](b, "the button", `document.getElementById("replay-current").textContent`); got != "Replay on the current version ("+v2+")" {
		t.Fatalf("the button says %q", got)
	}
	v3 := edit("v3")
	b.do("replaying on the version the page shows", chromedp.Evaluate[chromedp.Void](acceptConfirms), chromedp.Click(chromedp.CSS("#replay-current")))
	b.until("the replay refused", `document.getElementById("action-result").textContent.startsWith("Refused: ")`)
	if got := eval[string](b, "the refusal", `document.getElementById("action-result").textContent`); !strings.Contains(got, v2) ||
		!strings.Contains(got, "the current version of workflow sync is now "+v3) {
		t.Errorf("the refusal says %q", got)
	}
	if run, err := s.engine.Run(context.Background(), id); err != nil || run.Status != engine.RunFailed || run.Replays != 0 {
		t.Fatalf("the refused replay changed the run: %+v, %v", run, err)
	}

	b.do("the run read again", chromedp.Navigate(admin+"/runs/"+id), chromedp.WaitVisible(chromedp.CSS("#replay-current")))
	if got := eval[string](b, "the button", `document.getElementById("replay-current").textContent`); got != "Replay on the current version ("+v3+")" {
		t.Fatalf("the button says %q", got)
	}
	b.do("replaying on it", chromedp.Evaluate[chromedp.Void](acceptConfirms), chromedp.Click(chromedp.CSS("#replay-current")))
	waitEngineRun(t, s.engine, id, engine.RunSucceeded)
	if run, _ := s.engine.Run(context.Background(), id); run.Version != v3 {
		t.Errorf("the run was replayed on %s, want %s", run.Version, v3)
	}
}

// The dead letters page's retry on the current version retries on the version it
// names, as the run's page's replay does: when the files changed after the page was
// read, the retry is refused, saying which version is in use now, and the run stays
// as it was; read again, the page offers that one.
func TestInspectorDeadLetterRetriesOnTheVersionItNames(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1" {
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer api.Close()
	t.Setenv("INSPECTOR_API", api.URL)
	const src = `
workflow "sync" {
  step "http" "push" {
    url = "${env("INSPECTOR_API")}/PATH"
  }
}
`
	s, admin := serveInspector(t, strings.Replace(src, "PATH", "v1", 1))
	status, started := postJSON(t, admin+"/api/v1/workflows/sync/runs", `{}`)
	if status != http.StatusAccepted {
		t.Fatalf("start answered %d %v", status, started)
	}
	id := started["run_id"].(string)
	waitEngineRun(t, s.engine, id, engine.RunFailed)
	edit := func(path string) string {
		t.Helper()
		writeFile(t, filepath.Join(s.config.dir, "w.hcl"), strings.Replace(src, "PATH", path, 1))
		if st := s.config.Reload("test"); !st.OK {
			t.Fatalf("reload: %s", st.Error)
		}
		return s.config.set.Load().Workflow("sync").Version
	}
	v2 := edit("v2")

	current := `#dead-letters button[data-post^="/api/v1/dlq/` + id + `:push/retry?version="]:not([data-post$="=pinned"])`
	b := newBrowse(t)
	b.do("the dead letter", chromedp.Navigate(admin+"/dlq"), chromedp.WaitVisible(chromedp.CSS(current)))
	if got := eval[string](b, "the button", `document.querySelector('`+current+`').textContent`); got != "On current version ("+v2+")" {
		t.Fatalf("the button says %q", got)
	}
	v3 := edit("v3")
	b.do("retrying on the version the page shows", chromedp.Evaluate[chromedp.Void](acceptConfirms), chromedp.Click(chromedp.CSS(current)))
	b.until("the retry refused", `document.getElementById("action-result").textContent.startsWith("Refused: ")`)
	if got := eval[string](b, "the refusal", `document.getElementById("action-result").textContent`); !strings.Contains(got, v2) ||
		!strings.Contains(got, "the current version of workflow sync is now "+v3) {
		t.Errorf("the refusal says %q", got)
	}
	if run, err := s.engine.Run(context.Background(), id); err != nil || run.Status != engine.RunFailed || run.Replays != 0 {
		t.Fatalf("the refused retry changed the run: %+v, %v", run, err)
	}

	b.do("the dead letter read again", chromedp.Navigate(admin+"/dlq"), chromedp.WaitVisible(chromedp.CSS(current)))
	if got := eval[string](b, "the button", `document.querySelector('`+current+`').textContent`); got != "On current version ("+v3+")" {
		t.Fatalf("the button says %q", got)
	}
	b.do("retrying on it", chromedp.Evaluate[chromedp.Void](acceptConfirms), chromedp.Click(chromedp.CSS(current)))
	waitEngineRun(t, s.engine, id, engine.RunSucceeded)
	if run, _ := s.engine.Run(context.Background(), id); run.Version != v3 {
		t.Errorf("the run was retried on %s, want %s", run.Version, v3)
	}
}
