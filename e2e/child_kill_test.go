package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// invoiceSrc is a parent workflow calling a child that answers with respond; the
// parent's next step sends what the child answered.
const invoiceSrc = `
workflow "order" {
  trigger "webhook" {
    path = "/order"
  }

  step "workflow" "invoice" {
    workflow = "create_invoice"
    input    = { order = "{{ event.body.id }}" }
  }

  step "http" "notify" {
    url  = "${env("FAULT_API")}/notify"
    json = { number = "{{ steps.invoice.result.number }}" }
  }
}

workflow "create_invoice" {
  step "http" "create" {
    url  = "${env("FAULT_API")}/invoices"
    json = { order = "{{ event.body.order }}" }
  }

  step "respond" "answer" {
    json = { number = "INV-{{ steps.create.body.id }}" }
  }
}
`

// TestKillWhileChildRuns: hookflow is killed (SIGKILL) while a child run's step is in
// flight; a new process on the same Redis finishes the child and then its parent. There
// is exactly one child run, its step repeated under the same Idempotency-Key, and the
// parent's next step reads the child's answer.
func TestKillWhileChildRuns(t *testing.T) {
	b := redistest.Real(t)
	var (
		mu       sync.Mutex
		invoices []string // the Idempotency-Key of each call
		notified []string // the bodies of /notify
		started  atomic.Int64
	)
	held := make(chan struct{})
	release := sync.OnceFunc(func() { close(held) })
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/invoices":
			if started.Add(1) == 1 {
				<-held // the first call is in flight when the process dies
			}
			mu.Lock()
			invoices = append(invoices, r.Header.Get("Idempotency-Key"))
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"id": "42"}`))
		case "/notify":
			mu.Lock()
			notified = append(notified, string(body))
			mu.Unlock()
			w.Write([]byte(`{}`))
		}
	}))
	t.Cleanup(api.Close)
	t.Cleanup(release) // before Close, which waits for the call held

	dir := writeWorkflow(t, "order.hcl", invoiceSrc)
	first := startProc(t, dir, b.URL, api.URL)
	id := startRun(t, "http://"+first.public+"/hooks/order", `{"id": "o7"}`)
	testutil.Eventually(t, 20*time.Second, "the child's call in flight", func() bool { return started.Load() == 1 })
	first.kill()
	release() // the dead process's call gets its answer, which no one reads

	second := startProc(t, dir, b.URL, api.URL)
	var run runView
	testutil.Eventually(t, 60*time.Second, "run "+id+" finished after the restart", func() bool {
		run = runView{}
		second.getJSON(t, "/api/v1/runs/"+id, &run)
		return run.Status == "succeeded" || run.Status == "failed"
	})
	if run.Status != "succeeded" {
		t.Fatalf("run %s %s: %s", id, run.Status, run.Error)
	}

	var children struct {
		Runs []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"runs"`
	}
	second.getJSON(t, "/api/v1/runs?workflow=create_invoice", &children)
	if len(children.Runs) != 1 || children.Runs[0].ID != id+":invoice" || children.Runs[0].Status != "succeeded" {
		t.Errorf("child runs %+v, want one, %s:invoice, succeeded", children.Runs, id)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, key := range invoices {
		if key != id+":invoice:create" {
			t.Errorf("the child's call carried Idempotency-Key %q, want %s:invoice:create", key, id)
		}
	}
	if len(invoices) != 2 {
		t.Errorf("the child's step was called %d times, want twice: once by each process", len(invoices))
	}
	if len(notified) != 1 || !strings.Contains(notified[0], `"number":"INV-42"`) {
		t.Errorf("the parent's next step sent %q, want the child's answer once", notified)
	}
}
