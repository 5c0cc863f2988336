package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

const approveSrc = `
workflow "approve" {
  trigger "webhook" {
    path = "/approve"
  }
  step "set" "ask" {
    url = "{{ resume_url('approval') }}"
  }
  step "wait" "approval" {
    timeout = "1h"
  }
  step "set" "done" {
    approved = "{{ steps.approval.body.approved }}"
  }
}
`

// A run waiting at a wait step survives a kill -9 of hookflow and a restart of Redis
// (AOF): another hookflow process on the same Redis serves the resume URL the first
// one gave, and the run goes on.
func TestWaitSurvivesKillAndRedisRestart(t *testing.T) {
	b := redistest.Durable(t)
	dir := writeWorkflow(t, "approve.hcl", approveSrc)
	p := startProc(t, dir, b.URL, "")
	resp, err := http.Post("http://"+p.public+"/hooks/approve", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var runs struct {
		Runs []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"runs"`
	}
	testutil.Eventually(t, 20*time.Second, "the run waits", func() bool {
		p.getJSON(t, "/api/v1/runs?workflow=approve", &runs)
		return len(runs.Runs) == 1 && runs.Runs[0].Status == "waiting"
	})
	id := runs.Runs[0].ID
	var run struct {
		Status string `json:"status"`
		Steps  []struct {
			Output map[string]any `json:"output"`
		} `json:"steps"`
	}
	p.getJSON(t, "/api/v1/runs/"+id, &run)
	link, err := url.Parse(run.Steps[0].Output["url"].(string))
	if err != nil || !strings.HasPrefix(link.Path, "/resume/") {
		t.Fatalf("resume URL %v: %v", run.Steps[0].Output["url"], err)
	}

	p.kill()
	b.Restart()
	p2 := startProc(t, dir, b.URL, "")
	if p2.getJSON(t, "/api/v1/runs/"+id, &run); run.Status != "waiting" {
		t.Fatalf("after the restarts the run is %s", run.Status)
	}
	resp, err = http.Post("http://"+p2.public+link.Path, "application/json", strings.NewReader(`{"approved": true}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("resume after the restarts: %d", resp.StatusCode)
	}
	testutil.Eventually(t, 20*time.Second, "the run succeeds", func() bool {
		p2.getJSON(t, "/api/v1/runs/"+id, &run)
		return run.Status == "succeeded"
	})
	if run.Steps[2].Output["approved"] != true {
		t.Errorf("done saw %v", run.Steps[2].Output)
	}
}
