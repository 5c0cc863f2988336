package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/shellquote"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

// Every page of the run inspector renders a failed run, its request and its dead
// letter, under a strict CSP; the search opens a run by id and finds one by its event.
func TestInspectorPages(t *testing.T) {
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"busy": true}`, http.StatusServiceUnavailable)
	}))
	defer crm.Close()
	e, set, api := serveAPI(t, `
workflow "sync_crm" {
  trigger "webhook" {
    path = "/crm"
  }
  step "http" "update" {
    url = "`+crm.URL+`/contacts"
  }
}
`)
	id, err := e.Start(context.Background(), set.Workflow("sync_crm"), &workflows.Event{ID: "e1", Trigger: "webhook",
		Method: "POST", Path: "/crm", ReceivedAt: time.Now(), ContentType: "application/json",
		Raw: `{"customer": "Ada Lovelace"}`, Headers: map[string]string{"Content-Type": "application/json"}})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, api.URL, id, "failed")
	srv := httptest.NewServer(Inspector(e, func() *workflows.Set { return set }, nil,
		PageOptions{WebhookBase: "http://hooks.example"}, quiet))
	defer srv.Close()

	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, c := range []struct {
		name, path string
		status     int
		has        []string
	}{
		{"runs", "/", 200, []string{id, "sync_crm", "failed", `data-live="runs"`}},
		{"runs of another status", "/?status=succeeded", 200, []string{"No runs match"}},
		{"runs by event text", "/?q=lovelace", 200, []string{id, "the search reads up to"}},
		{"runs by other text", "/?q=babbage", 200, []string{"No runs match"}},
		{"runs of the last hour", "/?since=1h", 200, []string{id}},
		{"a run", "/runs/" + id, 200, []string{"update", "attempt 1: GET " + crm.URL + "/contacts → 503 Service Unavailable",
			"Ada Lovelace", "Replay on version " + set.Workflow("sync_crm").Version, `curl -X POST &#39;http://hooks.example/hooks/crm&#39;`}},
		{"dead letters", "/dlq", 200, []string{id, "/api/v1/dlq/" + id + ":update/retry?version=" + set.Workflow("sync_crm").Version,
			`<p id="action-result" role="status" aria-live="polite" tabindex="-1">`}},
		{"workflows", "/workflows", 200, []string{"POST http://hooks.example/hooks/crm", "t.hcl:2"}},
		{"no run", "/runs/nosuch", 404, []string{"Not found"}},
		{"no page", "/nosuch", 404, []string{"There is no page"}},
		{"a bad cursor", "/?cursor=x", 400, []string{"cursor"}},
		{"dead letters past a bad cursor", "/dlq?cursor=x", 400, []string{"cursor"}},
		{"dead letters past the last", "/dlq?cursor=1-0", 200, []string{"No older dead letters."}},
		{"runs past the last", "/?cursor=1-0", 200, []string{"No older runs."}},
		{"runs past the last that match", "/?cursor=1-0&q=babbage", 200, []string{"No older runs match these filters."}},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, err := noRedirect.Get(srv.URL + c.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
				t.Errorf("CSP %q", csp)
			}
			// Every page links its icon: a browser asks for no /favicon.ico, which is no page.
			for _, want := range append(c.has, `<link rel="icon" href="/assets/favicon.svg"`) {
				if !strings.Contains(string(body), want) {
					t.Errorf("no %q in\n%s", want, body)
				}
			}
		})
	}
	for _, q := range []string{id, strings.ToUpper(id)} { // in upper case, as a ULID is often written
		resp, err := noRedirect.Get(srv.URL + "/?q=" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/runs/"+id {
			t.Errorf("a search by run id %s: %d to %q", q, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	for _, asset := range []string{"/assets/inspector.js", "/assets/inspector.css", "/assets/favicon.svg"} {
		resp, err := http.Get(srv.URL + asset)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", asset, resp, err)
		}
		resp.Body.Close()
	}
}

// With the read-only token, the pages read and show no replay or retry button.
func TestInspectorReadOnly(t *testing.T) {
	e, set, _ := serveAPI(t, `
workflow "w" {
  step "log" "x" {
    message = "hi"
  }
}
`)
	a := Access{ReadToken: "read-token-0123456789", OperatorToken: "operator-token-0123456789"}
	srv := httptest.NewServer(Protect(Inspector(e, func() *workflows.Set { return set }, nil, PageOptions{SignOut: true}, quiet), a))
	defer srv.Close()
	for token, buttons := range map[string]bool{a.ReadToken: false, a.OperatorToken: true} {
		req, _ := http.NewRequest("GET", srv.URL+"/dlq", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.Contains(string(body), ">Retry</th>") != buttons {
			t.Errorf("dead letters with the token %s: %d, retry buttons %v, want %v", token, resp.StatusCode, !buttons, buttons)
		}
	}
}

// A run that has not finished has a button to cancel it; a finished one has none, and
// neither has a page seen with the read-only token.
func TestInspectorCancelButton(t *testing.T) {
	e, set, api := serveAPI(t, `
workflow "slow" {
  step "delay" "cool_off" {
    duration = "1h"
  }
  step "log" "after" {
    message = "cooled off"
  }
}
`)
	id, err := e.Start(context.Background(), set.Workflow("slow"), &workflows.Event{ID: "e1", Trigger: "manual", ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, api.URL, id, "running")
	srv := httptest.NewServer(Inspector(e, func() *workflows.Set { return set }, nil, PageOptions{}, quiet))
	defer srv.Close()
	page := func() string {
		resp, err := http.Get(srv.URL + "/runs/" + id)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	if p := page(); !strings.Contains(p, `data-post="/api/v1/runs/`+id+`/cancel"`) || !strings.Contains(p, "Cancel the run") {
		t.Fatalf("no cancel button on a running run:\n%s", p)
	}
	if _, err := e.Cancel(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if p := page(); strings.Contains(p, "Cancel the run") || strings.Contains(p, `data-live="run"`) {
		t.Errorf("a cancelled run still offers to cancel, or polls:\n%s", p)
	}
}

// A step to be tried again says how many attempts it had and what the last one took,
// apart from when the next one is.
func TestInspectorRetryingStep(t *testing.T) {
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer busy.Close()
	e, set, api := serveAPI(t, `
workflow "flaky" {
  step "http" "notify" {
    url = "`+busy.URL+`"
    retry {
      attempts = 3
      backoff  = "constant"
      initial  = "1h"
    }
  }
}
`)
	id, err := e.Start(context.Background(), set.Workflow("flaky"), &workflows.Event{ID: "e1", Trigger: "manual", ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "notify retrying", func() bool {
		var run engine.Run
		get(t, api.URL+"/api/v1/runs/"+id, http.StatusOK, &run)
		return len(run.Steps) == 1 && run.Steps[0].Status == engine.StatusRetrying
	})
	srv := httptest.NewServer(Inspector(e, func() *workflows.Set { return set }, nil, PageOptions{}, quiet))
	defer srv.Close()
	page := fetchPage(t, srv.URL+"/runs/"+id)
	head := page[strings.Index(page, `<div class="step-head">`):]
	head = head[:strings.Index(head, "</div>")]
	if !strings.Contains(head, "<span>1 attempt so far, which took ") || !strings.Contains(head, "<span>next attempt at <time") {
		t.Errorf("the retrying step's head:\n%s", head)
	}
}

// A delay step's head says how long it held the run, not the no time the step took.
func TestInspectorDelayHeldTheRun(t *testing.T) {
	e, set, _ := serveAPI(t, `
workflow "later" {
  step "delay" "settle" {
    duration = "1s"
  }
  step "log" "after" {
    message = "done"
  }
}
`)
	id, err := e.Start(context.Background(), set.Workflow("later"), &workflows.Event{ID: "e1", Trigger: "manual", ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the run finished", func() bool {
		r, err := e.Run(context.Background(), id)
		return err == nil && r.Status == engine.RunSucceeded
	})
	srv := httptest.NewServer(Inspector(e, func() *workflows.Set { return set }, nil, PageOptions{}, quiet))
	defer srv.Close()
	page := fetchPage(t, srv.URL+"/runs/"+id)
	head := page[strings.Index(page, `<div class="step-head">`):]
	head = head[:strings.Index(head, "</div>")]
	if !strings.Contains(head, "<span>held the run 1.0s</span>") {
		t.Errorf("the delay step's head:\n%s", head)
	}
}

// A run waiting at a wait step shows it with a button to resume it and its resume URL
// behind a click; the API's resume endpoint resumes it once.
func TestInspectorResumeButton(t *testing.T) {
	e, set, api := serveAPI(t, `
workflow "approve" {
  step "wait" "approval" {
    timeout = "1h"
  }
  step "log" "after" {
    message = "approved: {{ steps.approval.body.ok }}"
  }
}
`)
	id, err := e.Start(context.Background(), set.Workflow("approve"), &workflows.Event{ID: "e1", Trigger: "manual", ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, api.URL, id, "waiting")
	srv := httptest.NewServer(Inspector(e, func() *workflows.Set { return set }, nil, PageOptions{}, quiet))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/runs/" + id)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	p := string(body)
	if head := stepHead(t, p, "approval"); !strings.Contains(head, "<span>times out at <time") || strings.Contains(head, "ms</span>") {
		t.Errorf("the waiting step's head, want when it times out and not the duration of what parked it:\n%s", head)
	}
	url, _ := e.ResumeURL(context.Background(), "approve", id, "approval")
	if !strings.Contains(p, `data-post="/api/v1/runs/`+id+`/resume/approval"`) ||
		!strings.Contains(p, "<summary>Show the resume URL</summary>") || !strings.Contains(p, url) {
		t.Fatalf("no resume button or URL on a waiting run:\n%s", p)
	}
	req, _ := http.NewRequest("POST", api.URL+"/api/v1/runs/"+id+"/resume/approval", strings.NewReader(`{"ok": "yes"}`))
	req.Header.Set("Content-Type", "application/json")
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != 200 {
		t.Fatalf("resume: %d", r2.StatusCode)
	}
	var again map[string]string
	post(t, api.URL+"/api/v1/runs/"+id+"/resume/approval", http.StatusConflict, &again)
	post(t, api.URL+"/api/v1/runs/nosuchrun/resume/approval", http.StatusNotFound, &again)
	waitStatus(t, api.URL, id, "succeeded")
	// Its job is leased again when it is resumed: that is no second attempt.
	if head := stepHead(t, fetchPage(t, srv.URL+"/runs/"+id), "approval"); strings.Contains(head, "attempts") {
		t.Errorf("the resumed wait step's head counts attempts:\n%s", head)
	}
}

// stepHead is the head of a step on a run's page: its status, duration, attempts.
func stepHead(t *testing.T, page, path string) string {
	t.Helper()
	i := strings.Index(page, `id="step-`+path+`"`)
	if i < 0 {
		t.Fatalf("no step %s on the page:\n%s", path, page)
	}
	head := page[i:]
	return head[:strings.Index(head, "</div>")]
}

// A child run's id holds its for_each key, which the sender of a webhook chooses: the
// pages put ids into links and buttons as one path segment each, so a key with '/',
// '?', '#' or ".." opens its own run and retries its own dead letter, never another
// endpoint of the API; the search opens such a run by its id.
func TestInspectorLinksEscapeIDs(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	e, set, api := serveAPI(t, `
workflow "child" {
  step "http" "c" {
    url = "`+down.URL+`"
  }
}
workflow "fanout" {
  step "workflow" "kids" {
    for_each = "event.body.items"
    workflow = "child"
  }
}
workflow "slow" {
  step "log" "l" {
    message = "started"
  }
}
`)
	const key = "x/../../workflows/slow/runs?#"
	id, err := e.Start(context.Background(), set.Workflow("fanout"), &workflows.Event{ID: "e1", Trigger: "manual",
		ReceivedAt: time.Now(), ContentType: "application/json", Raw: `{"items": {"` + key + `": {}}}`})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, api.URL, id, "failed")
	child := id + ":kids:" + key
	srv := httptest.NewServer(Inspector(e, func() *workflows.Set { return set }, nil, PageOptions{}, quiet))
	defer srv.Close()
	page := func(path string) string {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, body)
		}
		return string(body)
	}
	seg := url.PathEscape(child)
	dlq := page("/dlq")
	for _, want := range []string{`href="/runs/` + seg + `"`, `data-post="/api/v1/dlq/` + seg + `:c/retry?version=pinned"`} {
		if !strings.Contains(dlq, want) {
			t.Errorf("no %s in the dead letters:\n%s", want, dlq)
		}
	}
	if run := page("/runs/" + seg); !strings.Contains(run, `data-post="/api/v1/runs/`+seg+`/replay?version=pinned"`) ||
		!strings.Contains(run, `data-copy-from="/api/v1/runs/`+seg+`/test"`) {
		t.Errorf("the child run's page does not name it as one segment:\n%s", run)
	}
	if runs := page("/?workflow=child"); !strings.Contains(runs, `href="/runs/`+seg+`"`) {
		t.Errorf("the runs list does not link the child run as one segment:\n%s", runs)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(srv.URL + "/?q=" + url.QueryEscape(child))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/runs/"+seg {
		t.Errorf("a search by the child's id: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	// The Retry button's request retries the child's dead letter, and starts nothing else.
	req, _ := http.NewRequest(http.MethodPost, api.URL+"/api/v1/dlq/"+seg+":c/retry?version=pinned", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(string(body), child) {
		t.Errorf("retry of the child's dead letter: %d %s", resp.StatusCode, body)
	}
	if page, err := e.Runs(context.Background(), engine.RunFilter{Workflow: "slow"}); err != nil || len(page.Runs) != 0 {
		t.Errorf("the retry started runs of another workflow: %+v %v", page, err)
	}
}

// Copy as curl sends a webhook's event to the path and query it came to, not to its
// webhook's path template; a secret in the path and a credential in the query stay
// [redacted]. A run started otherwise goes to the admin API's manual start.
func TestInspectorCurl(t *testing.T) {
	t.Setenv("HOOK_TOKEN", "s3cr3t-hook-token")
	e, set, _ := serveAPI(t, `
workflow "repo" {
  trigger "webhook" {
    path = "/repo/{name}"
  }
  step "log" "l" {
    message = "pushed"
  }
}
workflow "secret_path" {
  trigger "webhook" {
    path = "/in/${secret("HOOK_TOKEN")}"
  }
  step "log" "l" {
    message = "in"
  }
}
`)
	srv := httptest.NewServer(Inspector(e, func() *workflows.Set { return set }, nil,
		PageOptions{WebhookBase: "http://hooks.example", AdminBase: "http://admin.example"}, quiet))
	defer srv.Close()
	for _, c := range []struct {
		name, workflow string
		ev             *workflows.Event
		want           string
	}{
		{"the path and query it came to", "repo", &workflows.Event{Trigger: "webhook", Method: "POST", Path: "/repo/it's mine",
			Query: map[string][]string{"ref": {"main", "dev"}, "note": {"a b&c"}}, ContentType: "application/json", Raw: `{"n": "it's"}`,
			Headers: map[string]string{"Content-Type": "application/json"}},
			`curl -X POST 'http://hooks.example/hooks/repo/it%27s%20mine?note=a+b%26c&ref=main&ref=dev' -H 'Content-Type: application/json' --data-raw '{"n":"it'\''s"}'`},
		{"a credential in the query", "repo", &workflows.Event{Trigger: "webhook", Method: "POST", Path: "/repo/x",
			Query: map[string][]string{"api_key": {"k-0123456789"}}},
			`curl -X POST 'http://hooks.example/hooks/repo/x?api_key=[redacted]'`},
		{"a secret in the path", "secret_path", &workflows.Event{Trigger: "webhook", Method: "POST", Path: "/in/s3cr3t-hook-token",
			Query: map[string][]string{"echo": {"s3cr3t-hook-token"}}},
			`curl -X POST 'http://hooks.example/hooks/in/[redacted]?echo=[redacted]'`},
		{"a run started by hand", "repo", &workflows.Event{Trigger: "manual", ContentType: "application/json", Raw: `{"n": 2}`},
			`curl -X POST 'http://admin.example/api/v1/workflows/repo/runs' -H 'Content-Type: application/json' --data-raw '{"n":2}'`},
		// The body as it came, compact: its numbers as written, digit for digit, its
		// credential fields [redacted] as the history shows them.
		{"numbers as written", "repo", &workflows.Event{Trigger: "webhook", Method: "POST", Path: "/repo/x",
			ContentType: "application/json", Raw: `{"id": 12345678901234567890123, "rate": 1.50, "token": "t0k"}`,
			Headers: map[string]string{"Content-Type": "application/json"}},
			`curl -X POST 'http://hooks.example/hooks/repo/x' -H 'Content-Type: application/json' --data-raw '{"id":12345678901234567890123,"rate":1.50,"token":"[redacted]"}'`},
		// A JSON string is sent as JSON, quoted: as its text it would not parse, or
		// would be another value ({"a":1}, an object).
		{"a JSON string", "repo", &workflows.Event{Trigger: "webhook", Method: "POST", Path: "/repo/x",
			ContentType: "application/json", Raw: `"{\"a\":1}"`, Headers: map[string]string{"Content-Type": "application/json"}},
			`curl -X POST 'http://hooks.example/hooks/repo/x' -H 'Content-Type: application/json' --data-raw '"{\"a\":1}"'`},
		// Pasted into bash, the body as it is would end the bracketed paste (ESC [201~),
		// erase the line (Ctrl-U) and run what follows (CR).
		{"control characters escaped", "repo", &workflows.Event{Trigger: "webhook", Method: "POST", Path: "/repo/x",
			ContentType: "text/plain", Raw: "x\x1b[201~\x15touch /tmp/PWNED\r\nit's \u202e\u009b",
			Headers: map[string]string{"Content-Type": "text/plain; x=\t\x7f"}},
			`curl -X POST 'http://hooks.example/hooks/repo/x' -H $'Content-Type: text/plain; x=\x09\x7f' --data-raw $'x\x1b[201~\x15touch /tmp/PWNED\x0d\x0ait\x27s \xe2\x80\xae\xc2\x9b'`},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.ev.ID, c.ev.ReceivedAt = "e-"+c.name, time.Now()
			id, err := e.Start(context.Background(), set.Workflow(c.workflow), c.ev)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.Get(srv.URL + "/runs/" + id)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			_, cmd, _ := strings.Cut(string(body), `<pre id="curl" class="curl">`)
			cmd, _, _ = strings.Cut(cmd, "</pre>")
			if got := html.UnescapeString(cmd); got != c.want {
				t.Errorf("curl command\n got %s\nwant %s", got, c.want)
			}
			if !utf8.ValidString(cmd) {
				t.Errorf("the page's curl command is not UTF-8: %q", cmd)
			}
			for i, r := range cmd {
				if shellquote.Unsafe(r) {
					t.Errorf("the page's curl command holds %U raw at byte %d: %q", r, i, cmd)
				}
			}
		})
	}
}

// The pages' assets are served file by file: their directory is no page, and lists
// nothing.
func TestInspectorAssets(t *testing.T) {
	srv := httptest.NewServer(Inspector(nil, func() *workflows.Set { return nil }, nil, PageOptions{}, quiet))
	defer srv.Close()
	for _, c := range []struct {
		path   string
		status int
		ctype  string
	}{
		{"/assets/inspector.js", 200, "text/javascript"},
		{"/assets/inspector.css", 200, "text/css"},
		{"/assets/favicon.svg", 200, "image/svg+xml"}, // every page links it: no request for /favicon.ico
		{"/assets/", 404, "text/html"},
		{"/assets", 404, "text/html"},
		{"/assets/nosuch.js", 404, "text/html"},
		{"/assets/inspector.js/", 404, "text/html"},
	} {
		t.Run(c.path, func(t *testing.T) {
			resp, err := http.Get(srv.URL + c.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), c.ctype) {
				t.Errorf("%d %s, want %d %s", resp.StatusCode, resp.Header.Get("Content-Type"), c.status, c.ctype)
			}
			if strings.Contains(string(body), `href="inspector.js"`) {
				t.Errorf("a listing of the assets:\n%s", body)
			}
		})
	}
}

// A run shows the replay buttons the API would take: none on a run that failed at its
// filter, before its first step (the API answers 409: start a new run instead), and
// no replay on the current version once its workflow is no longer in use, nor while
// the run's version is the one in use (it would be the replay on the run's version),
// nor when the version in use has no step that failed the run (and the page says so).
// The dead letters page likewise offers a retry on the current version only where
// the API takes it.
func TestInspectorReplayButtons(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	src := `
workflow "push" {
  step "http" "call" {
    url = "` + down.URL + `"
  }
}
workflow "lacks" {
  step "http" "LACKS" {
    url = "` + down.URL + `"
  }
}
workflow "block" {
  parallel "notify" {
    step "http" "call" {
      url = "` + down.URL + `"
    }
    step "http" "BLOCK" {
      url = "` + down.URL + `"
    }
  }
}
workflow "gone" {
  step "http" "call" {
    url = "` + down.URL + `"
  }
}
`
	e, set, api := serveAPI(t, strings.NewReplacer("LACKS", "call", "BLOCK", "crm").Replace(src))
	start := func(wf string) string {
		t.Helper()
		id, err := e.Start(context.Background(), set.Workflow(wf), &workflows.Event{ID: "e-" + wf, Trigger: "manual", ReceivedAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		waitStatus(t, api.URL, id, "failed")
		return id
	}
	failed, gone, lacks, block := start("push"), start("gone"), start("lacks"), start("block")
	atFilter, err := e.StartFailed(context.Background(), set.Workflow("push"),
		&workflows.Event{ID: "e-filter", Trigger: "manual", ReceivedAt: time.Now()}, "filter: no such field")
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, api.URL, atFilter, "failed")
	// "gone" is taken out of the workflows in use.
	k := workflows.NewKinds()
	actions.Register(k, actions.Options{Logger: quiet})
	now, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(strings.NewReplacer("LACKS", "other", "BLOCK", "other").Replace(src[:strings.Index(src, `workflow "gone"`)]))}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	e.Use(now)
	srv := httptest.NewServer(Inspector(e, func() *workflows.Set { return now }, nil, PageOptions{}, quiet))
	defer srv.Close()

	for _, c := range []struct {
		name, id        string
		pinned, current bool
	}{
		{"failed at a step, on the version in use", failed, true, false},
		{"failed at its filter", atFilter, false, false},
		{"of a workflow no longer in use", gone, true, false},
		{"failed at a step the version in use has not", lacks, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, err := http.Get(srv.URL + "/runs/" + c.id)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for version, shown := range map[string]bool{"pinned": c.pinned, "current": c.current} {
				button := `data-post="/api/v1/runs/` + c.id + `/replay?version=` + version + `"`
				if strings.Contains(string(body), button) != shown {
					t.Errorf("the %s replay button shown: %v, want %v", version, !shown, shown)
				}
				if !shown && c.id != failed { // and the API refuses it
					var fail map[string]string
					post(t, api.URL+"/api/v1/runs/"+c.id+"/replay?version="+version, http.StatusConflict, &fail)
				}
			}
		})
	}
	if page := fetchPage(t, srv.URL+"/runs/"+lacks); !strings.Contains(page,
		"Not on the current version ("+now.Workflow("lacks").Version+"): it has no step call, which failed the run.") {
		t.Errorf("the page of a run the version in use cannot replay does not say why:\n%s", page)
	}
	// The parallel block of "block" is still in use, with call but without crm, which
	// failed the run beside it: the version in use cannot replay it.
	dlq := fetchPage(t, srv.URL+"/dlq")
	for id, current := range map[string]bool{failed: true, gone: false, lacks: false, block: false} {
		letter := id + ":call"
		if id == block {
			letter = id + ":notify:join"
		}
		// The retry on the current version names it: the version of the letter's
		// workflow in use now.
		retries := `data-post="/api/v1/dlq/` + letter + `/retry?version=`
		if !strings.Contains(dlq, retries+`pinned"`) {
			t.Errorf("no dead letter %s on the page:\n%s", letter, dlq)
		}
		if shown := strings.Count(dlq, retries) == 2; shown != current {
			t.Errorf("the retry of %s on the current version shown: %v, want %v", letter, shown, current)
		}
		if current && !strings.Contains(dlq, retries+now.Workflow("push").Version+`"`) {
			t.Errorf("the retry of %s on the current version does not name version %s:\n%s", letter, now.Workflow("push").Version, dlq)
		}
		if !current {
			var fail map[string]string
			post(t, api.URL+"/api/v1/dlq/"+letter+"/retry?version=current", http.StatusConflict, &fail)
		}
	}
}

// A deep link to the runs of a workflow no longer loaded, or to one of them, says
// plainly that the workflow is not loaded now, and shows its runs from the history:
// the list keeps the workflow in its filter, and the run offers no command to send its
// event again, as nothing would take it.
func TestInspectorWorkflowNotLoaded(t *testing.T) {
	src := `
workflow "kept" {
  step "log" "l" {
    message = "hi"
  }
}
workflow "gone" {
  step "log" "l" {
    message = "hi"
  }
}
`
	e, set, api := serveAPI(t, src)
	id, err := e.Start(context.Background(), set.Workflow("gone"), &workflows.Event{ID: "e-gone", Trigger: "manual", ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, api.URL, id, "succeeded")
	k := workflows.NewKinds()
	actions.Register(k, actions.Options{Logger: quiet})
	now, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(src[:strings.Index(src, `workflow "gone"`)])}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	e.Use(now)
	srv := httptest.NewServer(Inspector(e, func() *workflows.Set { return now }, nil, PageOptions{AdminBase: "http://127.0.0.1:8081"}, quiet))
	defer srv.Close()

	list := fetchPage(t, srv.URL+"/?workflow=gone")
	for _, want := range []string{`<option value="gone" selected>gone (not loaded)</option>`,
		"Workflow gone is not loaded now: these are its runs from the history.", `data-run="` + id + `"`} {
		if !strings.Contains(list, want) {
			t.Errorf("the runs of gone lack %q:\n%s", want, list)
		}
	}
	if list := fetchPage(t, srv.URL+"/?workflow=kept"); strings.Contains(list, "not loaded") {
		t.Errorf("the runs of a workflow loaded say it is not:\n%s", list)
	}
	run := fetchPage(t, srv.URL+"/runs/"+id)
	if !strings.Contains(run, "not loaded now: this run is from the history") || !strings.Contains(run, `id="run-status">succeeded<`) {
		t.Errorf("the run of gone does not say its workflow is not loaded:\n%s", run)
	}
	if strings.Contains(run, "Copy as curl") {
		t.Errorf("the run of gone offers a curl command, which nothing would take:\n%s", run)
	}
}

// The replay buttons name the versions they replay on: the run's, which is the one it
// is on now (a replay on the current version moved it there), and the one in use,
// while it is another.
func TestInspectorReplayNamesTheRunsVersion(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	src := func(path string) string {
		return `
workflow "push" {
  step "http" "call" {
    url = "` + down.URL + path + `"
  }
}
`
	}
	e, set, api := serveAPI(t, src("/v1"))
	v1 := set.Workflow("push").Version
	id, err := e.Start(context.Background(), set.Workflow("push"), &workflows.Event{ID: "e1", Trigger: "manual", ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, api.URL, id, "failed")
	k := workflows.NewKinds()
	actions.Register(k, actions.Options{Logger: quiet})
	edited, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(src("/v2"))}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	v2 := edited.Workflow("push").Version
	e.Use(edited)
	srv := httptest.NewServer(Inspector(e, func() *workflows.Set { return edited }, nil, PageOptions{}, quiet))
	defer srv.Close()
	buttons := func() string {
		t.Helper()
		page := fetchPage(t, srv.URL+"/runs/"+id)
		i := strings.Index(page, `/replay?version=pinned"`)
		if i < 0 {
			t.Fatalf("no replay button on the failed run's page:\n%s", page)
		}
		page = page[strings.LastIndex(page[:i], "<div"):]
		return page[:strings.Index(page, "</div>")]
	}
	if got := buttons(); !strings.Contains(got, ">Replay on version "+v1+"</button>") ||
		!strings.Contains(got, ">Replay on the current version ("+v2+")</button>") {
		t.Errorf("the buttons of a run on %s, with %s in use:\n%s", v1, v2, got)
	}
	var replayed engine.Replayed
	post(t, api.URL+"/api/v1/runs/"+id+"/replay?version=current", http.StatusAccepted, &replayed)
	waitStatus(t, api.URL, id, "failed")
	// The run is on v2 now: a replay on its version runs v2, and is the only one.
	if got := buttons(); !strings.Contains(got, ">Replay on version "+v2+"</button>") || strings.Contains(got, v1) ||
		strings.Contains(got, "replay-current") {
		t.Errorf("the buttons of a run moved to %s, in use:\n%s", v2, got)
	}
	post(t, api.URL+"/api/v1/runs/"+id+"/replay?version=pinned", http.StatusAccepted, &replayed)
	if replayed.Version != v2 {
		t.Errorf("the replay on the run's version ran %s, want %s", replayed.Version, v2)
	}
}

// A resume through the API of a wait that timed out is answered 404, as its resume URL
// is, saying that it timed out and when, not that the run is missing.
func TestResumeAfterTheWaitTimedOut(t *testing.T) {
	e, set, api := serveAPI(t, `
workflow "approve" {
  step "wait" "approval" {
    timeout = "1s"
  }
}
`)
	id, err := e.Start(context.Background(), set.Workflow("approve"), &workflows.Event{ID: "e1", Trigger: "manual", ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, api.URL, id, "failed")
	var answer map[string]string
	post(t, api.URL+"/api/v1/runs/"+id+"/resume/approval", http.StatusNotFound, &answer)
	if got := answer["error"]; !strings.HasPrefix(got, "the wait of step approval timed out at ") {
		t.Errorf("answer %q", got)
	}
}

// A step's path in an element's id keeps what an id may hold, and encodes the rest.
func TestDomID(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"ship", "ship"},
		{"on_failure/ack", "on_failure/ack"},
		{"reserve[us east]", "reserve[us%20east]"},
		{"reserve[50%]", "reserve[50%25]"},
		{"reserve[a\tb\u00a0c]", "reserve[a%09b%C2%A0c]"},
		{"kids[abc\u202egnp.exe]", "kids[abc%E2%80%AEgnp.exe]"},
		{"kids[\u2066x\u2069]", "kids[%E2%81%A6x%E2%81%A9]"},
	} {
		t.Run(c.in, func(t *testing.T) {
			if got := domID(c.in); got != c.want {
				t.Errorf("domID(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

// A child run names the run and step that started it, in the API and on its page,
// which links to the parent run; the parent's workflow step, or each of its items,
// links to its child run. Ids go into the links escaped, as one segment each.
func TestInspectorLinksParentAndChildRuns(t *testing.T) {
	e, set, api := serveAPI(t, `
workflow "child" {
  step "log" "c" {
    message = "hi"
  }
}
workflow "parent" {
  step "workflow" "kid" {
    workflow = "child"
  }
  step "workflow" "kids" {
    for_each = "event.body.items"
    workflow = "child"
  }
}
`)
	const key = "a/b?c#d"
	id, err := e.Start(context.Background(), set.Workflow("parent"), &workflows.Event{ID: "e1", Trigger: "manual",
		ReceivedAt: time.Now(), ContentType: "application/json", Raw: `{"items": {"` + key + `": {}}}`})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, api.URL, id, "succeeded")
	child, item := id+":kid", id+":kids:"+key
	var run engine.Run
	get(t, api.URL+"/api/v1/runs/"+url.PathEscape(item), http.StatusOK, &run)
	if p := run.Event.Parent; run.Event.Trigger != "workflow" || p == nil || p.RunID != id || p.Workflow != "parent" || p.Step != "kids" {
		t.Errorf("the child run's event: trigger %q, parent %+v", run.Event.Trigger, p)
	}
	srv := httptest.NewServer(Inspector(e, func() *workflows.Set { return set }, nil, PageOptions{}, quiet))
	defer srv.Close()
	parent := fetchPage(t, srv.URL+"/runs/"+id)
	for _, c := range []string{child, item} {
		if want := `<a href="/runs/` + url.PathEscape(c) + `" id="child-` + html.EscapeString(c) + `" class="mono">`; !strings.Contains(parent, want) {
			t.Errorf("the parent's page does not link its child %s: no %s in\n%s", c, want, parent)
		}
	}
	page := fetchPage(t, srv.URL+"/runs/"+url.PathEscape(item))
	_, started, _ := strings.Cut(page, `<dd id="parent-run">`)
	started, _, _ = strings.Cut(started, "</dd>")
	// ?items=kids: the parent's page shows every item of the step, this one among them.
	want := `step <a href="/runs/` + id + `?items=kids#child-` + url.QueryEscape(item) + `">kids</a> of run <a href="/runs/` + id + `" class="mono">` + id + `</a>`
	if !strings.Contains(strings.ToLower(started), strings.ToLower(want)) { // html/template's escapes are lower case
		t.Errorf("the child's page names its parent as\n%s\nwant\n%s", started, want)
	}
}

// A for_each step of many items shows how many are in each status and, unless all
// are asked for, only those that failed (first), are in flight or were cancelled.
func TestViewStepFoldsManyItems(t *testing.T) {
	items := func(n int, status map[int]engine.Status) engine.StepRun {
		s := engine.StepRun{Name: "fan", Path: "fan", Kind: "http", Status: engine.StatusRunning, ItemCount: n}
		for i := range n {
			st := engine.StatusSucceeded
			if status[i] != "" {
				st = status[i]
			}
			s.Items = append(s.Items, engine.StepRun{Name: "fan", Path: fmt.Sprintf("fan[%d]", i), Kind: "http", Status: st})
		}
		return s
	}
	paths := func(v stepView) []string {
		var out []string
		for _, it := range v.Items {
			out = append(out, it.Path)
		}
		return out
	}
	some := map[int]engine.Status{3: engine.StatusRunning, 17: engine.StatusFailed, 20: engine.StatusFailed, 22: engine.StatusPending,
		24: engine.StatusCancelled}
	for _, c := range []struct {
		name     string
		step     engine.StepRun
		all      bool
		shown    []string
		folded   int
		allShown bool
		counts   string
	}{
		{"a few", items(3, map[int]engine.Status{1: engine.StatusFailed}), false, []string{"fan[0]", "fan[1]", "fan[2]"}, 0, false, "[{succeeded 2} {failed 1}]"},
		{"many", items(25, some), false, []string{"fan[17]", "fan[20]", "fan[3]", "fan[24]"}, 21, false, "[{succeeded 20} {failed 2} {running 1} {pending 1} {cancelled 1}]"},
		{"many, all asked for", items(25, some), true, nil, 0, true, "[{succeeded 20} {failed 2} {running 1} {pending 1} {cancelled 1}]"},
		{"many, all succeeded", items(1000, nil), false, nil, 1000, false, "[{succeeded 1000}]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := viewStep(c.step, &engine.Run{}, 0, c.all)
			if c.all {
				c.shown = paths(viewStep(c.step, &engine.Run{}, 0, false))[:0]
				for i := range c.step.Items {
					c.shown = append(c.shown, fmt.Sprintf("fan[%d]", i))
				}
			}
			if got := paths(v); !slices.Equal(got, c.shown) || v.Folded != c.folded || v.AllShown != c.allShown {
				t.Errorf("shown %v, %d folded, all shown %v; want %v, %d, %v", got, v.Folded, v.AllShown, c.shown, c.folded, c.allShown)
			}
			if got := fmt.Sprint(v.Counts); got != c.counts {
				t.Errorf("counts %s, want %s", got, c.counts)
			}
		})
	}
}

// A request's line cuts a long URL, keeping its scheme, host and the start of its
// path; the request under it has it whole.
func TestShortURL(t *testing.T) {
	long := "https://api.example.com/search?q=" + strings.Repeat("x", 10_000)
	host := "https://" + strings.Repeat("h", 90) + ".example.com/path/and/more"
	for _, c := range []struct{ in, want string }{
		{"https://api.example.com/charges", "https://api.example.com/charges"},
		{long, long[:80] + "…"},
		{host, strings.TrimSuffix(host, "re") + "…"}, // the host whole, and 12 characters of the path
	} {
		if got := shortURL(c.in, 80); got != c.want {
			t.Errorf("shortURL(%.40q…) = %q, want %q", c.in, got, c.want)
		}
	}
}

// An event's body shows whatever it is, 0, false, "", [] and {} too; an event without
// one has no Body section.
func TestInspectorShowsAFalsyBody(t *testing.T) {
	e, set, _ := serveAPI(t, `
workflow "w" {
  step "log" "l" {
    message = "hi"
  }
}
`)
	srv := httptest.NewServer(Inspector(e, func() *workflows.Set { return set }, nil, PageOptions{}, quiet))
	defer srv.Close()
	for _, raw := range []string{"0", "false", `""`, "[]", "{}", ""} {
		t.Run("body "+raw, func(t *testing.T) {
			id, err := e.Start(context.Background(), set.Workflow("w"), &workflows.Event{ID: "e" + raw, Trigger: "manual",
				ReceivedAt: time.Now(), ContentType: "application/json", Raw: raw})
			if err != nil {
				t.Fatal(err)
			}
			page := fetchPage(t, srv.URL+"/runs/"+id)
			want := `<summary>Body</summary><pre>` + html.EscapeString(raw) + `</pre>`
			if raw == "" {
				if strings.Contains(page, `id="event-body"`) {
					t.Errorf("an event without a body has a Body section")
				}
			} else if !strings.Contains(page, want) {
				t.Errorf("no %s on the page", want)
			}
		})
	}
}

// failingWriter is a response whose reader went away: every write fails.
type failingWriter struct{ header http.Header }

func (w *failingWriter) Header() http.Header { return w.header }
func (w *failingWriter) WriteHeader(int)     {}
func (w *failingWriter) Write(p []byte) (int, error) {
	return 0, &net.OpError{Op: "write", Err: syscall.EPIPE}
}

// A browser that goes away while a page is sent (a tab closed mid-poll) is no error
// of hookflow's: it is logged at debug level, not as an error.
func TestInspectorReaderGoneIsNoError(t *testing.T) {
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := Inspector(nil, func() *workflows.Set { return nil }, nil, PageOptions{}, log)
	h.ServeHTTP(&failingWriter{header: http.Header{}}, httptest.NewRequest("GET", "/nosuch", nil))
	if got := logged.String(); strings.Contains(got, "level=ERROR") || !strings.Contains(got, "broken pipe") {
		t.Errorf("a page its reader did not read logged:\n%s", got)
	}
}

// Every page of the run inspector, its error pages and the sign-in form are sent with
// a policy that allows only their own script and style and no framing, and are
// neither cached nor named to another origin.
func TestInspectorPageHeaders(t *testing.T) {
	e, set, api := serveAPI(t, `
workflow "w" {
  step "log" "x" {
    message = "hi"
  }
}
`)
	id, err := e.Start(context.Background(), set.Workflow("w"), &workflows.Event{ID: "e1", Trigger: "manual", ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, api.URL, id, "succeeded")
	a := Access{OperatorToken: "operator-token-0123456789"}
	srv := httptest.NewServer(Protect(Inspector(e, func() *workflows.Set { return set }, nil, PageOptions{SignOut: true}, quiet), a))
	defer srv.Close()
	session := testutil.SignIn(t, srv.URL, a.OperatorToken)
	for _, c := range []struct {
		name, method, path string
		cookie             *http.Cookie
		form               url.Values
		status             int
	}{
		{"runs", "GET", "/", session, nil, 200},
		{"a run", "GET", "/runs/" + id, session, nil, 200},
		{"workflows", "GET", "/workflows", session, nil, 200},
		{"dead letters", "GET", "/dlq", session, nil, 200},
		{"no such run", "GET", "/runs/nosuch", session, nil, 404},
		{"no such page", "GET", "/nosuch", session, nil, 404},
		{"a bad cursor", "GET", "/?cursor=x", session, nil, 400},
		{"the sign-in form", "GET", "/login", nil, nil, 200},
		{"a wrong token", "POST", "/login", nil, url.Values{"token": {"guess-0123456789abcdef"}}, 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := testutil.BrowserRequest(t, srv.URL, c.method, c.path, c.cookie, c.form)
			if r.StatusCode != c.status || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("%d %s, want %d text/html", r.StatusCode, r.Header.Get("Content-Type"), c.status)
			}
			csp := pageCSP
			if c.path == "/login" {
				csp = loginCSP
			}
			for name, want := range map[string]string{"X-Frame-Options": "DENY", "Cache-Control": "no-store",
				"Referrer-Policy": "same-origin", "Content-Security-Policy": csp} {
				if got := r.Header.Get(name); got != want {
					t.Errorf("%s: %q, want %q", name, got, want)
				}
			}
		})
	}
	// The sign-in form's policy is the pages', but for its own <style>, allowed by the
	// hash of what it serves.
	resp, err := http.Get(srv.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	_, style, _ := strings.Cut(string(body), "<style>")
	style, _, _ = strings.Cut(style, "</style>")
	sum := sha256.Sum256([]byte(style))
	hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	if got := resp.Header.Get("Content-Security-Policy"); style == "" ||
		got != strings.Replace(pageCSP, "style-src 'self'", "style-src 'self' "+hash, 1) {
		t.Errorf("the sign-in form's policy %q, its style %q (%s)", got, style, hash)
	}
	// The policy is the one docs/security.md quotes: the pages' own script and style,
	// nothing inline, no framing.
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
		if !slices.Contains(strings.Split(pageCSP, "; "), want) {
			t.Errorf("the pages' policy %q has no %s", pageCSP, want)
		}
	}
	if strings.Contains(pageCSP, "unsafe") {
		t.Errorf("the pages' policy %q allows something unsafe", pageCSP)
	}
}

// A workflow step, or item, waiting for its child run says so, with no time it goes
// on at: the times it looks at its child again are no times of its own. Its page reads
// the same from one look to the next, so a live page keeps the reader's focus.
func TestInspectorStepWaitingForItsChild(t *testing.T) {
	e, set, api := serveAPI(t, `
workflow "parent" {
  step "workflow" "kids" {
    for_each = "event.body.items"
    workflow = "held"
  }
}
workflow "held" {
  step "wait" "approval" {
    timeout = "1h"
  }
}
`)
	id, err := e.Start(context.Background(), set.Workflow("parent"), &workflows.Event{ID: "e1", Trigger: "manual",
		ReceivedAt: time.Now(), ContentType: "application/json", Raw: `{"items": ["a"]}`})
	if err != nil {
		t.Fatal(err)
	}
	attempts := func() int {
		var run engine.Run
		get(t, api.URL+"/api/v1/runs/"+id, http.StatusOK, &run)
		if len(run.Steps) != 1 || len(run.Steps[0].Items) != 1 || run.Steps[0].Items[0].Status != engine.StatusWaiting {
			return 0
		}
		return run.Steps[0].Items[0].Attempts
	}
	testutil.Eventually(t, 10*time.Second, "the item waiting for its child", func() bool { return attempts() > 0 })
	srv := httptest.NewServer(Inspector(e, func() *workflows.Set { return set }, nil, PageOptions{}, quiet))
	defer srv.Close()
	section := func() string {
		page := fetchPage(t, srv.URL+"/runs/"+id)
		return page[strings.Index(page, `<div id="run"`):strings.Index(page, "</main>")]
	}
	before, looked := section(), attempts()
	head := stepHead(t, before, "kids[0]")
	child := id + ":kids:0"
	if !strings.Contains(head, `<span class="status s-waiting">waiting</span>`) ||
		!strings.Contains(head, `<span>for child run <a href="/runs/`+url.PathEscape(child)+`"`) ||
		strings.Contains(head, "goes on") || strings.Contains(head, "<time") {
		t.Errorf("the item waiting for its child, want it waiting for child run %s and no time:\n%s", child, head)
	}
	// It looks again after a second (then two, four…), and parks again.
	testutil.Eventually(t, 10*time.Second, "the item looking at its child again", func() bool { return attempts() > looked })
	if after := section(); after != before {
		t.Errorf("the run's page changed as the item looked at its child again:\n%s\nthen\n%s", before, after)
	}
}

// A search reads a bounded number of runs per page: a page that found none of them to
// match says so, and that its next page searches on, where the older run that matches
// is; it does not say that no run matches.
func TestInspectorSearchPageWithoutMatchesGoesOn(t *testing.T) {
	set, k := backfill(t)
	rdb := redistest.Mini(t).Client
	e := engine.New(rdb, engine.Options{Logger: quiet, Kinds: k})
	e.Use(set) // no workers: the runs started stay queued
	ctx := context.Background()
	start := func(body string) string {
		t.Helper()
		id, err := e.Start(ctx, set.Workflow("backfill"), &workflows.Event{ID: "e", Trigger: "manual", ReceivedAt: time.Now(),
			ContentType: "application/json", Raw: body})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	needle := start(`{"order": "ord-17"}`)
	run, err := e.Run(ctx, needle)
	if err != nil {
		t.Fatal(err)
	}
	// Runs of one millisecond are listed by id, random within it: the others start
	// once the needle's millisecond passed.
	testutil.Eventually(t, 5*time.Second, "Redis's clock past the needle's millisecond", func() bool {
		now, err := rdb.Time(ctx).Result()
		return err == nil && now.UnixMilli() > run.CreatedAt.UnixMilli()
	})
	for range 1000 {
		start(`{"order": "ord-2"}`)
	}
	srv := httptest.NewServer(Inspector(e, func() *workflows.Set { return set }, nil, PageOptions{}, quiet))
	defer srv.Close()
	page := fetchPage(t, srv.URL+"/?q=ord-17")
	if !strings.Contains(page, "None of the 1000 runs read for this page match these filters: <a href=\"/?cursor=") ||
		strings.Contains(page, "No runs match") {
		t.Fatalf("the first page of a search that read no match:\n%s", page)
	}
	_, next, _ := strings.Cut(page, `<a href="/?cursor=`)
	next, _, _ = strings.Cut(next, `"`)
	older := fetchPage(t, srv.URL+"/?cursor="+html.UnescapeString(next))
	if !strings.Contains(older, `data-run="`+needle+`"`) {
		t.Errorf("the next page has no run %s:\n%s", needle, older)
	}
}

// A run's page links to its dead letter wherever it is in the list: /dlq?run= reads
// the run's dead letters from the run, as GET /api/v1/dlq?run= does, past the 50 newest
// too. A page of dead letters exactly full, holding the last ones, offers no older page
// (which would be empty), in the page and in the API's next alike.
func TestInspectorDeadLetterLinkAndFullLastPage(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	e, set, api := serveAPI(t, `
workflow "push" {
  step "http" "call" {
    url = "`+down.URL+`"
  }
}
`)
	srv := httptest.NewServer(Inspector(e, func() *workflows.Set { return set }, nil, PageOptions{}, quiet))
	defer srv.Close()
	var ids []string
	start := func(n int) {
		t.Helper()
		for range n {
			id, err := e.Start(context.Background(), set.Workflow("push"), &workflows.Event{ID: "e", Trigger: "manual", ReceivedAt: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			waitStatus(t, api.URL, id, "failed")
			ids = append(ids, id)
		}
	}
	start(pageSize)
	if page := fetchPage(t, srv.URL+"/dlq"); strings.Count(page, "<tr data-dead-letter=") != pageSize || strings.Contains(page, "older-dead-letters") {
		t.Errorf("the page of all %d dead letters offers older ones:\n%s", pageSize, page)
	}
	var dead engine.DeadLetterPage
	get(t, api.URL+"/api/v1/dlq?limit=50", http.StatusOK, &dead)
	if len(dead.DeadLetters) != pageSize || dead.Next != "" {
		t.Errorf("GET /api/v1/dlq?limit=50 of 50: %d dead letters, next %q; want no next", len(dead.DeadLetters), dead.Next)
	}

	start(1)
	oldest := ids[0]
	if page := fetchPage(t, srv.URL+"/dlq"); strings.Contains(page, oldest) || !strings.Contains(page, `id="older-dead-letters"`) {
		t.Fatalf("the first page of %d dead letters has the oldest, or no older ones", pageSize+1)
	}
	run := fetchPage(t, srv.URL+"/runs/"+oldest)
	link := `href="/dlq?run=` + oldest + `#dead-letter-` + oldest + `%3acall"`
	if !strings.Contains(run, link) {
		t.Fatalf("the run's page has no link %s:\n%s", link, run)
	}
	if page := fetchPage(t, srv.URL+"/dlq?run="+oldest); strings.Count(page, "<tr data-dead-letter=") != 1 ||
		!strings.Contains(page, `id="dead-letter-`+oldest+`:call"`) || strings.Contains(page, "older-dead-letters") {
		t.Errorf("/dlq?run=%s does not show its dead letter alone:\n%s", oldest, page)
	}
	get(t, api.URL+"/api/v1/dlq?run="+strings.ToUpper(oldest), http.StatusOK, &dead)
	if len(dead.DeadLetters) != 1 || dead.DeadLetters[0].ID != oldest+":call" || dead.Next != "" {
		t.Errorf("GET /api/v1/dlq?run=%s: %+v", oldest, dead)
	}
}

// lostFirst is the engine with the first attempt of each run's first step lost: its
// worker stopped while it ran, as the engine records such an attempt.
type lostFirst struct{ *engine.Engine }

func (l lostFirst) Run(ctx context.Context, id string) (*engine.Run, error) {
	run, err := l.Engine.Run(ctx, id)
	if err != nil || len(run.Steps) == 0 {
		return run, err
	}
	s := &run.Steps[0]
	for i := range s.Requests {
		s.Requests[i].Attempt++
	}
	lost := workflows.Request{Attempt: 1, Lost: true,
		Error: "its worker stopped while it ran (killed, or out of reach of Redis past its lease); the request may have been sent"}
	s.Requests = append([]workflows.Request{lost}, s.Requests...)
	s.Attempts++
	return run, nil
}

// An attempt whose worker stopped while it ran shows as lost, on one line with why,
// before the attempt after it: it has no request or answer to open.
func TestInspectorShowsALostAttempt(t *testing.T) {
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"ok": true}`)
	}))
	defer crm.Close()
	e, set, api := serveAPI(t, `
workflow "w" {
  step "http" "update" {
    url = "`+crm.URL+`/contacts"
  }
}
`)
	id, err := e.Start(context.Background(), set.Workflow("w"), &workflows.Event{ID: "e1", Trigger: "manual",
		ReceivedAt: time.Now(), ContentType: "application/json", Raw: `{}`})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, api.URL, id, "succeeded")
	srv := httptest.NewServer(Inspector(lostFirst{e}, func() *workflows.Set { return set }, nil, PageOptions{}, quiet))
	defer srv.Close()
	page := fetchPage(t, srv.URL+"/runs/"+id)
	lost := `<p class="request lost mono">attempt 1 lost: its worker stopped while it ran (killed, or out of reach of Redis past its lease); the request may have been sent</p>`
	next := "attempt 2: GET " + crm.URL + "/contacts → 200 OK"
	if i, j := strings.Index(page, lost), strings.Index(page, next); i < 0 || j < i {
		t.Errorf("want %q, then %q, in\n%s", lost, next, page)
	}
	if strings.Contains(page, `data-key="request update 1"`) {
		t.Errorf("the lost attempt opens on a request and an answer it does not have:\n%s", page)
	}
}

// A link to an element of another page (a child run's link to its parent's step, a
// run's link to its dead letter) lands on it: its fragment, percent-decoded as a
// browser reads it, is the id of an element of the page it opens. The parent's step
// is in a parallel block, so its path (fan/kids) is not the name the child's event
// holds (kids), and has more items than the page shows unless asked; a child run's id
// holds its for_each key, here with a bidirectional formatting character.
func TestInspectorLinksLandOnTheirElement(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	e, set, api := serveAPI(t, `
workflow "kid" {
  step "http" "call" {
    url = "{{ event.body.url }}"
  }
}
workflow "parent" {
  parallel "fan" {
    step "workflow" "kids" {
      for_each = "event.body.kids"
      workflow = "kid"
      input    = { url = "{{ each.value }}" }
    }
    step "log" "hello" {
      message = "hi"
    }
  }
}
`)
	srv := httptest.NewServer(Inspector(e, func() *workflows.Set { return set }, nil, PageOptions{}, quiet))
	defer srv.Close()
	const key = "abc\u202egnp.exe"
	start := func(kids map[string]string, want string) string {
		t.Helper()
		raw, _ := json.Marshal(map[string]any{"kids": kids})
		id, err := e.Start(context.Background(), set.Workflow("parent"), &workflows.Event{ID: "e", Trigger: "manual",
			ReceivedAt: time.Now(), ContentType: "application/json", Raw: string(raw)})
		if err != nil {
			t.Fatal(err)
		}
		waitStatus(t, api.URL, id, want)
		return id
	}
	// lands follows the link of page whose text starts with prefix, and reports
	// whether the page it opens has an element of the link's fragment as its id.
	lands := func(page, prefix string) bool {
		t.Helper()
		_, rest, ok := strings.Cut(page, `href="`+prefix)
		if !ok {
			t.Fatalf("no link to %s… in\n%s", prefix, page)
		}
		link, _, _ := strings.Cut(rest, `"`)
		target, fragment, _ := strings.Cut(html.UnescapeString(prefix+link), "#")
		id, err := url.PathUnescape(fragment)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Contains(fetchPage(t, srv.URL+target), ` id="`+html.EscapeString(id)+`"`)
	}

	kids := map[string]string{key: up.URL}
	for i := range 24 {
		kids[fmt.Sprintf("k%02d", i)] = up.URL
	}
	parent := start(kids, "succeeded")
	child := fetchPage(t, srv.URL+"/runs/"+url.PathEscape(parent+":kids:"+key))
	if !lands(child, "/runs/"+parent+"?") {
		t.Errorf("the child run's link to its parent's step does not land on its link to the child")
	}

	parent = start(map[string]string{key: down.URL}, "failed")
	child = fetchPage(t, srv.URL+"/runs/"+url.PathEscape(parent+":kids:"+key))
	if !lands(child, "/dlq?") {
		t.Errorf("the child run's link to its dead letter does not land on its row")
	}
}
