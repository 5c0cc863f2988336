package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
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
  trigger "schedule" {
    every    = "1d"
    timezone = "Asia/Tokyo"
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
	out, _, _ = hookflow("", "dlq", "list", "--limit", "1")
	if !strings.Contains(out, failed+":update") || strings.Contains(out, "more: ") {
		t.Errorf("a page of one holding the only dead letter is the last: it offers no next page:\n%s", out)
	}
	out, _, err = hookflow("", "dlq", "list", "--run", failed)
	if err != nil || !strings.Contains(out, failed+":update") {
		t.Errorf("dlq list --run of the failed run: %v\n%s", err, out)
	}
	out, _, err = hookflow("", "dlq", "list", "--run", good)
	if err != nil || !strings.Contains(out, "(no dead letters of run "+good+")") || strings.Contains(out, failed) {
		t.Errorf("dlq list --run of a run that succeeded: %v\n%s", err, out)
	}
	// From the environment, with a page's size set there too: the run's, all of them.
	t.Setenv("HOOKFLOW_DLQ_LIST_RUN", good)
	t.Setenv("HOOKFLOW_DLQ_LIST_LIMIT", "20")
	out, _, err = hookflow("", "dlq", "list")
	if err != nil || !strings.Contains(out, "(no dead letters of run "+good+")") || strings.Contains(out, failed) {
		t.Errorf("dlq list with HOOKFLOW_DLQ_LIST_RUN of a run that succeeded: %v\n%s", err, out)
	}
	t.Setenv("HOOKFLOW_DLQ_LIST_RUN", "")
	t.Setenv("HOOKFLOW_DLQ_LIST_LIMIT", "")
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
	_, _, err = hookflow("", "runs", "start", "sync_custmer")
	if err == nil || err.Error() != `no workflow sync_custmer (404); did you mean "sync_customer"?` || exitStatus(err, io.Discard) != 1 {
		t.Errorf("runs start of a misspelled workflow: %v", err)
	}
	if _, _, err = hookflow("", "runs", "start", "zzz"); err == nil || !strings.HasSuffix(err.Error(), "(404); there are: nightly, sync_customer") {
		t.Errorf("runs start of an unknown workflow: %v", err)
	}
	// Listing the runs of a workflow not in use says so, with the one meant.
	if out, _, err := hookflow("", "runs", "list", "--workflow", "sync_custmer"); err != nil ||
		!strings.Contains(out, `(no runs; no workflow "sync_custmer" is in use: did you mean "sync_customer"?)`) {
		t.Errorf("runs list of a misspelled workflow: %v\n%s", err, out)
	}
	if out, _, err := hookflow("", "runs", "list", "--workflow", "nightly"); err != nil || !strings.Contains(out, "(no runs)\n") {
		t.Errorf("runs list of a workflow in use with no runs: %v\n%s", err, out)
	}
	if run := waitRun(t, "http://"+s.adminAddr+"/api/v1/runs/"+started); run["status"] != "succeeded" {
		t.Errorf("the started run %v", run)
	}

	out, _, err = hookflow("", "workflows")
	if err != nil || !strings.Contains(out, "POST /hooks/customers") || !strings.Contains(out, "cron 0 3 * * * Europe/Paris") ||
		!strings.Contains(out, "ops.hcl:6") {
		t.Errorf("workflows: %v\n%s", err, out)
	}
	// The schedule's next tick, 03:00 in Paris, in Paris's time with its offset.
	paris, _ := time.LoadLocation("Europe/Paris")
	now := time.Now().In(paris)
	tick := time.Date(now.Year(), now.Month(), now.Day(), 3, 0, 0, 0, paris)
	if !tick.After(now) {
		tick = time.Date(now.Year(), now.Month(), now.Day()+1, 3, 0, 0, 0, paris)
	}
	if want := "(next " + tick.Format(time.DateTime+" -07:00") + ")"; !strings.Contains(out, want) {
		t.Errorf("workflows: want the schedule's next tick %s\n%s", want, out)
	}
	// An interval's next tick, midnight UTC, in its timezone too.
	if !regexp.MustCompile(`every 1d \(next \d{4}-\d\d-\d\d 09:00:00 \+09:00\)`).MatchString(out) {
		t.Errorf("workflows: want the interval's next tick at 09:00:00 +09:00 in Tokyo\n%s", out)
	}
}

