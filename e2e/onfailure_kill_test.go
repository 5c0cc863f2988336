package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// pageSrc fails its charge step and pages from on_failure.
const pageSrc = `
workflow "charge" {
  trigger "webhook" {
    path = "/charge"
  }

  step "http" "charge" {
    url = "${env("FAULT_API")}/charge"
  }

  on_failure {
    step "http" "page" {
      url  = "${env("FAULT_API")}/page"
      json = { error = "{{ run.error }}" }
    }
  }
}
`

// A process killed while an on_failure step calls out leaves it to another process,
// which calls again once with the same Idempotency-Key; the failure is handled once,
// and the run ends failed. The step's history has both calls: the killed process's
// attempt, lost, and the survivor's.
func TestKillDuringOnFailure(t *testing.T) {
	b := redistest.Real(t)
	var mu sync.Mutex
	calls := map[string][]string{} // path -> Idempotency-Keys
	entered, held := make(chan struct{}, 1), make(chan struct{})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls[r.URL.Path] = append(calls[r.URL.Path], r.Header.Get("Idempotency-Key"))
		first := r.URL.Path == "/page" && len(calls["/page"]) == 1
		mu.Unlock()
		switch {
		case r.URL.Path == "/charge":
			w.WriteHeader(http.StatusUnprocessableEntity)
		case first: // the doomed process's call: it never gets an answer
			entered <- struct{}{}
			select {
			case <-held:
			case <-r.Context().Done():
			}
		}
	}))
	t.Cleanup(func() { close(held); api.Close() })
	dir := writeWorkflow(t, "charge.hcl", pageSrc)

	doomed := startProc(t, dir, b.URL, api.URL)
	resp, err := http.Post("http://"+doomed.public+"/hooks/charge", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("on_failure never called")
	}
	doomed.kill()
	survivor := startProc(t, dir, b.URL, api.URL)

	var run struct {
		ID         string `json:"id"`
		Status     string `json:"status"`
		FailedStep string `json:"failed_step"`
		Steps      []struct {
			Path     string `json:"path"`
			Status   string `json:"status"`
			Attempts int    `json:"attempts"`
			Requests []struct {
				Attempt int  `json:"attempt"`
				Status  int  `json:"status"`
				Lost    bool `json:"lost"`
			} `json:"requests"`
		} `json:"steps"`
	}
	var page struct {
		Runs []struct {
			ID string `json:"id"`
		} `json:"runs"`
	}
	survivor.getJSON(t, "/api/v1/runs", &page)
	if len(page.Runs) != 1 {
		t.Fatalf("runs %+v", page.Runs)
	}
	testutil.Eventually(t, 30*time.Second, "the run failed", func() bool {
		survivor.getJSON(t, "/api/v1/runs/"+page.Runs[0].ID, &run)
		return run.Status == "failed"
	})
	if got := fmt.Sprint(run.Steps); run.FailedStep != "charge" || len(run.Steps) != 2 ||
		run.Steps[1].Path != "on_failure/page" || run.Steps[1].Status != "succeeded" || run.Steps[1].Attempts != 2 {
		t.Errorf("run %s failed at %q, steps %s", run.ID, run.FailedStep, got)
	} else if reqs := run.Steps[1].Requests; len(reqs) != 2 || reqs[0].Attempt != 1 || !reqs[0].Lost ||
		reqs[1].Attempt != 2 || reqs[1].Lost || reqs[1].Status != 200 {
		t.Errorf("on_failure/page recorded requests %+v: want attempt 1 lost, then attempt 2 answered", reqs)
	}
	mu.Lock()
	defer mu.Unlock()
	key := run.ID + ":on_failure/page"
	if fmt.Sprint(calls["/page"]) != fmt.Sprint([]string{key, key}) || len(calls["/charge"]) != 1 {
		t.Errorf("calls %v: charge once, page twice with %s", calls, key)
	}
}
