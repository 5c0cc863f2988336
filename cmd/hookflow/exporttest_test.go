package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

const exportSrc = `
vars {
  api   = env("EXPORT_API")
  notes = env("EXPORT_NOTES_API", "https://notes.example.com/v1")
}

workflow "order_paid" {
  trigger "webhook" {
    path = "/orders"
  }

  step "http" "customer" {
    url     = "${vars.api}/customers/{{ event.body.customer }}"
    headers = { Authorization = "Bearer ${secret("EXPORT_TOKEN")}", X-Run = "{{ run.id }}", X-Shop = "{{ event.headers['x-shop'] }}" }
    retry {
      attempts = 3
      initial  = "10ms"
    }
  }

  step "http" "lines" {
    for_each = "event.body.lines"
    method   = "PUT"
    url      = "${vars.api}/lines/{{ each.value.sku }}"
    json     = { qty = "{{ each.value.qty }}" }
  }

  step "http" "note" {
    if   = "event.body.total > 0"
    url  = "${vars.notes}/notes"
    json = { text = "paid by {{ steps.customer.body.name }}", key = "k-${secret("EXPORT_TOKEN")}", run = "{{ run.id }}" }
  }

  step "http" "refund" {
    if  = "event.body.total < 0"
    url = "${vars.api}/refunds"
  }
}
`

// exportCanary is the secret of the exported workflow: it must be nowhere in the file.
const exportCanary = "canary-export-7d1f9a0c2b"

