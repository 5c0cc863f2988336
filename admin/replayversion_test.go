package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/workflows"
)

// A replay on the current version named by its id runs when that version is in use,
// and is refused (409, naming the version in use) when the files changed to another
// since; version=current takes whichever is in use.
func TestReplayOnTheVersionNamed(t *testing.T) {
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1" {
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer crm.Close()
	src := `
workflow "sync_crm" {
  step "http" "update" {
    url = "` + crm.URL + `/PATH"
  }
}
`
	e, v1, srv := serveAPI(t, strings.Replace(src, "PATH", "v1", 1))
	id, err := e.Start(context.Background(), v1.Workflow("sync_crm"), &workflows.Event{ID: "e1", Trigger: "manual", ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, srv.URL, id, "failed")

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
	var run engine.Run
	get(t, srv.URL+"/api/v1/runs/"+id, http.StatusOK, &run)
	if run.Status != engine.RunFailed || run.Replays != 0 || run.Version != v1.Workflow("sync_crm").Version {
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
