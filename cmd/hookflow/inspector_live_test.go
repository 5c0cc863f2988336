package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

const liveSrc = `
workflow "slow" {
  trigger "webhook" {
    path = "/slow"
  }
  step "delay" "cool_off" {
    duration = "1h"
  }
}
workflow "broken" {
  trigger "webhook" {
    path = "/broken"
  }
  step "http" "call" {
    url = "DOWN_URL"
    retry {
      attempts = 1
    }
  }
}
`

// notice is the text of the notice that a live page stopped updating, "" when it
// has none.
const notice = `(document.getElementById("not-updating") || {}).textContent || ""`

// A live page says when it stopped updating, and why, while it cannot read itself
// again: Redis is unreachable (and the page keeps what it read last), then the notice
// goes once it is back; hookflow is unreachable. A button whose change could not be
// made as Redis is unreachable says so, not that it was refused.
func TestInspectorSaysWhenItStopsUpdating(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	rdb := redistest.Durable(t) // it restarts with the runs it had
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "w.hcl"), strings.Replace(liveSrc, "DOWN_URL", down.URL, 1))
	cfg := serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", workers: 2, noWatch: true,
		allowNet: loopback, redisURL: rdb.URL}
	s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.shutdown() })
	admin := "http://" + s.adminAddr
	start := func(path string) string {
		t.Helper()
		status, answer := postJSON(t, "http://"+s.publicAddr+"/hooks/"+path, `{}`)
		if status != http.StatusAccepted {
			t.Fatalf("webhook answered %d %v", status, answer)
		}
		return answer["run_id"].(string)
	}
	slow, broken := start("slow"), start("broken")
	waitEngineRun(t, s.engine, broken, engine.RunFailed)
	// restart starts Redis again, and waits for hookflow to read runs from it: its
	// client dials again a while after a dial failed.
	restart := func() {
		t.Helper()
		rdb.Restart()
		testutil.Eventually(t, 10*time.Second, "hookflow reading runs again", func() bool {
			resp, err := http.Get(admin + "/api/v1/runs")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	}
	b := newBrowse(t)

	// A run going on: its page reads it every second.
	b.do("the run going on", chromedp.Navigate(admin+"/runs/"+slow), chromedp.WaitVisible(chromedp.CSS("#run[data-live]")))
	rdb.Stop()
	b.until("the run's page saying Redis is unreachable", notice+`.startsWith("Not updating: reading the run failed: Redis is unreachable: ")`)
	if got := eval[string](b, "the notice", notice); !strings.HasSuffix(got, "connection refused. The page shows what it read last, and reads it again until hookflow answers.") ||
		!eval[bool](b, "the run kept", `document.getElementById("not-updating").nextElementSibling.id === "run"`) {
		t.Errorf("the notice above the run: %q", got)
	}
	restart()
	b.until("the notice gone once Redis is back", notice+` === ""`)

	// The runs list: its note that it updates is hidden while it does not.
	b.do("the runs", chromedp.Navigate(admin+"/"), chromedp.WaitVisible(chromedp.CSS("#live-note")))
	rdb.Stop()
	b.until("the runs list saying Redis is unreachable", notice+`.startsWith("Not updating: listing runs failed: Redis is unreachable: ")`+
		` && document.getElementById("live-note").hidden`)
	restart()
	b.until("the runs list updating again", notice+` === "" && !document.getElementById("live-note").hidden`)

	// A replay while Redis is down could not be made: nothing refused it.
	b.do("the failed run", chromedp.Navigate(admin+"/runs/"+broken), chromedp.WaitVisible(chromedp.CSS("#replay-pinned")))
	rdb.Stop()
	b.do("replaying it", chromedp.Evaluate[chromedp.Void](acceptConfirms), chromedp.Click(chromedp.CSS("#replay-pinned")))
	if asked := eval[[]string](b, "the confirmation", `window.asked`); len(asked) != 1 || !strings.HasPrefix(asked[0], "Replay run "+broken+"?") {
		t.Errorf("replaying asked %q", asked)
	}
	b.until("the replay's answer", `document.getElementById("action-result").textContent !== ""`)
	if got := eval[string](b, "the replay's answer", `document.getElementById("action-result").textContent`); !strings.HasPrefix(got,
		"Could not do it: replaying run failed: Redis is unreachable: ") {
		t.Errorf("a replay with Redis down answered %q", got)
	}
	restart()

	// hookflow itself gone.
	b.do("the runs again", chromedp.Navigate(admin+"/"), chromedp.WaitVisible(chromedp.CSS("#live-note")))
	s.shutdown()
	b.until("the runs list saying hookflow is unreachable", notice+`.startsWith("Not updating: hookflow is unreachable.")`)
}

// A live page whose session ended (signed out in another tab) says so, with a link to
// sign in again and come back to it, rather than go on showing what it read last.
func TestInspectorSaysWhenItIsSignedOut(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "w.hcl"), strings.Replace(liveSrc, "DOWN_URL", "http://127.0.0.1:1/", 1))
	cfg := serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", workers: 2, noWatch: true,
		allowNet: loopback, access: accessConfig{token: inspectorToken}}
	s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.shutdown() })
	admin := "http://" + s.adminAddr
	b := newBrowse(t)
	b.do("signing in", chromedp.Navigate(admin+"/?status=running"), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), inspectorToken), chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS("#live-note")))
	if ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`fetch("/logout", {method: "POST", credentials: "same-origin"}).then((r) => r.ok)`,
		chromedp.EvalAwaitPromise)); err != nil || !ok {
		t.Fatalf("signing out in another tab: %v %v", ok, err)
	}
	b.until("the runs list saying it is signed out", notice+` === "Not updating: you are signed out. Sign in again."`)
	if got := eval[string](b, "the link", `document.querySelector("#not-updating a").href`); got != admin+"/login?next=%2F%3Fstatus%3Drunning" {
		t.Errorf("the link to sign in again: %q", got)
	}
}