// syncV1 has a bug: update calls /custmers, which the API answers 404.
const syncV1 = `
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
    url    = "${vars.api}/custmers/{{ event.body.id }}/with/a/long/path/for/the/table"
    json   = { seen = true }
  }
}
`

// A run that failed on a bug of its workflow is replayed with the fixed file by
// runs replay --current and dlq retry --current; a plain replay runs the bug again and
// says so.
func TestReplayCurrentCommands(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/custmers/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok": true}`)
	}))
	t.Cleanup(api.Close)
	t.Setenv("OPS_API_URL", api.URL)
	dir := t.TempDir()
	file := filepath.Join(dir, "ops.hcl")
	writeFile(t, file, syncV1)
	s := serveDir(t, dir, "", "127.0.0.1:0")
	hookflow := func(args ...string) (string, error) {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append(args, "--admin", s.adminAddr), nil, &stdout, &stderr)
		return stdout.String() + stderr.String(), err
	}
	reload := func(src string) {
		t.Helper()
		writeFile(t, file, src)
		if code, out := postJSON(t, "http://"+s.adminAddr+"/api/v1/reload", ""); code != http.StatusOK {
			t.Fatalf("reload: %d %v", code, out)
		}
	}
	var runs []string
	for _, id := range []string{"c1", "c2", "c3"} {
		_, out := postJSON(t, "http://"+s.publicAddr+"/hooks/customers", `{"id": "`+id+`"}`)
		if run := waitRun(t, out["status_url"].(string)); run["status"] != "failed" {
			t.Fatalf("run %v", run)
		}
		runs = append(runs, out["run_id"].(string))
	}
	runURL := func(id string) string { return "http://" + s.adminAddr + "/api/v1/runs/" + id }

	// The table keeps the end of the error, where its cause is.
	out, err := hookflow("runs", "list")
	if err != nil || !strings.Contains(out, "status 404 Not Found, expected 2xx") {
		t.Errorf("runs list should keep the cause of the error: %v\n%s", err, out)
	}

	fixed := strings.Replace(syncV1, "/custmers/", "/customers/", 1)
	reload(fixed)
	out, _ = hookflow("runs", "show", runs[0])
	if !strings.Contains(out, "the workflow changed since this run started") ||
		!strings.Contains(out, "hookflow runs replay --current "+runs[0]) {
		t.Errorf("runs show of a run whose workflow changed since:\n%s", out)
	}

	// Replayed with its own version, the bug runs again.
	out, err = hookflow("runs", "replay", runs[0])
	if err != nil || !strings.Contains(out, "queued again from update") || !strings.Contains(out, "replay with --current") {
		t.Errorf("runs replay: %v\n%s", err, out)
	}
	if run := waitRun(t, runURL(runs[0])); run["status"] != "failed" {
		t.Fatalf("the pinned replay %v", run)
	}

	out, err = hookflow("runs", "replay", "--current", runs[0])
	if err != nil || !strings.Contains(out, "queued again from update") || strings.Contains(out, "--current") {
		t.Errorf("runs replay --current: %v\n%s", err, out)
	}
	run := waitRun(t, runURL(runs[0]))
	if run["status"] != "succeeded" || run["started_version"] == nil || run["started_version"] == run["version"] {
		t.Fatalf("the replay on the current version %v", run)
	}
	steps := run["steps"].([]any)
	v1, v2 := run["started_version"], run["version"]
	if len(steps) != 2 || steps[0].(map[string]any)["version"] != v1 || steps[1].(map[string]any)["version"] != v2 {
		t.Errorf("steps %v, want lookup with %s and update with %s", steps, v1, v2)
	}
	out, _ = hookflow("runs", "show", runs[0])
	for _, want := range []string{fmt.Sprintf("version %s (started with version %s)", v2, v1),
		"1. lookup (http) succeeded in", fmt.Sprintf("with version %s", v1), "2. update (http) succeeded"} {
		if !strings.Contains(out, want) {
			t.Errorf("runs show lacks %q:\n%s", want, out)
		}
	}

	out, err = hookflow("dlq", "retry", "--current", runs[1]+":update")
	if err != nil || !strings.Contains(out, "run "+runs[1]+" queued again") {
		t.Errorf("dlq retry --current: %v\n%s", err, out)
	}
	if run := waitRun(t, runURL(runs[1])); run["status"] != "succeeded" {
		t.Errorf("the dead letter retried on the current version %v", run)
	}

	// Without the failed step in the version in use, the replay is refused.
	reload(strings.Replace(fixed, `step "http" "update"`, `step "http" "patch"`, 1))
	if out, err = hookflow("runs", "replay", "--current", runs[2]); err == nil ||
		!strings.Contains(err.Error(), "(409)") || !strings.Contains(err.Error(), "step update") {
		t.Errorf("runs replay --current without the failed step: %v\n%s", err, out)
	}
}

