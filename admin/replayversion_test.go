package admin

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/workflows"
)

// A replay on the current version named by its id runs when that version is in use,
// and is refused (409, naming the version in use) when the files changed to another
// since; version=current takes whichever is in use.
func TestReplayOnTheVersionNamed(t *testing.T) {
	e, srv, id, src, v1 := failedSyncCRM(t)

	k := apiKinds()
	v2 := loadAPISet(t, k, strings.Replace(src, "PATH", "v2", 1)).Workflow("sync_crm").Version
	v3 := loadAPISet(t, k, strings.Replace(src, "PATH", "v3", 1))
	e.Use(v3) // the files changed again after v2 was shown

	var fail map[string]string
	post(t, srv.URL+"/api/v1/runs/"+id+"/replay?version="+v2, http.StatusConflict, &fail)
	want := "the current version of workflow sync_crm is now " + v3.Workflow("sync_crm").Version
	if !strings.Contains(fail["error"], want) || !strings.Contains(fail["error"], v2) {
		t.Errorf("a replay on version %s, no longer in use: %q, want it to say %q", v2, fail["error"], want)
	}
	if fail["current_version"] != v3.Workflow("sync_crm").Version {
		t.Errorf("the refusal names %q as the version in use, want %s: %v", fail["current_version"], v3.Workflow("sync_crm").Version, fail)
	}
	var run engine.Run
	get(t, srv.URL+"/api/v1/runs/"+id, http.StatusOK, &run)
	if run.Status != engine.RunFailed || run.Replays != 0 || run.Version != v1 {
		t.Fatalf("the refused replay changed the run: %+v", run.RunSummary)
	}
	post(t, srv.URL+"/api/v1/runs/"+id+"/replay?version=0123", http.StatusBadRequest, &fail)
	if !strings.Contains(fail["error"], "the id of the one in use") {
		t.Errorf("a replay on a version that is no version's id: %v", fail)
	}

	var answer engine.Replayed
	post(t, srv.URL+"/api/v1/runs/"+id+"/replay?version="+v3.Workflow("sync_crm").Version, http.StatusAccepted, &answer)
	if answer.Version != v3.Workflow("sync_crm").Version {
		t.Errorf("replayed on %s, want %s", answer.Version, v3.Workflow("sync_crm").Version)
	}
	waitStatus(t, srv.URL, id, "succeeded")
}

// The dead letters page's retry on the current version sends the version it shows, as
// the run's page does: when the files changed after the page was read, the API refuses
// the retry (409, naming the version in use now) and the run stays as it was; a retry
// on the version in use runs it.
func TestDeadLetterRetryOnTheVersionShown(t *testing.T) {
	e, srv, id, src, v1 := failedSyncCRM(t)

	k := apiKinds()
	var inUse atomic.Pointer[workflows.Set]
	use := func(path string) string {
		t.Helper()
		set := loadAPISet(t, k, strings.Replace(src, "PATH", path, 1))
		e.Use(set)
		inUse.Store(set)
		return set.Workflow("sync_crm").Version
	}
	v2 := use("v2")
	pages := httptest.NewServer(Inspector(e, inUse.Load, nil, PageOptions{}, quiet))
	defer pages.Close()
	page := fetchPage(t, pages.URL+"/dlq")
	button := regexp.MustCompile(`data-post="(/api/v1/dlq/[^"]+/retry\?version=([^"]+))"[^>]*>On current version`).FindStringSubmatch(page)
	if button == nil || button[2] != v2 || !strings.Contains(page, "On current version <span class=\"mono\">("+v2+")</span>") {
		t.Fatalf("the retry on the current version does not name %s, the version in use:\n%s", v2, page)
	}

	v3 := use("v3") // the files changed again after the page was read
	var fail map[string]string
	post(t, srv.URL+html.UnescapeString(button[1]), http.StatusConflict, &fail)
	if want := "the current version of workflow sync_crm is now " + v3; !strings.Contains(fail["error"], want) || !strings.Contains(fail["error"], v2) {
		t.Errorf("the retry on version %s, no longer in use: %q, want it to say %q", v2, fail["error"], want)
	}
	if fail["current_version"] != v3 {
		t.Errorf("the refusal names %q as the version in use, want %s: %v", fail["current_version"], v3, fail)
	}
	var run engine.Run
	get(t, srv.URL+"/api/v1/runs/"+id, http.StatusOK, &run)
	if run.Status != engine.RunFailed || run.Replays != 0 || run.Version != v1 {
		t.Fatalf("the refused retry changed the run: %+v", run.RunSummary)
	}
	if page := fetchPage(t, pages.URL+"/dlq"); !strings.Contains(page, "/retry?version="+v3+`"`) {
		t.Fatalf("read again, the page does not offer the retry on %s:\n%s", v3, page)
	}
	var answer engine.Replayed
	post(t, srv.URL+"/api/v1/dlq/"+id+":update/retry?version="+v3, http.StatusAccepted, &answer)
	if answer.Version != v3 {
		t.Errorf("retried on %s, want %s", answer.Version, v3)
	}
	waitStatus(t, srv.URL, id, "succeeded")
}

// The dead letters page names, on its retry on the current version, the version the
// engine decided takes the retry, not the one of the workflows it lists: while a
// reload is under way the two may differ, and the button would name a version the
// API refuses at once.
func TestDeadLetterRetryNamesTheEngineVersion(t *testing.T) {
	e, _, _, src, _ := failedSyncCRM(t)
	k := apiKinds()
	listed := loadAPISet(t, k, strings.Replace(src, "PATH", "v2", 1)) // what the page lists
	inEngine := loadAPISet(t, k, strings.Replace(src, "PATH", "v3", 1))
	e.Use(inEngine) // the engine took the next reload already
	pages := httptest.NewServer(Inspector(e, func() *workflows.Set { return listed }, nil, PageOptions{}, quiet))
	defer pages.Close()

	page := fetchPage(t, pages.URL+"/dlq")
	v3 := inEngine.Workflow("sync_crm").Version
	if !strings.Contains(page, "/retry?version="+v3+`"`) || strings.Contains(page, listed.Workflow("sync_crm").Version) {
		t.Fatalf("the retry on the current version does not name %s, the engine's version in use:\n%s", v3, page)
	}
}

// failedSyncCRM serves the admin API of an engine running workflow sync_crm, whose one
// step calls an API at /PATH in src: its first version, /v1, fails with a 404, and a
// run of it has failed. src is the file with PATH to replace for the next versions
// (/v2, /v3), which succeed; v1 is the id of its first version.
func failedSyncCRM(t *testing.T) (e *engine.Engine, srv *httptest.Server, id, src, v1 string) {
	t.Helper()
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1" {
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(crm.Close)
	src = `
workflow "sync_crm" {
  step "http" "update" {
    url = "` + crm.URL + `/PATH"
  }
}
`
	e, set, srv := serveAPI(t, strings.Replace(src, "PATH", "v1", 1))
	id, err := e.Start(context.Background(), set.Workflow("sync_crm"), &workflows.Event{ID: "e1", Trigger: "manual", ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, srv.URL, id, "failed")
	return e, srv, id, src, set.Workflow("sync_crm").Version
}
