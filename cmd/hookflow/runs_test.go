package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

const opsSrc = `
vars {
  api = env("OPS_API_URL")
}

workflow "sync_customer" {
  trigger "webhook" {
    path = "/customers"
  }

  step "http" "lookup" {
    url = "${vars.api}/customers/{{ event.body.id }}"
  }

  step "http" "update" {
    method = "PATCH"
    url    = "${vars.api}/customers/{{ steps.lookup.body.id }}"
    json   = { seen = true }
  }
}

workflow "nightly" {
  trigger "schedule" {
    cron     = "0 3 * * *"
    timezone = "Europe/Paris"
  }
}
`

// The commands that reach a running hookflow's admin API: runs, dlq, workflows.
func TestAdminCommands(t *testing.T) {
	api := newLocalAPI(t)
	t.Setenv("OPS_API_URL", api.URL)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ops.hcl"), opsSrc)
	s := serveDir(t, dir, "", "127.0.0.1:0")
	hookflow := func(stdin string, args ...string) (string, string, error) {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append(args, "--admin", s.adminAddr), strings.NewReader(stdin), &stdout, &stderr)
		return stdout.String(), stderr.String(), err
	}

	_, ok := postJSON(t, "http://"+s.publicAddr+"/hooks/customers", `{"id": "c1"}`)
	good := waitRun(t, ok["status_url"].(string))["id"].(string)
	api.mu.Lock()
	api.fail = true
	api.mu.Unlock()
	_, bad := postJSON(t, "http://"+s.publicAddr+"/hooks/customers", `{"id": "c2"}`)
	failed := waitRun(t, bad["status_url"].(string))["id"].(string)

	out, errs, err := hookflow("", "runs", "list")
	if err != nil {
		t.Fatalf("runs list: %v %s", err, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") || !strings.HasPrefix(lines[1], failed) || !strings.HasPrefix(lines[2], good) ||
		!strings.Contains(lines[1], "failed") || !strings.Contains(lines[1], "status 422") || !strings.Contains(lines[2], "succeeded") {
		t.Errorf("runs list:\n%s", out)
	}
	out, _, _ = hookflow("", "runs", "list", "--status", "failed", "--limit", "1")
	if !strings.Contains(out, failed) || strings.Contains(out, good) {
		t.Errorf("runs list --status failed:\n%s", out)
	}
	out, _, _ = hookflow("", "runs", "list", "--limit", "1", "--workflow", "sync_customer")
	more := "more: hookflow runs list --admin " + s.adminAddr + " --limit 1 --workflow sync_customer --cursor "
	if !strings.Contains(out, more) {
		t.Errorf("a first page of one should say how to get the next, %q:\n%s", more, out)
	}
	next := strings.Fields(out[strings.Index(out, "more: ")+len("more: "):])
	var stdout bytes.Buffer
	if err := run(context.Background(), next[1:], nil, &stdout, io.Discard); err != nil || !strings.Contains(stdout.String(), good) {
		t.Errorf("the next page, %q: %v\n%s", next, err, stdout.String())
	}
	if _, errs, err = hookflow("", "runs", "list", "--status", "lost"); err == nil || !strings.Contains(err.Error(), "use one of queued") {
		t.Errorf("a bad status: %v %s", err, errs)
	}

	out, _, err = hookflow("", "runs", "show", failed)
	for _, want := range []string{"run " + failed + " of sync_customer", "webhook POST /customers", `"id": "c2"`,
		"1. lookup (http) succeeded", "2. update (http) failed", "status 422", "run failed",
		"dead letter " + failed + ":update: replay it with: hookflow runs replay " + failed} {
		if !strings.Contains(out, want) {
			t.Errorf("runs show lacks %q (%v):\n%s", want, err, out)
		}
	}
	out, _, err = hookflow("", "runs", "show", "--json", good)
	var detail struct {
		Status string `json:"status"`
		Steps  []struct {
			Status string `json:"status"`
		} `json:"steps"`
	}
	if err != nil || json.Unmarshal([]byte(out), &detail) != nil || detail.Status != "succeeded" || len(detail.Steps) != 2 {
		t.Errorf("runs show --json: %v %s", err, out)
	}
	if _, _, err = hookflow("", "runs", "show", "nope"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("an unknown run: %v", err)
	}
	if _, _, err = hookflow("", "runs", "replay", good); err == nil || !strings.Contains(err.Error(), "(409)") {
		t.Errorf("replaying a run that succeeded: %v", err)
	}

	out, _, err = hookflow("", "dlq", "list")
	if err != nil || !strings.Contains(out, failed+":update") || !strings.Contains(out, "sync_customer") {
		t.Errorf("dlq list: %v\n%s", err, out)
	}
	api.mu.Lock()
	api.fail = false
	api.mu.Unlock()
	out, _, err = hookflow("", "dlq", "retry", failed+":update")
	if err != nil || !strings.Contains(out, "run "+failed+" queued again") {
		t.Errorf("dlq retry: %v %s", err, out)
	}
	if run := waitRun(t, "http://"+s.adminAddr+"/api/v1/runs/"+failed); run["status"] != "succeeded" {
		t.Errorf("the retried run %v", run)
	}
	if out, _, _ = hookflow("", "dlq", "list"); !strings.Contains(out, "(no dead letters)") {
		t.Errorf("dlq list after the retry:\n%s", out)
	}

	out, _, err = hookflow(`{"id": "c9"}`, "runs", "start", "sync_customer", "--event", "-")
	if err != nil || !strings.Contains(out, "queued; follow it with: hookflow runs show ") {
		t.Fatalf("runs start: %v %s", err, out)
	}
	started := strings.Fields(out)[1]
	if run := waitRun(t, "http://"+s.adminAddr+"/api/v1/runs/"+started); run["status"] != "succeeded" {
		t.Errorf("the started run %v", run)
	}

	out, _, err = hookflow("", "workflows")
	if err != nil || !strings.Contains(out, "POST /hooks/customers") || !strings.Contains(out, "cron 0 3 * * * Europe/Paris") ||
		!strings.Contains(out, "ops.hcl:6") {
		t.Errorf("workflows: %v\n%s", err, out)
	}
}