// A run of a real workflow on redis-server, exported with runs export-test, passes
// hookflow test, in a shell where the variables env() read are set otherwise or not at
// all; changed to send another body, the workflow fails it with a diff; the file holds
// no secret, no credential of the event, nothing of the old run's id.
func TestRunsExportTest(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls[r.URL.Path]++
		n := calls[r.URL.Path]
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasPrefix(r.URL.Path, "/customers/") && n == 1:
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error": "busy"}`)
		case strings.HasPrefix(r.URL.Path, "/customers/"):
			fmt.Fprintf(w, `{"id": %q, "name": "Ada"}`, strings.TrimPrefix(r.URL.Path, "/customers/"))
		case strings.HasPrefix(r.URL.Path, "/lines/"):
			fmt.Fprintf(w, `{"sku": %q, "reserved": true}`, strings.TrimPrefix(r.URL.Path, "/lines/"))
		default:
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"ok": true}`)
		}
	}))
	defer api.Close()
	t.Setenv("EXPORT_API", api.URL)
	t.Setenv("EXPORT_NOTES_API", api.URL+"/v2") // holds EXPORT_API's value: the longer is rewritten whole
	t.Setenv("EXPORT_TOKEN", exportCanary)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "orders.hcl"), exportSrc)
	s := serveDir(t, dir, redistest.Real(t).URL, "127.0.0.1:0")

	req, _ := http.NewRequest("POST", "http://"+s.publicAddr+"/hooks/orders?source=shop&api_key=query-secret-1234",
		strings.NewReader(`{"customer": "c1", "total": 12, "password": "body-secret-5678", "lines": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shop", "one")
	req.Header.Set("X-Api-Key", "header-secret-9012")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	runID := waitOneRun(t, s, "succeeded")

	hookflow := func(args ...string) (string, error) {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append(args, "--admin", s.adminAddr), nil, &stdout, &stderr)
		return stdout.String() + stderr.String(), err
	}
	file := filepath.Join(dir, "orders.test.hcl")
	if out, err := hookflow("runs", "export-test", runID, "--name", "a paid order", "-o", file); err != nil {
		t.Fatalf("export-test: %v\n%s", err, out)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, leak := range []string{exportCanary, "query-secret-1234", "body-secret-5678", "header-secret-9012", "Idempotency-Key", "X-Run ="} {
		if strings.Contains(text, leak) {
			t.Errorf("the exported test holds %q:\n%s", leak, text)
		}
	}
	for _, want := range []string{
		`test "a paid order" {`, `workflow = "order_paid"`,
		`x-shop       = "one"`, `source = "shop"`, // the event's header and query
		`mock "customer" {`, `status = 503`, `mock "lines[0]" {`, `mock "lines[1]" {`,
		`expect "customer" {`, `count = 2`, `X-Shop = "one"`, `expect "lines[1]" {`, `qty = 2`,
		`text = "paid by Ada"`, `expect "refund" {`, `skipped = true`,
		"# Left out: headers Authorization (a credential), X-Run (the old run's id)",
		`expect_run = "succeeded"`,
		// What env() read is written as hookflow test reads it, with a comment saying so.
		"# EXPORT_API, EXPORT_NOTES_API: written as hookflow test reads them",
		`url    = "https://unset.invalid/EXPORT_API/customers/c1"`,
		`url    = "https://notes.example.com/v1/notes"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the exported test lacks %q:\n%s", want, text)
		}
	}
	var formatted bytes.Buffer
	if err := run(context.Background(), []string{"fmt", "--check", file}, nil, &formatted, &formatted); err != nil {
		t.Errorf("the exported test is not as hookflow fmt writes it: %v\n%s", err, formatted.String())
	}
	if strings.Contains(text, api.URL) {
		t.Errorf("the exported test holds the URL env() read where the run was served, %s:\n%s", api.URL, text)
	}
	t.Setenv("EXPORT_API", "http://127.0.0.1:1/elsewhere")
	t.Setenv("EXPORT_NOTES_API", "")
	os.Unsetenv("EXPORT_NOTES_API")
	if out, code := hookflowTest(t, dir); code != 0 || !strings.Contains(out, "ok    a paid order") {
		t.Fatalf("the exported test fails on the workflow it was recorded from, exit %d:\n%s\n%s", code, out, text)
	}
	if out, _ := hookflow("runs", "export-test", runID); !strings.Contains(out, `test "run `+runID+` of order_paid"`) {
		t.Errorf("export-test to standard output, with the default name:\n%s", out)
	}

	writeFile(t, filepath.Join(dir, "orders.hcl"), strings.Replace(exportSrc, `"paid by {{`, `"settled by {{`, 1))
	out, code := hookflowTest(t, dir)
	if code != exitFailed || !strings.Contains(out, "FAIL  a paid order") ||
		!strings.Contains(out, `expect "note" json:`) || !strings.Contains(out, `.text: expected "paid by Ada", sent "settled by Ada"`) {
		t.Errorf("a changed body should fail the exported test with a diff, exit %d:\n%s", code, out)
	}
	if strings.Contains(out, exportCanary) {
		t.Errorf("hookflow test shows the secret:\n%s", out)
	}
}

// waitOneRun waits for the server's only run to have finished with status, and
// returns its id.
func waitOneRun(t *testing.T, s *server, status string) string {
	t.Helper()
	var id string
	c, err := newAdminClient(s.adminAddr)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 15*time.Second, "a run "+status, func() bool {
		var page struct {
			Runs []struct {
				ID, Status string
			} `json:"runs"`
		}
		if err := c.call(context.Background(), "GET", "/runs", nil, &page); err != nil || len(page.Runs) != 1 {
			return false
		}
		id = page.Runs[0].ID
		if page.Runs[0].Status == "failed" && status != "failed" {
			t.Fatalf("run %s failed", id)
		}
		return page.Runs[0].Status == status
	})
	return id
}

// A run that its workflow's timeout stopped under serve, exported with runs
// export-test, passes hookflow test: the test's run times out at the same step, with
// the same error, though its wait takes no time.
func TestRunsExportTestTimedOut(t *testing.T) {
	var mu sync.Mutex
	var paged []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		paged = append(paged, string(body))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok": true}`)
	}))
	defer api.Close()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "short.hcl"), `workflow "short" {
  timeout = "1s"
  trigger "webhook" {
    path = "/short"
  }
  step "wait" "approval" {
    timeout    = "1h"
    on_timeout = "continue"
  }
  step "log" "after" {
    message = "timed_out={{ steps.approval.timed_out }}"
  }
  on_failure {
    step "http" "page" {
      url  = "`+api.URL+`/page"
      json = { error = "{{ run.error }}" }
    }
  }
}
`)
	s := serveDir(t, dir, redistest.Real(t).URL, "127.0.0.1:0")
	resp, err := http.Post("http://"+s.publicAddr+"/hooks/short", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	runID := waitOneRun(t, s, "failed")
	const want = `{"error":"step approval: run timed out: its timeout of 1s passed"}`
	mu.Lock()
	got := strings.Join(paged, " ")
	mu.Unlock()
	if got != want {
		t.Fatalf("serve paged %s, want %s", got, want)
	}

	file := filepath.Join(dir, "short.test.hcl")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"runs", "export-test", runID, "--name", "timed out", "-o", file,
		"--admin", s.adminAddr}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("export-test: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if text := string(data); !strings.Contains(text, `expect_run = "failed"`) || strings.Contains(text, `resume "approval"`) {
		t.Errorf("the exported test:\n%s", text)
	}
	if out, code := hookflowTest(t, dir); code != 0 || !strings.Contains(out, "ok    timed out") {
		t.Fatalf("the exported test of a timed-out run fails, exit %d:\n%s\n%s", code, out, data)
	}
}

