package admin

import (
	"context"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// callsKid is a parent that waits, then calls workflow kid, which a reload may take
// away (KID), and whose step that calls it a reload may make another (CALL).
const callsKid = `
workflow "parent" {
  step "wait" "gate" {
    timeout = "1h"
  }
  CALL
}
KID
`

const (
	kidWorkflow = `workflow "kid" {
  step "log" "l" {
    message = "hi"
  }
}`
	callStep = `step "workflow" "call" {
    workflow = "kid"
  }`
	logStep = `step "log" "call" {
    message = "no kid"
  }`
)

// A run that failed as the workflow it calls was gone offers no replay on its version,
// which would fail again at that step: its page says, in words, which workflow to
// restore first, beside the replay button, disabled and described by it; the replay
// on the current version, whose steps call no such workflow, is offered. With the
// workflow back, the replay is offered again, and the page says nothing of it.
func TestInspectorRunCallingAGoneWorkflow(t *testing.T) {
	e, v1, api := serveAPI(t, strings.NewReplacer("CALL", callStep, "KID", kidWorkflow).Replace(callsKid))
	id, err := e.Start(context.Background(), v1.Workflow("parent"), &workflows.Event{ID: "e1", Trigger: "manual", ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, api.URL, id, "waiting")
	var inUse atomic.Pointer[workflows.Set]
	use := func(set *workflows.Set) {
		e.Use(set)
		inUse.Store(set)
	}
	noKid := loadAPISet(t, apiKinds(), strings.NewReplacer("CALL", logStep, "KID", "").Replace(callsKid))
	use(noKid)
	if _, err := e.Resume(context.Background(), id, "gate", &workflows.Resume{}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, api.URL, id, "failed")
	srv := httptest.NewServer(Inspector(e, inUse.Load, nil, PageOptions{}, quiet))
	defer srv.Close()

	page := fetchPage(t, srv.URL+"/runs/"+id)
	pinned := regexp.MustCompile(`<button [^>]*id="replay-pinned"[^>]*>`).FindString(page)
	// Offered disabled as aria-disabled, not disabled: the keyboard reaches it, and a
	// screen reader says why with it.
	if !strings.Contains(pinned, ` aria-disabled="true"`) || strings.Contains(pinned, " disabled") ||
		!strings.Contains(pinned, `aria-describedby="calls-gone"`) {
		t.Errorf("the replay on the run's version is offered as if it could succeed: %s", pinned)
	}
	want := `<p class="note" id="calls-gone">Not on version ` + v1.Workflow("parent").Version + `: the run calls workflow kid, ` +
		`which is not among the workflows in use now, and would fail again there. Restore it to the files, then replay the run, ` +
		`or replay it on the current version.</p>`
	if !strings.Contains(page, want) {
		t.Errorf("the page does not say why the replay is not offered, %s:\n%s", want, page)
	}
	if !strings.Contains(page, `id="replay-current">`) {
		t.Errorf("no replay on the current version, whose steps call no workflow gone:\n%s", page)
	}

	use(v1) // kid restored, and the parent as it was
	page = fetchPage(t, srv.URL+"/runs/"+id)
	if pinned := regexp.MustCompile(`<button [^>]*id="replay-pinned"[^>]*>`).FindString(page); pinned == "" ||
		strings.Contains(pinned, "disabled") || strings.Contains(page, "calls-gone") {
		t.Errorf("with kid back, the replay is not offered as it is (%s):\n%s", pinned, page)
	}
}