func TestErrorLine(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"short", "step a: boom", "step a: boom"},
		{"lines joined", "step a:\n  boom", "step a: boom"},
		{"an expression's source left out", "filter: int(event.body.x): invalid operation: int(string) (1:1)\n | int(event.body.x)\n | ^",
			"filter: int(e…invalid operation: int(string) (1:1)"},
		{"the cause kept", "step update: PATCH https://api.example.com/…: status 404 Not Found, expected 2xx",
			"step update: PA…status 404 Not Found, expected 2xx"},
		{"no separator", strings.Repeat("a", 30) + strings.Repeat("b", 40), strings.Repeat("a", 16) + "…" + strings.Repeat("b", 33)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := errorLine(tt.in, 50); got != tt.want {
				t.Errorf("errorLine(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if n := len([]rune(errorLine(tt.in, 50))); n > 50 {
				t.Errorf("%d characters, more than 50", n)
			}
		})
	}
}

// hookflow runs cancel ends a run that waits; a second cancel is refused with the
// API's 409.
func TestRunsCancelCommand(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "later.hcl"), `
workflow "later" {
  trigger "webhook" {
    path = "/later"
  }
  step "delay" "wait" {
    duration = "1h"
  }
  step "log" "after" {
    message = "waited"
  }
}
`)
	s := serveDir(t, dir, "", "127.0.0.1:0")
	hookflow := func(args ...string) (string, error) {
		var stdout bytes.Buffer
		err := run(context.Background(), append(args, "--admin", s.adminAddr), nil, &stdout, io.Discard)
		return stdout.String(), err
	}
	_, started := postJSON(t, "http://"+s.publicAddr+"/hooks/later", `{}`)
	id := started["run_id"].(string)
	out, err := hookflow("runs", "cancel", id)
	if err != nil || !strings.HasPrefix(out, "run "+id+" cancelled (it was ") {
		t.Fatalf("runs cancel: %v\n%s", err, out)
	}
	out, err = hookflow("runs", "show", id)
	if err != nil || !strings.Contains(out, "2. after (log) cancelled") || !strings.Contains(out, "run cancelled") {
		t.Errorf("runs show: %v\n%s", err, out)
	}
	if _, err := hookflow("runs", "cancel", id); err == nil || !strings.Contains(err.Error(), "(409)") {
		t.Errorf("cancelling it again: %v", err)
	}
}

