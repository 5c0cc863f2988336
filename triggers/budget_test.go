package triggers

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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

// Slow uploads hold the memory their bodies take as their bytes arrive: past the
// budget, further webhooks are answered 503 with Retry-After rather than read, and once
// the uploads end, webhooks are taken again.
func TestWebhookBodiesOverTheBudget(t *testing.T) {
	srv, starter, h := serveHooksOf(t, "any.hcl", `
workflow "any" {
  trigger "webhook" {
    path = "/any"
  }
}`)
	h.bodies.max = 512<<10 + 100 // an upload of unknown length grown to 512 KiB, and 100 bytes more
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
	pw.Write([]byte(`{"a": "` + strings.Repeat("x", 300<<10)))
	testutil.Eventually(t, 5*time.Second, "the slow upload to take 512 KiB", func() bool { return h.bodies.used.Load() >= 512<<10 })

	a := send(t, "POST", srv.URL+"/hooks/any", "application/json", []byte(`{"b": "`+strings.Repeat("y", 200)+`"}`))
	if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
		t.Errorf("past the budget: %d %v, Retry-After %q", a.status, a.body, a.header.Get("Retry-After"))
	}
	pw.Write([]byte(`"}`))
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
	if n := h.bodies.used.Load(); n != 0 {
		t.Errorf("%d bytes of the budget still taken", n)
	}
}

// A sender that declares large bodies and sends nothing holds one step of the budget
// each, not what it declares: webhooks that do send go on being taken.
func TestWebhookDeclaredLengthsDoNotHoldTheBudget(t *testing.T) {
	srv, starter, h := serveHooksOf(t, "any.hcl", `
workflow "any" {
  trigger "webhook" {
    path = "/any"
  }
}`)
	h.bodies.max = 4 * bodyStep
	addr := strings.TrimPrefix(srv.URL, "http://")
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /hooks/any HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", addr, DefaultMaxBody)
	}
	testutil.Eventually(t, 5*time.Second, "the three stalled uploads to take a step each", func() bool { return h.bodies.used.Load() == 3*bodyStep })
	if a := send(t, "POST", srv.URL+"/hooks/any", "application/json", []byte(`{"c": 1}`)); a.status != http.StatusAccepted {
		t.Errorf("beside uploads that send nothing: %d %v", a.status, a.body)
	}
	if n := len(starter.events["any"]); n != 1 {
		t.Errorf("%d runs started, want 1", n)
	}
}

// A body of declared length is read into a buffer of that length, not a larger one.
func TestReadBodyOfDeclaredLength(t *testing.T) {
	h := &Webhooks{}
	h.bodies.max = DefaultBodyBudget
	for _, n := range []int{0, 100, bodyStep, bodyStep + 1, 900 << 10} {
		body := strings.Repeat("x", n)
		r := httptest.NewRequest("POST", "/hooks/any", strings.NewReader(body))
		raw, taken, err := h.readBody(httptest.NewRecorder(), r, DefaultMaxBody)
		if err != nil || string(raw) != body || cap(raw) != n || taken != int64(n) {
			t.Errorf("%d bytes: read %d (cap %d), took %d, %v", n, len(raw), cap(raw), taken, err)
		}
		h.bodies.give(taken)
	}
}
