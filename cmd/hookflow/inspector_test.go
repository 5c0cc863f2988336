package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/testutil"
)

var updateScreenshots = flag.Bool("update", false, "rewrite the run inspector's screenshots, docs/inspector-*.png")

// inspectorSrc is an order workflow: a for_each over the order's lines, two steps in
// parallel, and a call to a warehouse API that carries a secret and fails (404) until
// the file is fixed to call the right path.
const inspectorSrc = `
vars {
  api   = env("INSPECTOR_API")
  token = secret("INSPECTOR_TOKEN")
}

workflow "orders" {
  description = "Reserve an order's lines, tell the team, ship it."

  trigger "webhook" {
    path = "/orders"
  }

  step "http" "reserve" {
    for_each = "event.body.lines"
    url      = "${vars.api}/stock/{{ each.value.sku }}"
    method   = "POST"
    json     = { qty = "{{ each.value.qty }}" }
  }

  parallel "notify" {
    step "http" "slack" {
      url  = "${vars.api}/slack"
      json = { text = "Order {{ event.body.order }} received" }
    }
    step "log" "audit" {
      message = "order {{ event.body.order }}"
    }
  }

  step "http" "ship" {
    url     = "${vars.api}/SHIP_PATH"
    method  = "POST"
    headers = { Authorization = "Bearer ${vars.token}" }
    json    = { order = "{{ event.body.order }}" }
  }
}
`

const inspectorToken = "operator-inspector-0123456789"

// chromiumPath finds the browser the inspector's tests drive: missing, they skip,
// but fail in CI (CI=true), where .ci/run installs it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium to test the run inspector with: apt-get install chromium")
	}
	t.Skip("no chromium: apt-get install chromium to test the run inspector")
	return ""
}

// newBrowser starts a headless chromium for the test, and returns the context of its
// tab, which ends within the given time; the browser ends with the test.
func newBrowser(t *testing.T, chromium string, within time.Duration) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium),
		chromedp.NoSandbox, chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bctx, within)
	t.Cleanup(cancel)
	return ctx
}

