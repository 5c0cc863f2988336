package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/testutil"
)

// TestPollFailureShown serves a poll every second of an API that answers 500: no run
// starts, and the error is shown by the workflow list (hookflow workflows) and the
// status API (hookflow status); once the API answers, the next poll catches up on the
// items added meanwhile and the failure is cleared.
func TestPollFailureShown(t *testing.T) {
	var mu sync.Mutex
	status, orders := http.StatusOK, 2
	delivered := map[string]int{}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path == "/deliveries" {
			var body struct{ Order string }
			json.NewDecoder(r.Body).Decode(&body)
			delivered[body.Order]++
			w.Write([]byte(`{}`))
			return
		}
		if status != http.StatusOK {
			http.Error(w, "the database is down", status)
			return
		}
		var list []map[string]string
		for i := range orders {
			list = append(list, map[string]string{"id": fmt.Sprintf("o%d", i+1)})
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"orders": list})
	}))
	defer api.Close()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "orders.hcl"), fmt.Sprintf(`
workflow "orders" {
  trigger "poll" {
    every = "1s"
    url   = "%[1]s/orders"
    items = "response.body.orders"
    key   = "item.id"
  }

  step "http" "deliver" {
    url  = "%[1]s/deliveries"
    json = { order = "{{ event.body.id }}" }
  }
}
`, api.URL))
	s := serveDir(t, dir, "", "127.0.0.1:0")
	hookflow := func(args ...string) string {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append(args, "--admin", s.adminAddr), nil, &stdout, &stderr)
		if err != nil && args[0] != "status" {
			t.Errorf("hookflow %s: %v %s", args[0], err, stderr.String())
		}
		return stdout.String()
	}
	pollState := func() map[string]any {
		wf := getJSON(t, "http://"+s.adminAddr+"/api/v1/workflows/orders")
		st, _ := wf["triggers"].([]any)[0].(map[string]any)["state"].(map[string]any)
		return st
	}
	// The first poll records o1 and o2 and starts nothing.
	testutil.Eventually(t, 10*time.Second, "a first good poll", func() bool {
		st := pollState()
		return st != nil && st["last_ok_at"] != nil
	})
	mu.Lock()
	status, orders = http.StatusInternalServerError, 5
	mu.Unlock()
	testutil.Eventually(t, 10*time.Second, "a failed poll shown", func() bool {
		st := pollState()
		return st != nil && st["failures"].(float64) >= 1
	})
	st := pollState()
	if e, _ := st["last_error"].(string); !strings.Contains(e, "500") || !strings.HasSuffix(e, "; it answered: the database is down") {
		t.Errorf("last_error %q, want the 500 and what the API answered", e)
	}
	if out := hookflow("workflows"); !strings.Contains(out, "poll GET "+api.URL+"/orders every 1s (failing, ") || !strings.Contains(out, "500") {
		t.Errorf("hookflow workflows does not show the failing poll:\n%s", out)
	}
	resp, err := http.Get("http://" + s.adminAddr + "/workflows")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "GET "+api.URL+"/orders") || !strings.Contains(string(page), "failing</span>") ||
		!strings.Contains(string(page), "500 Internal Server Error") {
		t.Errorf("the inspector's workflows page does not show the failing poll:\n%s", page)
	}
	status2 := getJSON(t, "http://"+s.adminAddr+"/api/v1/status")
	failing, _ := status2["failing_triggers"].([]any)
	if len(failing) != 1 || failing[0].(map[string]any)["workflow"] != "orders" {
		t.Errorf("status failing_triggers %v", status2["failing_triggers"])
	}
	if out := hookflow("status"); !strings.Contains(out, "failing: orders, poll GET ") || !strings.Contains(out, "it answered: the database is down") {
		t.Errorf("hookflow status does not show the failing poll and what the API answered:\n%s", out)
	}
	mu.Lock()
	if len(delivered) != 0 {
		t.Errorf("runs started before the API answered: %v", delivered)
	}
	status = http.StatusOK
	mu.Unlock()

	testutil.Eventually(t, 10*time.Second, "the three orders added meanwhile delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(delivered) == 3
	})
	testutil.Eventually(t, 10*time.Second, "the failure cleared", func() bool {
		st := pollState()
		return st["failures"].(float64) == 0
	})
	resp, err = http.Get("http://" + s.adminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`hookflow_runs_started_total{trigger="poll",workflow="orders"} 3`,
		`hookflow_events_received_total{trigger="poll",workflow="orders"} 3`, `hookflow_poll_failures_total{workflow="orders"} `} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range []string{"o3", "o4", "o5"} {
		if delivered[id] != 1 {
			t.Errorf("order %s delivered %d times", id, delivered[id])
		}
	}
}
