package triggers

import (
	"strconv"
	"testing"
)

// Past its rate_limit, a webhook is answered 429 with Retry-After, and starts nothing.
func TestRateLimit(t *testing.T) {
	srv, starter := serveHooks(t, "r.hcl", `
workflow "limited" {
  trigger "webhook" {
    path       = "/limited"
    rate_limit = "2/10s"
  }
}

workflow "free" {
  trigger "webhook" {
    path = "/free"
  }
}
`)
	for i := range 2 {
		if a := send(t, "POST", srv.URL+"/hooks/limited", "application/json", []byte(`{}`)); a.status != 202 {
			t.Fatalf("request %d within the limit: %d %v", i+1, a.status, a.body)
		}
	}
	a := send(t, "POST", srv.URL+"/hooks/limited", "application/json", []byte(`{}`))
	retry, _ := strconv.Atoi(a.header.Get("Retry-After"))
	if a.status != 429 || retry < 1 || retry > 5 {
		t.Errorf("past the limit: %d, Retry-After %q (one request per 5s comes back)", a.status, a.header.Get("Retry-After"))
	}
	for range 5 {
		if a := send(t, "POST", srv.URL+"/hooks/free", "application/json", []byte(`{}`)); a.status != 202 {
			t.Errorf("a webhook without a limit: %d", a.status)
		}
	}
	if n := len(starter.events["limited"]); n != 2 {
		t.Errorf("%d runs of the limited workflow, want 2", n)
	}
}
