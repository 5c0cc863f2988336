package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/hookflow/hookflow/engine"
)

// The button that replays a run on the current version replays it on the version it
// names: when the files changed after the page was read, the replay is refused,
// saying which version is in use now, and the run stays as it was. As on the dead
// letters page, the refusal takes the focus, in view on a phone, and says to read the
// page again, with a link that does; the button is offered no more (aria-disabled,
// described by the refusal), and pressing it does nothing. Read again, the page
// offers the version in use.
func TestInspectorReplaysOnTheVersionItNames(t *testing.T) {
	s, admin := serveSyncToV1(t)
	status, started := postJSON(t, admin+"/api/v1/workflows/sync/runs", `{}`)
	if status != http.StatusAccepted {
		t.Fatalf("start answered %d %v", status, started)
	}
	id := started["run_id"].(string)
	waitEngineRun(t, s.engine, id, engine.RunFailed)
	edit := func(path string) string {
		t.Helper()
		writeFile(t, filepath.Join(s.config.dir, "w.hcl"), strings.Replace(syncToSrc, "PATH", path, 1))
		if st := s.config.Reload("test"); !st.OK {
			t.Fatalf("reload: %s", st.Error)
		}
		return s.config.set.Load().Workflow("sync").Version
	}
	v2 := edit("v2")

	b := newBrowse(t)
	b.do("the failed run on a phone", chromedp.EmulateViewport(375, 700), chromedp.Navigate(admin+"/runs/"+id),
		chromedp.WaitVisible(chromedp.CSS("#replay-current")))
	if got := eval[string](b, "the button", `document.getElementById("replay-current").textContent`); got != "Replay on the current version ("+v2+")" {
		t.Fatalf("the button says %q", got)
	}
	v3 := edit("v3")
	b.do("replaying on the version the page shows", chromedp.Evaluate[chromedp.Void](acceptConfirms), chromedp.Click(chromedp.CSS("#replay-current")))
	b.until("the replay refused", `document.getElementById("action-result").textContent.startsWith("Refused: ")`)
	type refusal struct {
		Text           string
		Focused, Shown bool
	}
	got := eval[refusal](b, "the refusal", `(() => {
		const note = document.getElementById("action-result");
		const box = note.getBoundingClientRect();
		return {text: note.textContent, focused: document.activeElement === note,
			shown: box.top >= 0 && box.bottom <= innerHeight && box.height > 0};
	})()`)
	if got.Text != "Refused: the run cannot be replayed on version "+v2+": the current version of workflow sync is now "+v3+
		". Reload the page to replay on the version in use now. Reload the page" {
		t.Errorf("the refusal says %q", got.Text)
	}
	if !got.Focused || !got.Shown {
		t.Errorf("the refusal is not where the reader is: %+v", got)
	}
	if run, err := s.engine.Run(context.Background(), id); err != nil || run.Status != engine.RunFailed || run.Replays != 0 {
		t.Fatalf("the refused replay changed the run: %+v, %v", run, err)
	}
	button, err := chromedp.Run(b.ctx, axOf(`document.getElementById("replay-current")`))
	if err != nil {
		t.Fatal(err)
	}
	if !button.Disabled || button.Description != got.Text {
		t.Errorf("a screen reader reads the replay on %s as %+v", v2, button)
	}
	b.do("pressing it again", chromedp.Focus(chromedp.CSS("#replay-current")), chromedp.KeyEvent("\r"),
		chromedp.Click(chromedp.CSS("#replay-current")))
	if !eval[bool](b, "the focus", `document.activeElement === document.getElementById("replay-current")`) {
		t.Errorf("the replay on %s cannot be reached by the keyboard", v2)
	}
	if asked := eval[int](b, "what was asked", `window.asked.length`); asked != 1 {
		t.Errorf("pressing the replay no longer offered asked again: %d questions", asked)
	}
	if !eval[bool](b, "the pinned replay", `!document.getElementById("replay-pinned").hasAttribute("aria-disabled")`) {
		t.Errorf("the replay on the run's version is no longer offered")
	}

	b.do("the run read again", chromedp.Click(chromedp.CSS("#action-result a")),
		chromedp.WaitVisible(chromedp.CSS(`#replay-current[data-version="`+v3+`"]`)))
	b.until("the page's script", `document.readyState === "complete"`) // its buttons wired
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
// as it was. On a phone, where the list runs past the screen, the refusal shows in
// the row of the button pressed, in view, and takes the focus; it says to read the
// page again, with a link that does; and every retry of that workflow on the version
// no longer in use is offered no more: aria-disabled, so the keyboard still reaches
// each and a screen reader says why, and pressing one does nothing. Read again, the
// page offers the version in use.
func TestInspectorDeadLetterRetriesOnTheVersionItNames(t *testing.T) {
	s, admin := serveSyncToV1(t)
	var ids []string
	for range 3 {
		status, started := postJSON(t, admin+"/api/v1/workflows/sync/runs", `{}`)
		if status != http.StatusAccepted {
			t.Fatalf("start answered %d %v", status, started)
		}
		ids = append(ids, started["run_id"].(string))
		waitEngineRun(t, s.engine, ids[len(ids)-1], engine.RunFailed)
	}
	edit := func(path string) string {
		t.Helper()
		writeFile(t, filepath.Join(s.config.dir, "w.hcl"), strings.Replace(syncToSrc, "PATH", path, 1))
		if st := s.config.Reload("test"); !st.OK {
			t.Fatalf("reload: %s", st.Error)
		}
		return s.config.set.Load().Workflow("sync").Version
	}
	v2 := edit("v2")

	currentOf := func(id string) string {
		return `#dead-letters button[data-post^="/api/v1/dlq/` + id + `:push/retry?version="]:not([data-post$="=pinned"])`
	}
	current := currentOf(ids[0]) // the oldest dead letter: the last row, far below the top of the page
	b := newBrowse(t)
	b.do("the dead letters on a phone", chromedp.EmulateViewport(375, 700), chromedp.Navigate(admin+"/dlq"),
		chromedp.WaitVisible(chromedp.CSS(current)))
	if got := eval[string](b, "the button", `document.querySelector('`+current+`').textContent`); got != "On current version ("+v2+")" {
		t.Fatalf("the button says %q", got)
	}
	v3 := edit("v3")
	b.do("retrying on the version the page shows", chromedp.Evaluate[chromedp.Void](acceptConfirms), chromedp.Click(chromedp.CSS(current)))
	b.until("the retry refused", `!!document.querySelector("#dead-letters p.refused")`)
	type refusal struct {
		ID, Text, Said        string
		Focused, InRow, Shown bool
	}
	got := eval[refusal](b, "the refusal", `(() => {
		const note = document.querySelector("#dead-letters p.refused");
		const box = note.getBoundingClientRect();
		return {id: note.id, text: note.textContent, said: document.getElementById("action-result").textContent,
			focused: document.activeElement === note,
			inRow: note.closest("tr") === document.querySelector('`+current+`').closest("tr"),
			shown: box.top >= 0 && box.bottom <= innerHeight && box.height > 0};
	})()`)
	if !strings.Contains(got.Text, "Refused: the run cannot be replayed on version "+v2+": the current version of workflow sync is now "+v3+".") ||
		!strings.HasSuffix(got.Text, " Reload the page to retry on the version in use now. Reload the page") {
		t.Errorf("the refusal says %q", got.Text)
	}
	if !got.Focused || !got.InRow || !got.Shown || got.Said != "" {
		t.Errorf("the refusal is not where the reader is: %+v", got)
	}
	if run, err := s.engine.Run(context.Background(), ids[0]); err != nil || run.Status != engine.RunFailed || run.Replays != 0 {
		t.Fatalf("the refused retry changed the run: %+v, %v", run, err)
	}
	if !eval[bool](b, "the buttons", `[...document.querySelectorAll("#dead-letters button[data-post]")].every((b) =>
		b.dataset.post.endsWith("=pinned") ? !b.hasAttribute("aria-disabled") :
			b.getAttribute("aria-disabled") === "true" && b.getAttribute("aria-describedby") === `+strconv.Quote(got.ID)+` && !b.disabled)`) {
		t.Errorf("the retries on version %s are offered as before, or the retries on the run's version are not", v2)
	}
	other, err := chromedp.Run(b.ctx, axOf(`document.querySelector('`+currentOf(ids[2])+`')`))
	if err != nil {
		t.Fatal(err)
	}
	if !other.Disabled || other.Description != got.Text {
		t.Errorf("a screen reader reads the retry of another dead letter as %+v", other)
	}
	for _, id := range []string{ids[0], ids[2]} {
		b.do("pressing the retry on "+v2, chromedp.Focus(chromedp.CSS(currentOf(id))), chromedp.KeyEvent("\r"),
			chromedp.Click(chromedp.CSS(currentOf(id))))
		if !eval[bool](b, "the focus", `document.activeElement === document.querySelector('`+currentOf(id)+`')`) {
			t.Errorf("the retry of %s on %s cannot be reached by the keyboard", id, v2)
		}
	}
	if asked := eval[int](b, "what was asked", `window.asked.length`); asked != 1 {
		t.Errorf("pressing a retry no longer offered asked again: %d questions", asked)
	}
	if n := eval[int](b, "the refusals", `document.querySelectorAll("#dead-letters p.refused").length`); n != 1 {
		t.Errorf("%d refusals, want the one", n)
	}

	b.do("the page read again", chromedp.Click(chromedp.CSS("#dead-letters p.refused a")),
		chromedp.WaitVisible(chromedp.CSS(`#dead-letters button[data-version="`+v3+`"]`)))
	b.until("the page's script", `document.readyState === "complete"`) // its buttons wired
	if got := eval[string](b, "the button", `document.querySelector('`+current+`').textContent`); got != "On current version ("+v3+")" {
		t.Fatalf("the button says %q", got)
	}
	b.do("retrying on it", chromedp.Evaluate[chromedp.Void](acceptConfirms), chromedp.Click(chromedp.CSS(current)))
	waitEngineRun(t, s.engine, ids[0], engine.RunSucceeded)
	if run, _ := s.engine.Run(context.Background(), ids[0]); run.Version != v3 {
		t.Errorf("the run was retried on %s, want %s", run.Version, v3)
	}
}

// axNode is the node of the accessibility tree of the element a script gives, as a
// screen reader reads it: its name, its description, and whether it is disabled.
type axNode struct {
	Name, Description string
	Disabled          bool
}

func axOf(script string) chromedp.Action[axNode] {
	return func(ctx context.Context, t *chromedp.Target) (axNode, error) {
		obj, err := cdp.Call(ctx, t, runtime.Evaluate, runtime.EvaluateParams{Expression: script})
		if err != nil {
			return axNode{}, err
		}
		if obj.Result == nil || obj.Result.ObjectID == "" {
			return axNode{}, fmt.Errorf("%s is no element", script)
		}
		no := false
		tree, err := cdp.Call(ctx, t, accessibility.GetPartialAXTree, accessibility.GetPartialAXTreeParams{ObjectID: obj.Result.ObjectID, FetchRelatives: &no})
		if err != nil || len(tree.Nodes) == 0 {
			return axNode{}, fmt.Errorf("the accessibility tree of %s: %v", script, err)
		}
		text := func(v *accessibility.Value) string {
			var s string
			if v != nil {
				json.Unmarshal(v.Value, &s)
			}
			return s
		}
		n := tree.Nodes[0]
		got := axNode{Name: text(n.Name), Description: text(n.Description)}
		for _, p := range n.Properties {
			if p.Name == accessibility.PropertyNameDisabled && string(p.Value.Value) == "true" {
				got.Disabled = true
			}
		}
		return got, nil
	}
}

// A run that failed as the workflow it calls was gone says so beside its replay
// buttons, in words a screen reader reads with the replay on its version, which is
// disabled (it would fail again); on a phone too. It is disabled as aria-disabled:
// the keyboard reaches it, for a screen reader to say why, and pressing it does
// nothing. The replay on the current version, whose steps call no such workflow, goes
// on.
func TestInspectorRunCallingAGoneWorkflow(t *testing.T) {
	const src = `
workflow "parent" {
  step "wait" "gate" {
    timeout = "1h"
  }
  CALL
}
KID
`
	s, admin := serveInspector(t, strings.NewReplacer("CALL", `step "workflow" "call" {
    workflow = "kid"
  }`, "KID", `workflow "kid" {
  step "log" "l" {
    message = "hi"
  }
}`).Replace(src))
	status, started := postJSON(t, admin+"/api/v1/workflows/parent/runs", `{}`)
	if status != http.StatusAccepted {
		t.Fatalf("start answered %d %v", status, started)
	}
	id := started["run_id"].(string)
	waitEngineRun(t, s.engine, id, engine.RunWaiting)
	version := s.config.set.Load().Workflow("parent").Version
	// kid is taken out of the files, and the parent's step that called it made another.
	writeFile(t, filepath.Join(s.config.dir, "w.hcl"), strings.NewReplacer("CALL", `step "log" "call" {
    message = "no kid"
  }`, "KID", "").Replace(src))
	if st := s.config.Reload("test"); !st.OK {
		t.Fatalf("reload: %s", st.Error)
	}
	if status, answer := postJSON(t, admin+"/api/v1/runs/"+id+"/resume/gate", `{}`); status != http.StatusOK {
		t.Fatalf("resuming answered %d %v", status, answer)
	}
	waitEngineRun(t, s.engine, id, engine.RunFailed)

	why := "Not on version " + version + ": the run calls workflow kid, which is not among the workflows in use now, " +
		"and would fail again there. Restore it to the files, then replay the run, or replay it on the current version."
	b := newBrowse(t)
	for _, width := range []int64{1280, 375} {
		b.do("the failed run", chromedp.EmulateViewport(width, 800), chromedp.Navigate(admin+"/runs/"+id),
			chromedp.WaitVisible(chromedp.CSS("#replay-pinned")))
		if got := eval[string](b, "what the page says", `(document.getElementById("calls-gone") || {}).textContent || ""`); got != why {
			t.Errorf("at %dpx the page says %q, want %q", width, got, why)
		}
		pinned, err := chromedp.Run(b.ctx, axOf(`document.getElementById("replay-pinned")`))
		if err != nil {
			t.Fatal(err)
		}
		if want := (axNode{Name: "Replay on version " + version, Description: why, Disabled: true}); pinned != want {
			t.Errorf("at %dpx a screen reader reads the replay on the run's version as %+v, want %+v", width, pinned, want)
		}
		if got := eval[float64](b, "the page's width", `document.documentElement.scrollWidth - document.documentElement.clientWidth`); got > 0 {
			t.Errorf("at %dpx the page is %vpx wider than the screen", width, got)
		}
	}
	b.do("pressing the replay on the run's version", chromedp.Evaluate[chromedp.Void](acceptConfirms),
		chromedp.Focus(chromedp.CSS("#replay-pinned")), chromedp.KeyEvent("\r"), chromedp.Click(chromedp.CSS("#replay-pinned")))
	if !eval[bool](b, "the focus", `document.activeElement === document.getElementById("replay-pinned")`) {
		t.Errorf("the replay on the run's version cannot be reached by the keyboard")
	}
	if asked := eval[int](b, "what was asked", `window.asked.length`); asked != 0 {
		t.Errorf("pressing the replay on the run's version asked to replay it: %d questions", asked)
	}
	if run, err := s.engine.Run(context.Background(), id); err != nil || run.Status != engine.RunFailed || run.Replays != 0 {
		t.Fatalf("pressing the replay on the run's version changed the run: %+v, %v", run, err)
	}
	b.do("replaying on the current version", chromedp.Click(chromedp.CSS("#replay-current")))
	b.until("the replay succeeding", `document.getElementById("run-status").textContent === "succeeded"`)
	if eval[bool](b, "the note", `!!document.getElementById("calls-gone")`) {
		t.Errorf("the run that succeeded still says what its replay needs")
	}
}

// syncToSrc is workflow sync, whose one step calls the API at INSPECTOR_API, at /PATH.
const syncToSrc = `
workflow "sync" {
  step "http" "push" {
    url = "${env("INSPECTOR_API")}/PATH"
  }
}
`

// serveSyncToV1 serves the inspector with syncToSrc calling /v1, which the API answers
// with a 404 (its runs fail), and sets INSPECTOR_API to that API; later versions of
// the file (syncToSrc with PATH replaced) call paths it answers 200.
func serveSyncToV1(t *testing.T) (*server, string) {
	t.Helper()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1" {
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(api.Close)
	t.Setenv("INSPECTOR_API", api.URL)
	return serveInspector(t, strings.Replace(syncToSrc, "PATH", "v1", 1))
}