// A live update of the runs list keeps the keyboard's place: the focused run link is
// the same run's link after new rows were swapped in, not the page's body.
func TestInspectorLiveRunsKeepFocus(t *testing.T) {
	_, admin, post := simpleRuns(t)
	first := post()
	b := newBrowse(t)
	link := `document.querySelector('#runs tr[data-run="` + first + `"] a')`
	b.do("the runs", chromedp.Navigate(admin+"/"), chromedp.WaitVisible(chromedp.CSS(`#runs tr[data-run="`+first+`"]`)))
	eval[bool](b, "focusing the first run's link", link+`.focus(), true`)
	next := post()
	b.until("the next run arriving", `!!document.querySelector('#runs tr[data-run="`+next+`"]')`)
	if got := eval[string](b, "the focus", `document.activeElement === `+link+` ? "" : document.activeElement.outerHTML.slice(0, 200)`); got != "" {
		t.Errorf("after a live update the focus is on %s, want the first run's link", got)
	}
}

// A run's page updated while the run goes on keeps the reader's place and says its
// error once: the focus on Copy as curl stays on that button; the run's error, an
// alert, is inserted when it appears, and not again with each update after, while
// the on_failure steps run and when the run ends.
func TestInspectorLiveRunKeepsFocusAndSaysItsErrorOnce(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	t.Setenv("INSPECTOR_API", down.URL)
	s, admin := serveInspector(t, `
workflow "flaky" {
  trigger "webhook" {
    path = "/flaky"
  }
  step "wait" "gate" {
    timeout = "1h"
  }
  step "http" "push" {
    url = env("INSPECTOR_API")
    retry {
      attempts = 1
    }
  }
  on_failure {
    step "wait" "ack" {
      timeout = "1h"
    }
  }
}
`)
	status, answer := postJSON(t, "http://"+s.publicAddr+"/hooks/flaky", `{"order": "A-1"}`)
	if status != http.StatusAccepted {
		t.Fatalf("webhook answered %d %v", status, answer)
	}
	id := answer["run_id"].(string)
	waitEngineRun(t, s.engine, id, engine.RunWaiting)
	resume := func(step string) {
		t.Helper()
		if status, answer := postJSON(t, admin+"/api/v1/runs/"+id+"/resume/"+url.PathEscape(step), `{}`); status != http.StatusOK {
			t.Fatalf("resuming %s answered %d %v", step, status, answer)
		}
	}
	b := newBrowse(t)
	b.do("the run waiting", chromedp.Navigate(admin+"/runs/"+id), chromedp.WaitVisible(chromedp.CSS(`button[data-copy="curl"]`)),
		chromedp.Evaluate[chromedp.Void](`(() => {
			window.alerts = 0;
			new MutationObserver((changes) => changes.forEach((c) => c.addedNodes.forEach((n) => {
				if (n.nodeType === Node.ELEMENT_NODE) window.alerts += n.querySelectorAll("div.error[role=alert]").length + (n.matches("div.error[role=alert]") ? 1 : 0);
			}))).observe(document.body, { childList: true, subtree: true });
			document.querySelector('button[data-copy="curl"]').focus();
		})()`))
	const onCurl = `document.activeElement.dataset.copy === "curl" ? "" : document.activeElement.cloneNode(false).outerHTML`

	resume("gate")
	b.until("the run's error shown, as an alert", `!!document.querySelector("#run div.error[role=alert]")`)
	if got := eval[string](b, "the focus", onCurl); got != "" {
		t.Errorf("after a live update the focus is on %s, want Copy as curl", got)
	}
	resume("on_failure/ack")
	b.until("the run over", `document.getElementById("run-status").textContent === "failed" && !document.getElementById("run").hasAttribute("data-live")`)
	if got := eval[int](b, "the alerts", `window.alerts`); got != 1 {
		t.Errorf("the run's error was inserted as an alert %d times, want once", got)
	}
	if got := eval[string](b, "the focus", onCurl); got != "" {
		t.Errorf("after the run ended the focus is on %s, want Copy as curl", got)
	}
}

