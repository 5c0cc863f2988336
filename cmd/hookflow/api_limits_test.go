package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
)

// TestAPILimitsHoldAcrossProcesses serves one workflow from two processes sharing a
// Redis: the calls of both to one api keep to its rate_limit and concurrency, and the
// steps its limits held back were queued again without an attempt counted.
func TestAPILimitsHoldAcrossProcesses(t *testing.T) {
	const rate, burst, concurrency = 10, 10, 3
	var mu sync.Mutex
	perSecond := map[int64]int{}
	inFlight, maxInFlight := 0, 0
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		perSecond[time.Now().Unix()]++
		inFlight++
		maxInFlight = max(maxInFlight, inFlight)
		mu.Unlock()
		time.Sleep(20 * time.Millisecond) // a call takes a while, so that calls overlap
		mu.Lock()
		inFlight--
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(target.Close)
	dir := t.TempDir()
	src := fmt.Sprintf(`api "target" {
  base_url    = %q
  rate_limit  = "%d/s"
  concurrency = %d
}

workflow "limited" {
  trigger "webhook" {
    path = "/limited"
  }
  step "http" "call" {
    api = "target"
    url = "/things/{{ event.body.n }}"
  }
}
`, target.URL+"/v1", rate, concurrency)
	if err := os.WriteFile(filepath.Join(dir, "limited.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	rdb := redistest.Real(t)
	a := serveDir(t, dir, rdb.URL, "127.0.0.1:0")
	b := serveDir(t, dir, rdb.URL, "127.0.0.1:0")

	const runs = 45
	ids := make([]string, runs)
	servers := make([]*server, runs)
	for i := range runs {
		s := []*server{a, b}[i%2]
		ans := deliver(t, "http://"+s.publicAddr+"/hooks/limited", []byte(fmt.Sprintf(`{"n":%d}`, i)), http.Header{"Content-Type": {"application/json"}})
		if ans.status != http.StatusAccepted {
			t.Fatalf("event %d: %d %s", i, ans.status, ans.body)
		}
		ids[i], servers[i] = ans.json(t)["run_id"].(string), s
	}
	for i, id := range ids {
		run := waitRun(t, statusURL(servers[i], id))
		wantSteps(t, run, "succeeded", "call=succeeded")
		if n := stepNamed(t, run, "call")["attempts"]; n != 1.0 {
			t.Errorf("run %d: %v attempts; a wait for the api's limits is not one", i, n)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for sec, n := range perSecond {
		total += n
		if n > rate+burst {
			t.Errorf("%d calls in the second %d, more than the rate and its burst, %d", n, sec, rate+burst)
		}
	}
	if total != runs {
		t.Errorf("%d calls, want %d", total, runs)
	}
	if maxInFlight > concurrency {
		t.Errorf("%d calls in flight at once, want at most %d", maxInFlight, concurrency)
	}
	var metrics strings.Builder
	for _, s := range []*server{a, b} {
		resp, err := http.Get("http://" + s.adminAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		metrics.Write(data)
	}
	for _, want := range []string{`hookflow_api_calls_total{api="target"}`, `hookflow_api_waits_total{api="target",reason="rate_limit"}`} {
		if !strings.Contains(metrics.String(), want) {
			t.Errorf("metrics have no %s", want)
		}
	}
}

// TestReloadLowersAPILimitForQueuedRuns: runs queued before a reload that lowers an
// api's rate_limit call it at the lowered rate, not at the one they started with.
func TestReloadLowersAPILimitForQueuedRuns(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(target.Close)
	called := func() int {
		mu.Lock()
		defer mu.Unlock()
		return calls
	}
	src := func(limit string) string {
		return fmt.Sprintf(`api "target" {
  base_url   = %q
  rate_limit = %q
}

workflow "limited" {
  trigger "webhook" {
    path = "/limited"
  }
  step "delay" "first" {
    duration = "1s"
  }
  step "http" "call" {
    api = "target"
    url = "/things"
  }
}
`, target.URL, limit)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "limited.hcl")
	writeFile(t, path, src("100/s"))
	r := serveReloading(t, dir, true)
	const runs = 4
	for range runs {
		if got := r.hook(t, "limited"); got != http.StatusAccepted {
			t.Fatalf("webhook: %d", got)
		}
	}
	writeFile(t, path, src("1/m"))
	if st := r.s.config.Reload("test"); !st.OK {
		t.Fatalf("reload: %s", st.Error)
	}
	deadline := time.Now().Add(10 * time.Second)
	for called() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // the other runs' delays are over by now
	if got := called(); got != 1 {
		t.Fatalf("%d calls in the delays' second, want 1: the api's rate_limit is now 1/m", got)
	}
	waits := `hookflow_api_waits_total{api="target",reason="rate_limit"} 3`
	if m := r.metrics(t); !strings.Contains(m, waits) {
		t.Errorf("metrics have no %s", waits)
	}
}