// The run inspector in a real browser: sign in with the token, watch a run arrive
// after a webhook, open it and read the request its step sent, copy it as a test, see
// a broken file's diagnostic, fix the workflow and replay the failed run on the
// current version, and never find the secret in any page.
func TestInspectorInBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	var shipped atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		switch {
		case r.URL.Path == "/ship":
			shipped.Add(1)
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"tracking": "TRK-77"}`)
		case strings.HasPrefix(r.URL.Path, "/stock/"), r.URL.Path == "/slack":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"ok": true}`)
		default:
			http.Error(w, `{"error": "no such endpoint"}`, http.StatusNotFound)
		}
	}))
	defer api.Close()
	t.Setenv("INSPECTOR_API", api.URL)
	t.Setenv("INSPECTOR_TOKEN", canarySecret)

	dir := t.TempDir()
	file := filepath.Join(dir, "orders.hcl")
	writeFile(t, file, strings.Replace(inspectorSrc, "SHIP_PATH", "shipments", 1))
	cfg := serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", workers: 4, noWatch: true,
		allowNet: loopback, access: accessConfig{token: inspectorToken}}
	s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer s.shutdown()
	admin := "http://" + s.adminAddr

	ctx := newBrowser(t, chromium, 60*time.Second)
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// noSecret checks the whole DOM of the page, closed <details> included.
	noSecret := func(page string) {
		t.Helper()
		html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(html, canarySecret) {
			t.Errorf("the secret is in the DOM of %s", page)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	shoot := func(name string) {
		t.Helper()
		if !*updateScreenshots {
			return
		}
		shot := chromedp.FullScreenshot(100) // 100: PNG
		if name == "phone" {
			shot = chromedp.CaptureScreenshot() // the first screen
		}
		png, err := chromedp.Run(ctx, shot)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join("..", "..", "docs", "inspector-"+name+".png"), string(png))
	}

	// Signing in: the page sends a browser without a session to the form.
	do("signing in", chromedp.Navigate(admin+"/"), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), inspectorToken), chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS("#runs")))
	noSecret("the empty run list")

	// A webhook: its run appears in the list without a reload.
	status, answer := postJSON(t, "http://"+s.publicAddr+"/hooks/orders",
		`{"order": "A-1042", "customer": "Ada Lovelace", "lines": [{"sku": "tea", "qty": 2}, {"sku": "cup", "qty": 1}]}`)
	if status != http.StatusAccepted {
		t.Fatalf("webhook answered %d %v", status, answer)
	}
	id := answer["run_id"].(string)
	do("seeing the run arrive", chromedp.WaitVisible(chromedp.CSS(`#runs tr[data-run="`+id+`"]`)))
	waitEngineRun(t, s.engine, id, engine.RunFailed)
	do("seeing it fail", chromedp.Poll[chromedp.Void](
		`document.querySelector('#runs tr[data-run="`+id+`"] .status').textContent == "failed"`,
		chromedp.WithPollingTimeout(10*time.Second)))
	noSecret("the run list")

	// The run: the request its failing step sent, and what came back.
	do("opening the run", chromedp.Click(chromedp.CSS(`#runs a[href="/runs/`+id+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#step-ship details.request summary")),
		chromedp.Click(chromedp.CSS("#step-ship details.request summary")))
	if got := text("#step-ship details.request"); !strings.Contains(got, "POST "+api.URL+"/shipments") ||
		!strings.Contains(got, "Authorization: Bearer [redacted]") || !strings.Contains(got, `{"order":"A-1042"}`) ||
		!strings.Contains(got, "404 Not Found") {
		t.Errorf("the ship step's request on the page:\n%s", got)
	}
	if got := text("#run-status"); got != "failed" {
		t.Errorf("run status %q", got)
	}
	if got := text(`[id="step-reserve[1]"]`); !strings.Contains(got, "succeeded") {
		t.Errorf("the second item of reserve: %q", got)
	}
	shoot("run")
	noSecret("the failed run")

	// Copy as test: the button reads the run as a test file from the admin API and
	// shows it (a headless browser may not grant the clipboard).
	do("copying the run as a test", chromedp.Click(chromedp.CSS("#copy-test")), chromedp.Poll[chromedp.Void](
		`document.querySelector('#test-file').textContent.includes('expect_run = "failed"')`, chromedp.WithPollingTimeout(10*time.Second)))
	// The run's id names the test, and its comment says what it was recorded from
	// (docs/inspector.md).
	if got := text("#test-file"); !strings.Contains(got, `test "run `+id+` of orders"`) ||
		!strings.Contains(got, "# Recorded from run "+id+" of workflow orders") || !strings.Contains(got, `mock "reserve[1]"`) ||
		!strings.Contains(got, `status = 404`) || !strings.Contains(got, `order = "A-1042"`) {
		t.Errorf("the run copied as a test:\n%s", got)
	}
	noSecret("the failed run copied as a test")

	do("dead letters", chromedp.Click(chromedp.CSS(`nav a[href="/dlq"]`)), chromedp.WaitVisible(chromedp.CSS("#dead-letters")))
	if got := text("#dead-letters tbody"); !strings.Contains(got, id) || !strings.Contains(got, "ship") {
		t.Errorf("dead letters:\n%s", got)
	}
	shoot("dlq")
	noSecret("the dead letters")

	// A broken file: the reload fails, and the workflows page says where.
	writeFile(t, filepath.Join(dir, "broken.hcl"), "workflow \"broken\" {\n  step \"http\" \"x\" {\n    urll = \"https://example.com\"\n  }\n}\n")
	s.config.Reload("test")
	do("the workflows", chromedp.Click(chromedp.CSS(`nav a[href="/workflows"]`)), chromedp.WaitVisible(chromedp.CSS("#diagnostics")))
	if got := text("#diagnostics"); !strings.Contains(got, "broken.hcl:3:5") || !strings.Contains(got, "urll") {
		t.Errorf("the diagnostics on the page:\n%s", got)
	}
	if got := text("main"); !strings.Contains(got, "POST http://"+dialable(s.publicAddr)+"/hooks/orders") {
		t.Errorf("no webhook URL on the workflows page:\n%s", got)
	}
	shoot("workflows")
	noSecret("the workflows")

	// Fixed: the failed run, replayed on the current version, succeeds.
	os.Remove(filepath.Join(dir, "broken.hcl"))
	writeFile(t, file, strings.Replace(inspectorSrc, "SHIP_PATH", "ship", 1))
	if st := s.config.Reload("test"); !st.OK {
		t.Fatalf("reload: %s", st.Error)
	}
	do("replaying on the current version", chromedp.Navigate(admin+"/runs/"+id),
		chromedp.WaitVisible(chromedp.CSS("#replay-current")), chromedp.Evaluate[chromedp.Void](acceptConfirms),
		chromedp.Click(chromedp.CSS("#replay-current")))
	// It sends the run's requests again: it asks first.
	if asked, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.asked`)); err != nil ||
		len(asked) != 1 || !strings.HasPrefix(asked[0], "Replay run "+id+"?") {
		t.Errorf("replaying asked %q (%v), want whether to replay run %s", asked, err, id)
	}
	do("seeing the replay succeed", chromedp.Poll[chromedp.Void](
		`(document.querySelector('#run-status') || {}).textContent == "succeeded"`, chromedp.WithPollingTimeout(15*time.Second)))
	if shipped.Load() != 1 {
		t.Errorf("shipped %d times", shipped.Load())
	}
	noSecret("the replayed run")

	if *updateScreenshots { // the list with the replayed run and another, then the run on a phone
		postJSON(t, "http://"+s.publicAddr+"/hooks/orders", `{"order": "A-1043", "customer": "Charles Babbage", "lines": [{"sku": "tea", "qty": 1}]}`)
		do("the runs", chromedp.Navigate(admin+"/"), chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('#runs .status')].filter((e) => /succeeded|failed/.test(e.textContent)).length == 2`,
			chromedp.WithPollingTimeout(10*time.Second)))
		shoot("runs")
		do("a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Navigate(admin+"/runs/"+id),
			chromedp.WaitVisible(chromedp.CSS("#run-status")))
		shoot("phone")
	}
}