// The commands of the admin API refuse an answer that is not the admin API's: another
// server's JSON, hookflow's own webhook listener, a page of the run inspector; and
// show no page of HTML.
func TestAdminCommandsKnowTheAdminAPI(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"runs": [], "status": "ok"}`)
	}))
	defer other.Close()
	s := serveDir(t, writeFiles(t, t.TempDir(), map[string]string{"w.hcl": `workflow "w" {}` + "\n"}), "", "127.0.0.1:0")
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, "<html><body>502 Bad Gateway</body></html>")
	}))
	defer proxy.Close()
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		says  string
		never string
	}{
		{"another server's JSON", []string{"runs", "list", "--admin", other.Listener.Addr().String()}, exitFailed,
			"http://" + other.Listener.Addr().String() + " is not hookflow's admin API (it answered 200: {\"runs\": [], \"status\": \"ok\"}); is it the webhook listener (--listen)?", "(no runs)"},
		{"another server's JSON, a run", []string{"runs", "show", "x", "--admin", other.Listener.Addr().String()}, exitFailed,
			"is not hookflow's admin API", "run x"},
		{"the webhook listener", []string{"status", "--admin", s.publicAddr}, exitFailed,
			"http://" + s.publicAddr + " is not hookflow's admin API (it answered 404: 404 page not found); is it the webhook listener (--listen)? the admin API is at serve's --admin, 127.0.0.1:8081 by default", ""},
		{"a path the inspector has", []string{"workflows", "--admin", "http://" + s.adminAddr + "/somewhere"}, exitFailed,
			"is not hookflow's admin API (it answered 404: an HTML page)", "<"},
		{"a proxy whose upstream is down", []string{"runs", "list", "--admin", proxy.URL}, exitNoReach,
			"cannot reach the admin API at " + proxy.URL + ": it answered 502: an HTML page", "<"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, nil, &stdout, &stderr)
			code := exitStatus(err, &stderr)
			out := stdout.String() + stderr.String()
			if code != tc.code || !strings.Contains(out, tc.says) || (tc.never != "" && strings.Contains(out, tc.never)) {
				t.Errorf("exit %d, want %d saying %q:\n%s", code, tc.code, tc.says, out)
			}
		})
	}
	// hookflow's own admin API is taken, whatever it answers.
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"runs", "list", "--admin", s.adminAddr}, nil, &stdout, io.Discard); err != nil || !strings.Contains(stdout.String(), "(no runs)") {
		t.Errorf("runs list: %v\n%s", err, stdout.String())
	}
}

// A page that a status filter left empty, with older runs still to read, says so
// rather than "(no runs)": the runs asked for may be older.
func TestRunsListEmptyPageWithMore(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Hookflow-Admin", "v1")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"runs": [], "next": "c1"}`)
	}))
	t.Cleanup(api.Close)
	var stdout bytes.Buffer
	err := run(context.Background(), []string{"runs", "list", "--admin", api.Listener.Addr().String(), "--status", "waiting"}, nil, &stdout, io.Discard)
	out := stdout.String()
	if err != nil || strings.Contains(out, "(no runs)") || !strings.Contains(out, "older runs may match") ||
		!strings.Contains(out, "more: hookflow runs list") {
		t.Errorf("runs list: %v\n%s", err, out)
	}
}

// runs show prints a whole number past 2^53 as the API gave it, not rounded: an id
// or an amount in cents.
func TestRunsShowKeepsLargeNumbers(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Hookflow-Admin", "v1")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id": "r1", "workflow": "w", "status": "succeeded", "created_at": "2026-12-04T10:00:00Z",
			"event": {"id": "e1", "trigger": "manual", "received_at": "2026-12-04T10:00:00Z", "body": {"big": 4183719187810076931}},
			"steps": [{"name": "a", "kind": "http", "status": "succeeded", "attempts": 1, "output": {"id": 9007199254740993}}]}`)
	}))
	t.Cleanup(api.Close)
	var stdout bytes.Buffer
	err := run(context.Background(), []string{"runs", "show", "--admin", api.Listener.Addr().String(), "r1"}, nil, &stdout, io.Discard)
	out := stdout.String()
	if err != nil || !strings.Contains(out, "4183719187810076931") || !strings.Contains(out, "9007199254740993") {
		t.Errorf("runs show: %v\n%s", err, out)
	}
}

// runs show prints an attempt whose worker stopped while it ran as lost, with why, on
// the line before the attempt after it.
func TestRunsShowALostAttempt(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Hookflow-Admin", "v1")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id": "r1", "workflow": "w", "status": "succeeded", "created_at": "2026-12-04T10:00:00Z",
			"event": {"id": "e1", "trigger": "manual", "received_at": "2026-12-04T10:00:00Z", "body": {}},
			"steps": [{"name": "charge", "kind": "http", "status": "succeeded", "attempts": 2, "requests": [
				{"attempt": 1, "method": "", "url": "", "duration_ms": 0, "lost": true,
				 "error": "its worker stopped while it ran (killed, or out of reach of Redis past its lease); the request may have been sent"},
				{"attempt": 2, "method": "POST", "url": "https://api.example.com/charges", "status": 201, "duration_ms": 38}]}]}`)
	}))
	t.Cleanup(api.Close)
	var stdout bytes.Buffer
	err := run(context.Background(), []string{"runs", "show", "--admin", api.Listener.Addr().String(), "r1"}, nil, &stdout, io.Discard)
	want := "     → attempt 1 lost: its worker stopped while it ran (killed, or out of reach of Redis past its lease); the request may have been sent\n" +
		"     → attempt 2: POST https://api.example.com/charges\n" +
		"       ← 201 Created in 38ms\n"
	if out := stdout.String(); err != nil || !strings.Contains(out, want) {
		t.Errorf("runs show: %v\n%s\nwant in it:\n%s", err, out, want)
	}
}