// runs export-test -o refuses a file whose name hookflow test would not read, before
// asking the admin API anything, and writes nothing.
func TestExportTestRefusesAFileNotATest(t *testing.T) {
	asked := make(chan string, 10)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked <- r.URL.Path
		w.Header().Set("Hookflow-Admin", "v1")
		io.WriteString(w, "test \"t\" {}\n")
	}))
	t.Cleanup(api.Close)
	dir := t.TempDir()
	for _, name := range []string{"run.hcl", "run.test", "run.test.hcl.bak", "run_test.hcl"} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(dir, name)
			var stderr bytes.Buffer
			err := run(context.Background(), []string{"runs", "export-test", "r1", "-o", file, "--admin", api.Listener.Addr().String()}, nil, io.Discard, &stderr)
			if code := exitStatus(err, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "-o "+file+": a test file's name ends in .test.hcl") {
				t.Errorf("exit %d, want 2 saying the name must end in .test.hcl:\n%s", code, stderr.String())
			}
			if _, err := os.Stat(file); !os.IsNotExist(err) {
				t.Errorf("%s was written (%v)", file, err)
			}
		})
	}
	select {
	case path := <-asked:
		t.Errorf("the admin API was asked for %s", path)
	default:
	}
	// A name that ends in .test.hcl is written.
	file := filepath.Join(dir, "run.test.hcl")
	if err := run(context.Background(), []string{"runs", "export-test", "r1", "-o", file, "--admin", api.Listener.Addr().String()}, nil, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(file); err != nil || string(data) != "test \"t\" {}\n" {
		t.Errorf("%s: %q %v", file, data, err)
	}
}

// A run of a for_each step over a map whose keys are "" and "a/b", exported with runs
// export-test, names the items as runs show them, r[] and r[a/b], and the file loads
// and passes hookflow test: the loader takes a label's key whole, as the test runner
// forms it.
func TestRunsExportTestMapKeys(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path": %q}`, r.URL.Path)
	}))
	defer api.Close()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "keys.hcl"), `workflow "keys" {
  trigger "webhook" {
    path = "/keys"
  }
  step "http" "r" {
    for_each = "event.body.codes"
    url      = "`+api.URL+`/status/{{ each.value }}"
  }
  step "set" "after" {
    paths = "{{ map(sort(keys(steps.r)), steps.r[#].body.path) }}"
  }
}
`)
	s := serveDir(t, dir, redistest.Real(t).URL, "127.0.0.1:0")
	resp, err := http.Post("http://"+s.publicAddr+"/hooks/keys", "application/json",
		strings.NewReader(`{"codes": {"": 200, "a/b": 201, "z": 202}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	runID := waitOneRun(t, s, "succeeded")

	file := filepath.Join(dir, "keys.test.hcl")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"runs", "export-test", runID, "--name", "map keys", "-o", file,
		"--admin", s.adminAddr}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("export-test: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`mock "r[]" {`, `mock "r[a/b]" {`, `mock "r[z]" {`, `expect "r[a/b]" {`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the exported test lacks %q:\n%s", want, data)
		}
	}
	if out, code := hookflowTest(t, dir); code != 0 || !strings.Contains(out, "ok    map keys") {
		t.Fatalf("the exported test fails, exit %d:\n%s\n%s", code, out, data)
	}
}

// A run whose mocked API echoed its resume URL, exported with the operator token (which
// sees the run's resume URLs as recorded), has every resume token's signature
// [redacted] in the test file: after its payload, and written alone.
func TestRunsExportTestRedactsResumeTokens(t *testing.T) {
	var sigs = make(chan string, 1)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, token, _ := strings.Cut(string(body), "/resume/")
		token, _, _ = strings.Cut(token, "?")
		_, sig, _ := strings.Cut(token, ".")
		select {
		case sigs <- sig:
		default:
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"echo": %s, "signature": %q}`, body, sig)
	}))
	defer api.Close()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ask.hcl"), `workflow "ask" {
  trigger "webhook" {
    path = "/ask"
  }
  step "http" "post" {
    url  = "`+api.URL+`/post"
    json = { text = "<{{ resume_url('approval') }}?decision=approve|Approve>" }
  }
  step "wait" "approval" {
    timeout = "1h"
  }
}
`)
	const op = "operator-0123456789abcdef"
	cfg := serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", workers: 2, allowNet: loopback,
		access: accessConfig{token: op}}
	s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.shutdown() })
	t.Setenv("HOOKFLOW_ADMIN_TOKEN", op)
	_, started := postJSON(t, "http://"+s.publicAddr+"/hooks/ask", `{}`)
	runID := started["run_id"].(string)
	var sig string
	select {
	case sig = <-sigs:
	case <-time.After(10 * time.Second):
		t.Fatal("the step posted nothing")
	}
	if len(sig) < 16 {
		t.Fatalf("no resume token's signature in what the step posted: %q", sig)
	}
	if err := run_(t, io.Discard, "runs", "resume", runID, "approval", "--body", `{}`, "--admin", s.adminAddr); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	testutil.Eventually(t, 10*time.Second, "the run exported", func() bool {
		out.Reset()
		return run_(t, &out, "runs", "export-test", runID, "--admin", s.adminAddr) == nil
	})
	text := out.String()
	if strings.Contains(text, sig) || !strings.Contains(text, ".[redacted]?decision=approve") || !strings.Contains(text, `signature = "[redacted]"`) {
		t.Errorf("the exported test holds the resume token's signature %s, or not its payload:\n%s", sig, text)
	}
}

// A call its OAuth2 api's token lacks the scope of (a 401 whose WWW-Authenticate says
// error="insufficient_scope") fails without a token fetched after it; runs show and
// the exported test show the challenge, so its mock answers the test's call as the
// API did, and the test's run takes the same path: one request, no token fetched, the
// same error.
func TestRunsExportTestInsufficientScope(t *testing.T) {
	const challenge = `Bearer realm="crm", error="insufficient_scope", scope="admin:write"`
	var mu sync.Mutex
	issued, called := 0, 0
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		issued++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token": "tok-scoped-4f1a", "token_type": "Bearer", "expires_in": 3600}`)
	}))
	defer auth.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		called++
		mu.Unlock()
		w.Header().Set("WWW-Authenticate", challenge)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"message": "forbidden"}`)
	}))
	defer api.Close()
	t.Setenv("SCOPE_CLIENT_SECRET", "client-secret-9c3e")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "admin.hcl"), `api "crm" {
  base_url = "`+api.URL+`"
  auth "oauth2" {
    token_url     = "`+auth.URL+`/token"
    client_id     = "hookflow"
    client_secret = secret("SCOPE_CLIENT_SECRET")
  }
}