// Cancel the run asks first; once the run is cancelled and the button gone with the
// page's update, the focus is on what came of it, not on the page's body.
func TestInspectorCancelKeepsTheFocus(t *testing.T) {
	s, admin := serveInspector(t, `
workflow "slow" {
  trigger "webhook" {
    path = "/slow"
  }
  step "delay" "cool_off" {
    duration = "1h"
  }
}
`)
	status, answer := postJSON(t, "http://"+s.publicAddr+"/hooks/slow", `{}`)
	if status != http.StatusAccepted {
		t.Fatalf("webhook answered %d %v", status, answer)
	}
	id := answer["run_id"].(string)
	waitEngineRun(t, s.engine, id, engine.RunRunning)
	b := newBrowse(t)
	cancel := `button[data-post$="/cancel"]`
	b.do("cancelling the run", chromedp.Navigate(admin+"/runs/"+id), chromedp.WaitVisible(chromedp.CSS(cancel)),
		chromedp.Evaluate[chromedp.Void](acceptConfirms), chromedp.Click(chromedp.CSS(cancel)))
	b.until("the run cancelled", `document.getElementById("run-status").textContent === "cancelled" && !document.querySelector('`+cancel+`')`)
	if asked := eval[[]string](b, "the confirmation", `window.asked`); len(asked) != 1 || !strings.HasPrefix(asked[0], "Cancel run "+id+"?") {
		t.Errorf("cancelling asked %q", asked)
	}
	if got := eval[string](b, "the focus", `document.activeElement.cloneNode(false).outerHTML`); !strings.Contains(got, `id="action-result"`) {
		t.Errorf("after cancelling the focus is on %s, not on what came of it", got)
	}
	if got := eval[string](b, "what came of it", `document.getElementById("action-result").textContent`); got != "Cancelled." {
		t.Errorf("cancelling said %q", got)
	}
}