// An admin API that answers 503 (it cannot serve now: Redis is unreachable) is exit
// status 3, worth retrying, for every command of the admin API; a 503 to runs start
// that names a run (stored, or maybe) is exit status 1, with the run's id: it may run,
// and is to be looked at before it is started again.
func TestAdminCommandsExitStatusFor503(t *testing.T) {
	var named atomic.Bool
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Hookflow-Admin", "v1")
		w.Header().Set("Content-Type", "application/json")
		if named.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"run_id": "01stored", "status_url": "/api/v1/runs/01stored", "error": "Redis did not answer, so run 01stored may be stored, and then runs. Look at it (hookflow runs show 01stored) before starting it again"}`)
			return
		}
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"error": "listing runs failed: Redis is unreachable: connection refused; try again"}`)
	}))
	t.Cleanup(api.Close)
	addr := api.Listener.Addr().String()
	exit := func(args ...string) (int, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append(args, "--admin", addr), nil, &stdout, &stderr)
		code := exitStatus(err, &stderr)
		return code, stdout.String() + stderr.String()
	}
	for _, args := range [][]string{
		{"runs", "list"}, {"runs", "show", "r1"}, {"runs", "replay", "r1"}, {"runs", "cancel", "r1"},
		{"runs", "resume", "r1", "approval"}, {"runs", "export-test", "r1"}, {"runs", "start", "w"},
		{"dlq", "list"}, {"dlq", "retry", "r1:x"}, {"workflows"},
	} {
		if code, out := exit(args...); code != exitNoReach || !strings.Contains(out, "Redis is unreachable") {
			t.Errorf("%s: exit %d, want 3:\n%s", strings.Join(args, " "), code, out)
		}
	}
	named.Store(true)
	if code, out := exit("runs", "start", "w"); code != exitFailed || !strings.Contains(out, "hookflow runs show 01stored") {
		t.Errorf("runs start answered 503 with a run: exit %d, want 1 naming the run:\n%s", code, out)
	}
}

// Against a hookflow serve whose Redis is down, the commands exit 3; runs start of a
// run Redis was sent but did not answer exits 1, naming the run.
func TestAdminCommandsWhileRedisIsDown(t *testing.T) {
	b := redistest.Real(t)
	dir := writeFiles(t, t.TempDir(), map[string]string{"w.hcl": "workflow \"w\" {\n  step \"log\" \"x\" {\n    message = \"hi\"\n  }\n}\n"})
	s := serveDir(t, dir, b.URL, "127.0.0.1:0")
	hookflow := func(args ...string) (int, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append(args, "--admin", s.adminAddr), nil, &stdout, &stderr)
		code := exitStatus(err, &stderr)
		return code, stdout.String() + stderr.String()
	}
	if code, out := hookflow("runs", "start", "w"); code != 0 {
		t.Fatalf("runs start with Redis up: exit %d\n%s", code, out)
	}
	finishedBeforeRedisStops(t, s, "w", 1)
	b.Stop()
	if code, out := hookflow("runs", "list"); code != exitNoReach || !strings.Contains(out, "Redis is unreachable") {
		t.Errorf("runs list: exit %d, want 3:\n%s", code, out)
	}
	if code, out := hookflow("runs", "start", "w"); code != exitFailed || !strings.Contains(out, "may be stored") {
		t.Errorf("runs start: exit %d, want 1 naming the run that may be stored:\n%s", code, out)
	}
}
