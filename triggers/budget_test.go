package triggers

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/testutil"
)

func TestBudget(t *testing.T) {
	b := budget{max: 100}
	if !b.take(60) || !b.take(40) || b.take(1) {
		t.Fatal("the budget does not hold at its maximum")
	}
	b.give(60)
	if !b.take(50) || b.used.Load() != 90 {
		t.Errorf("used %d after giving back", b.used.Load())
	}
	alone := budget{max: 10}
	if !alone.take(50) {
		t.Error("a request alone was refused a budget below its size")
	}
}

// Slow uploads hold the memory their bodies may take: past the budget, further
// webhooks are answered 503 with Retry-After rather than read, and once the uploads
// end, webhooks are taken again.
func TestWebhookBodiesOverTheBudget(t *testing.T) {
	srv, starter, h := serveHooksOf(t, "any.hcl", `
workflow "any" {
  trigger "webhook" {
    path = "/any"
  }
}`)
	h.bodies.max = DefaultMaxBody + 100 // an upload of unknown length (it may reach max_body), and 100 bytes more
	pr, pw := io.Pipe()
	slow := make(chan *http.Response, 1)
	go func() {
		req, _ := http.NewRequest("POST", srv.URL+"/hooks/any", pr) // chunked: its length unknown
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
		}
		slow <- resp
	}()
	pw.Write([]byte(`{"a": "`))
	testutil.Eventually(t, 5*time.Second, "the slow upload to reserve its body", func() bool { return h.bodies.used.Load() > 0 })

	a := send(t, "POST", srv.URL+"/hooks/any", "application/json", []byte(`{"b": "`+strings.Repeat("y", 200)+`"}`))
	if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
		t.Errorf("past the budget: %d %v, Retry-After %q", a.status, a.body, a.header.Get("Retry-After"))
	}
	pw.Write([]byte(strings.Repeat("x", 1000) + `"}`))
	pw.Close()
	if resp := <-slow; resp == nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("the slow upload: %v", resp)
	}
	if a := send(t, "POST", srv.URL+"/hooks/any", "application/json", []byte(`{"c": 1}`)); a.status != http.StatusAccepted {
		t.Errorf("after the upload ended: %d %v", a.status, a.body)
	}
	if n := len(starter.events["any"]); n != 2 {
		t.Errorf("%d runs started, want 2", n)
	}
}