// A live update of the runs list keeps the reader's place: the run read at the top of
// the screen, scrolled down to, stays where it is as a new run arrives above it.
func TestInspectorLiveRunsKeepTheReadersPlace(t *testing.T) {
	s, admin, start := simpleRuns(t)
	post := func() string {
		id := start()
		waitEngineRun(t, s.engine, id, engine.RunSucceeded)
		return id
	}
	var ids []string
	for range 30 {
		ids = append(ids, post())
	}
	read := ids[10] // the 20th row from the top
	row := `document.querySelector('#runs tr[data-run="` + read + `"]')`
	b := newBrowse(t)
	b.do("the runs, scrolled down", chromedp.EmulateViewport(1280, 600), chromedp.Navigate(admin+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#runs tr[data-run="`+ids[0]+`"]`)),
		chromedp.Evaluate[chromedp.Void](row+`.scrollIntoView(); window.was = `+row+`.getBoundingClientRect().top`))
	next := post()
	b.until("the next run arriving", `!!document.querySelector('#runs tr[data-run="`+next+`"]')`)
	if moved := eval[float64](b, "the row's place", row+`.getBoundingClientRect().top - window.was`); moved < -1 || moved > 1 {
		t.Errorf("the run read at the top of the screen moved %vpx as a new run arrived", moved)
	}
}

// holdPolls holds the page's polls from now on, until window.release() is called.
const holdPolls = `(() => {
  const held = new Promise((resolve) => { window.release = resolve; });
  const fetch = window.fetch;
  window.fetch = async function (...args) { await held; return fetch.apply(this, args); };
  return true;
})()`

// watchNew keeps in window.arrived the rows of the runs list inserted as new.
const watchNew = `(() => {
  window.arrived = {};
  new MutationObserver((changes) => changes.forEach((c) => c.addedNodes.forEach((n) => {
    if (n.nodeType !== Node.ELEMENT_NODE) return;
    [n, ...n.querySelectorAll("tr")].filter((r) => r.matches("tr.new[data-run]")).forEach((r) => { window.arrived[r.dataset.run] = r; });
  }))).observe(document.getElementById("runs"), { childList: true, subtree: true });
  return true;
})()`

// A run arriving in the runs list is highlighted as new for a while, not for as long
// as the page is open: its row, kept as it is by the updates that follow, is new no
// more once its highlight faded; and where it did not fade (no animation ran), the
// next update, which brings another run, takes it off.
func TestInspectorNewRunHighlightEnds(t *testing.T) {
	s, admin, start := simpleRuns(t)
	// done starts a run that is over before the page reads it: its row arrives as it
	// stays.
	done := func(b *browse) string {
		t.Helper()
		b.do("holding the page's polls", chromedp.Evaluate[chromedp.Void](holdPolls))
		id := start()
		waitEngineRun(t, s.engine, id, engine.RunSucceeded)
		b.do("letting the page read the run", chromedp.Evaluate[chromedp.Void](`window.release()`))
		b.until("the run arriving as new", `!!window.arrived[`+strconv.Quote(id)+`]`)
		return id
	}
	row := func(id string) string { return `document.querySelector('#runs tr[data-run="` + id + `"]')` }
	b := newBrowse(t)
	b.do("the runs", chromedp.Navigate(admin+"/"), chromedp.WaitVisible(chromedp.CSS("#live-note")),
		chromedp.Evaluate[chromedp.Void](watchNew))
	first := done(b)
	b.until("the first run's highlight ending", `!`+row(first)+`.classList.contains("new")`)
	if !eval[bool](b, "the row", row(first)+` === window.arrived[`+strconv.Quote(first)+`]`) {
		t.Errorf("the first run's row was replaced, not kept")
	}

	// No animation runs: the highlight ends with the next update.
	b.do("no animations", chromedp.Evaluate[chromedp.Void](`document.styleSheets[0].insertRule("tr.new { animation: none !important; }")`))
	second := done(b)
	third := done(b)
	if got := eval[[]string](b, "the rows new", `[...document.querySelectorAll("#runs tr.new")].map((r) => r.dataset.run)`); len(got) != 1 || got[0] != third {
		t.Errorf("the rows highlighted as new are %v, want only the last to arrive, %s (not %s)", got, third, second)
	}
}

// simpleRuns serves the inspector for one workflow of one log step, and gives a
// function that starts a run of it by its webhook and returns the run's id.
func simpleRuns(t *testing.T) (*server, string, func() string) {
	t.Helper()
	s, admin := serveInspector(t, `
workflow "simple" {
  trigger "webhook" {
    path = "/simple"
  }
  step "log" "l" {
    message = "hi"
  }
}
`)
	return s, admin, func() string {
		t.Helper()
		status, answer := postJSON(t, "http://"+s.publicAddr+"/hooks/simple", `{}`)
		if status != http.StatusAccepted {
			t.Fatalf("webhook answered %d %v", status, answer)
		}
		return answer["run_id"].(string)
	}
}