// waitEngineRun waits for a run to reach a status.
func waitEngineRun(t *testing.T, e *engine.Engine, id string, want engine.RunStatus) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, fmt.Sprintf("run %s %s", id, want), func() bool {
		run, err := e.Run(context.Background(), id)
		return err == nil && run.Status == want
	})
}

// countPolls counts, in window.polls, the page's requests for itself from now on:
// the live updates' polls.
const countPolls = `(() => {
  window.polls = 0;
  const fetch = window.fetch;
  window.fetch = function (...args) { window.polls++; return fetch.apply(this, args); };
  return true;
})()`

// acceptConfirms answers yes to the confirmations the page asks from now on, and
// keeps what they asked in window.asked.
const acceptConfirms = `(() => {
  window.asked = [];
  window.confirm = (question) => { window.asked.push(question); return true; };
  return true;
})()`

// The live updates swap in only what changed on the server: a list or a run that did
// not change keeps its elements, the reader's focus and selection between polls; once
// the run changes, the sections the reader opened stay open by what they are, not by
// where they were, so a resumed wait opens nothing else.
func TestInspectorLiveUpdatesKeepThePage(t *testing.T) {
	chromium := chromiumPath(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "approve.hcl"), `
workflow "approve" {
  step "wait" "approval" {
    timeout = "1h"
  }
  step "log" "after" {
    message = "approved"
  }
}
`)
	cfg := serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", workers: 2, noWatch: true, allowNet: loopback}
	s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer s.shutdown()
	admin := "http://" + s.adminAddr
	status, answer := postJSON(t, admin+"/api/v1/workflows/approve/runs", `{"order": "A-1"}`)
	if status != http.StatusAccepted {
		t.Fatalf("start answered %d %v", status, answer)
	}
	id := answer["run_id"].(string)
	waitEngineRun(t, s.engine, id, engine.RunWaiting)

	ctx := newBrowser(t, chromium, 60*time.Second)
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	check := func(what, expr string) {
		t.Helper()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !ok {
			t.Errorf("%s: not so", what)
		}
	}
	polled := func(n int) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](fmt.Sprintf("window.polls >= %d", n), chromedp.WithPollingTimeout(15*time.Second))
	}

	// The runs list: nothing changes, so nothing is swapped (the first poll has
	// ended when the second starts).
	do("the runs", chromedp.Navigate(admin+"/"), chromedp.WaitVisible(chromedp.CSS(`#runs tr[data-run="`+id+`"]`)),
		chromedp.Evaluate[chromedp.Void](countPolls),
		chromedp.Evaluate[chromedp.Void](`window.kept = document.querySelector('#runs tbody');
			window.link = document.querySelector('#runs tbody a');
			window.link.focus(); getSelection().selectAllChildren(window.link)`),
		polled(2))
	check("the runs' rows kept", `window.kept === document.querySelector('#runs tbody')`)
	check("the focus kept in the runs", `document.activeElement === window.link`)
	check("the selection kept in the runs", `getSelection().toString() === "`+id+`"`)

	// A waiting run: its page does not change until it is resumed.
	do("the waiting run", chromedp.Navigate(admin+"/runs/"+id), chromedp.WaitVisible(chromedp.CSS("details.resume-url summary")),
		chromedp.Click(chromedp.CSS("details.resume-url summary")),
		chromedp.Evaluate[chromedp.Void](countPolls),
		chromedp.Evaluate[chromedp.Void](`window.kept = document.getElementById('run');
			window.copy = document.querySelector('details.resume-url button');
			window.copy.focus(); getSelection().selectAllChildren(document.querySelector('details.resume-url pre'))`),
		polled(2))
	check("the run kept", `window.kept === document.getElementById('run')`)
	check("the focus kept on the run", `document.activeElement === window.copy`)
	check("the selection kept on the run", `getSelection().toString().includes("/resume/")`)

	// Resumed: the wait and its opened section go; the sections the reader had not
	// opened stay closed.
	status, answer = postJSON(t, admin+"/api/v1/runs/"+id+"/resume/approval", `{"ok": true}`)
	if status != http.StatusOK {
		t.Fatalf("resume answered %d %v", status, answer)
	}
	do("seeing the run succeed", chromedp.Poll[chromedp.Void](
		`(document.querySelector('#run-status') || {}).textContent == "succeeded"`, chromedp.WithPollingTimeout(15*time.Second)),
		chromedp.WaitVisible(chromedp.CSS("#step-approval details.output")))
	check("the wait's output closed", `!document.querySelector('#step-approval details.output').open`)
	check("the event's body open, as served", `document.querySelector('#event-body').open`)
}