workflow "grant" {
  trigger "webhook" {
    path = "/grant"
  }
  step "http" "grant" {
    api    = "crm"
    method = "POST"
    url    = "/admin/grants"
    json   = { user = "{{ event.body.user }}" }
  }
}
`)
	s := serveDir(t, dir, redistest.Real(t).URL, "127.0.0.1:0")
	resp, err := http.Post("http://"+s.publicAddr+"/hooks/grant", "application/json", strings.NewReader(`{"user": "ada"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	runID := waitOneRun(t, s, "failed")
	mu.Lock()
	if issued != 1 || called != 1 {
		t.Errorf("%d tokens fetched for %d calls, want 1 for 1", issued, called)
	}
	mu.Unlock()

	hookflow := func(args ...string) (string, error) {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append(args, "--admin", s.adminAddr), nil, &stdout, &stderr)
		return stdout.String() + stderr.String(), err
	}
	const why = "status 401 Unauthorized, expected 2xx (the API says insufficient_scope: scope admin:write; no new token fetched)"
	out, err := hookflow("runs", "show", runID, "--json")
	if err != nil {
		t.Fatalf("runs show: %v\n%s", err, out)
	}
	for _, want := range []string{why, `error=\"insufficient_scope\", scope=\"admin:write\"`} {
		if !strings.Contains(out, want) {
			t.Errorf("runs show lacks %s:\n%s", want, out)
		}
	}
	file := filepath.Join(dir, "admin.test.hcl")
	if out, err := hookflow("runs", "export-test", runID, "--name", "lacks a scope", "-o", file); err != nil {
		t.Fatalf("export-test: %v\n%s", err, out)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if !strings.Contains(text, `Www-Authenticate = "Bearer realm=\"crm\", error=\"insufficient_scope\", scope=\"admin:write\""`) {
		t.Errorf("the mock lacks the WWW-Authenticate header:\n%s", text)
	}
	if strings.Contains(text, "client-secret-9c3e") || strings.Contains(text, "tok-scoped-4f1a") {
		t.Errorf("the exported test holds a credential:\n%s", text)
	}
	out, code := hookflowTest(t, "-v", dir)
	if code != 0 || !strings.Contains(out, "ok    lacks a scope") {
		t.Fatalf("the exported test fails on the workflow it was recorded from, exit %d:\n%s\n%s", code, out, text)
	}
	// The test's run sent the call once and failed as the recorded run did: a mock
	// without the challenge would have it fetch a token and send the call again.
	if !strings.Contains(out, "error: POST "+api.URL+"/admin/grants: "+why+"\n") || strings.Count(out, "← 401") != 1 {
		t.Errorf("the test's run did not take the recorded run's path:\n%s", out)
	}
}
