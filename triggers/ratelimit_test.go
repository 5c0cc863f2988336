package triggers

import (
	"net/http"
	"strconv"
	"strings"
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

// A verified webhook's rate_limit counts only the requests that pass verification:
// unsigned ones are answered 401 however many come, and leave the limit to the sender.
func TestRateLimitCountsVerifiedRequests(t *testing.T) {
	srv, starter := serveHooks(t, "r.hcl", `
workflow "signed" {
  trigger "webhook" {
    path       = "/github"
    rate_limit = "5/m"
    verify "github" {
      secrets = ["It's a Secret to Everybody"]
    }
  }
}`)
	post := func(signature string) answer {
		t.Helper()
		req, err := http.NewRequest("POST", srv.URL+"/hooks/github", strings.NewReader("Hello, World!"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "text/plain")
		if signature != "" {
			req.Header.Set("X-Hub-Signature-256", signature)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return readAnswer(t, resp)
	}
	for i := range 6 {
		if a := post(""); a.status != http.StatusUnauthorized {
			t.Fatalf("unsigned request %d: %d %v, want 401", i+1, a.status, a.body)
		}
	}
	const signed = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	for i := range 5 {
		if a := post(signed); a.status != http.StatusAccepted {
			t.Fatalf("signed request %d after six unsigned: %d %v, want 202", i+1, a.status, a.body)
		}
	}
	if a := post(signed); a.status != http.StatusTooManyRequests {
		t.Errorf("a sixth signed request: %d %v, want 429", a.status, a.body)
	}
	if a := post("sha256=00"); a.status != http.StatusUnauthorized {
		t.Errorf("a wrongly signed request past the limit: %d %v, want 401", a.status, a.body)
	}
	if n := len(starter.events["signed"]); n != 5 {
		t.Errorf("%d runs started, want 5", n)
	}
}