// Retry on the dead letters page asks first (it sends the step's requests again),
// and says what came of it where the reader sees it, and stays said: a retry queued
// names its run and takes the row's buttons away, the focus going to what it said; a
// retry of a dead letter retried meanwhile is refused for that, not for a missing
// run, the focus back on its button.
func TestInspectorDeadLetterRetry(t *testing.T) {
	chromium := chromiumPath(t)
	var answer atomic.Int32
	answer.Store(http.StatusInternalServerError)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(answer.Load()))
	}))
	defer api.Close()
	t.Setenv("INSPECTOR_API", api.URL)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "sync.hcl"), `
workflow "sync" {
  step "http" "push" {
    url = env("INSPECTOR_API")
  }
}
`)
	cfg := serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", workers: 2, noWatch: true, allowNet: loopback}
	s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer s.shutdown()
	admin := "http://" + s.adminAddr
	var ids []string
	for range 2 {
		status, started := postJSON(t, admin+"/api/v1/workflows/sync/runs", `{}`)
		if status != http.StatusAccepted {
			t.Fatalf("start answered %d %v", status, started)
		}
		ids = append(ids, started["run_id"].(string))
		waitEngineRun(t, s.engine, ids[len(ids)-1], engine.RunFailed)
	}
	answer.Store(http.StatusOK)

	ctx := newBrowser(t, chromium, 60*time.Second)
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	retry := func(id string) string { return `button[data-post="/api/v1/dlq/` + id + `:push/retry?version=pinned"]` }
	// said waits for the visible result to say want, and returns what it says.
	said := func(what, want string) string {
		t.Helper()
		do(what, chromedp.Poll[chromedp.Void](`(() => {
			const el = document.getElementById("action-result");
			return el && el.textContent.includes(`+strconv.Quote(want)+`) && !el.closest(".visually-hidden") &&
				el.getBoundingClientRect().height > 0;
		})()`, chromedp.WithPollingTimeout(10*time.Second)))
		got, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS("#action-result")))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	// focused is the element that has the focus, as its tag alone.
	focused := func() string {
		t.Helper()
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.cloneNode(false).outerHTML`))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	do("the dead letters", chromedp.Navigate(admin+"/dlq"), chromedp.WaitVisible(chromedp.CSS(retry(ids[0]))),
		chromedp.WaitVisible(chromedp.CSS(retry(ids[1]))), chromedp.Evaluate[chromedp.Void](acceptConfirms),
		chromedp.Click(chromedp.CSS(retry(ids[0]))))
	if got := said("retrying", "queued again"); !strings.Contains(got, ids[0]) {
		t.Errorf("the retry's result %q does not name run %s", got, ids[0])
	}
	if asked, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.asked`)); err != nil ||
		len(asked) != 1 || !strings.HasPrefix(asked[0], "Retry step push of run "+ids[0]+"?") {
		t.Errorf("retrying asked %q (%v), want whether to retry step push of run %s", asked, err, ids[0])
	}
	if got := focused(); !strings.Contains(got, `id="action-result"`) {
		t.Errorf("after the retry the focus is on %s, not on what it said", got)
	}
	waitEngineRun(t, s.engine, ids[0], engine.RunSucceeded)
	disabled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('`+retry(ids[0])+`').disabled`))
	if err != nil || !disabled {
		t.Errorf("the retried dead letter's button is still enabled (%v)", err)
	}

	// Retried meanwhile, through the API: the page's button is refused, and says why.
	if status, out := postJSON(t, admin+"/api/v1/dlq/"+ids[1]+":push/retry", `{}`); status != http.StatusAccepted {
		t.Fatalf("retry answered %d %v", status, out)
	}
	waitEngineRun(t, s.engine, ids[1], engine.RunSucceeded)
	do("retrying it again", chromedp.Click(chromedp.CSS(retry(ids[1]))))
	if got := said("the refusal", "Refused"); !strings.Contains(got, "no dead letter "+ids[1]+":push") || strings.Contains(got, "run not found") {
		t.Errorf("the refusal says %q", got)
	}
	if got := focused(); !strings.Contains(got, `data-post="/api/v1/dlq/`+ids[1]+`:push/retry?version=pinned"`) {
		t.Errorf("after the refusal the focus is on %s, not on the button", got)
	}
}
