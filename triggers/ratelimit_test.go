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

// TestRateLimitOutlivesReloads: a reload that leaves a webhook's limit as it was keeps
// what it counted; a changed limit starts afresh.
func TestRateLimitOutlivesReloads(t *testing.T) {
	src := func(limit, description string) string {
		return `workflow "limited" {
  description = "` + description + `"
  trigger "webhook" {
    path       = "/limited"
    rate_limit = "` + limit + `"
  }
}`
	}
	srv, _, h := serveHooksOf(t, "r.hcl", src("1/m", "v1"))
	post := func() int { return send(t, "POST", srv.URL+"/hooks/limited", "application/json", []byte(`{}`)).status }
	if post() != 202 || post() != 429 {
		t.Fatal("the limit does not hold")
	}
	reload := func(limit, description string) {
		set, diags := loadHooks("r.hcl", src(limit, description))
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		h.Use(set)
	}
	reload("1/m", "v2") // another version, the same limit
	if got := post(); got != 429 {
		t.Errorf("after a reload that kept the limit: %d, want 429", got)
	}
	reload("3/m", "v3")
	if got := post(); got != 202 {
		t.Errorf("after the limit changed: %d, want 202", got)
	}
}
