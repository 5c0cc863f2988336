package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// TestPollRetryAfterHoldsEveryServe serves a poll every second from two processes
// sharing a Redis, of an API that answers its first request 429 with Retry-After: 3600:
// the other process skips its ticks, saying so once, and asks nothing; the poll's
// status, in either process, shows until when (hookflow status, hookflow workflows,
// /api/v1/workflows).
func TestPollRetryAfterHoldsEveryServe(t *testing.T) {
	var calls atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "3600")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"orders": [{"id": "o1"}]}`)
	}))
	defer api.Close()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "orders.hcl"), fmt.Sprintf(`
workflow "orders" {
  trigger "poll" {
    every = "1s"
    url   = "%s/orders"
    items = "response.body.orders"
    key   = "item.id"
  }
}
`, api.URL))
	rdb := redistest.Real(t)
	var logs testutil.LogBuffer
	var servers []*server
	for range 2 {
		s, err := startServer(context.Background(), serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0",
			redisURL: rdb.URL, workers: 2, allowNet: loopback}, slog.New(slog.NewTextHandler(&logs, nil)), &logs)
		if err != nil {
			t.Fatalf("starting: %v\n%s", err, logs.String())
		}
		t.Cleanup(func() {
			if err := s.shutdown(); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			if t.Failed() {
				t.Logf("hookflow log:\n%s", logs.String())
			}
		})
		servers = append(servers, s)
	}
	testutil.Eventually(t, 15*time.Second, "a tick skipped by the process that did not get the 429", func() bool {
		return strings.Contains(logs.String(), "a tick is skipped, as its API asked an earlier poll to wait")
	})
	if n := calls.Load(); n != 1 {
		t.Errorf("%d requests, want the first only: the Retry-After holds both processes", n)
	}
	if n := strings.Count(logs.String(), "a tick is skipped, as its API asked"); n != 1 {
		t.Errorf("the skipped ticks logged %d times, want once", n)
	}
	for i, s := range servers {
		wf := getJSON(t, "http://"+s.adminAddr+"/api/v1/workflows/orders")
		st, _ := wf["triggers"].([]any)[0].(map[string]any)["state"].(map[string]any)
		at, err := time.Parse(time.RFC3339, fmt.Sprint(st["not_before"]))
		if err != nil || at.Before(time.Now().Add(59*time.Minute)) || at.After(time.Now().Add(time.Hour)) {
			t.Errorf("process %d: the poll's state %v, want not_before an hour ahead", i, st)
		}
		var out bytes.Buffer
		if err := run(context.Background(), []string{"status", "--admin", s.adminAddr}, nil, &out, &out); err != nil ||
			!strings.Contains(out.String(), "status 429 Too Many Requests") ||
			!strings.Contains(out.String(), "; its API asked it to wait (Retry-After): no poll before "+localTime(at)) {
			t.Errorf("process %d: hookflow status: %v\n%s", i, err, out.String())
		}
		out.Reset()
		if err := run(context.Background(), []string{"workflows", "--admin", s.adminAddr}, nil, &out, &out); err != nil ||
			!strings.Contains(out.String(), "no poll before "+localTime(at)+" (Retry-After)") {
			t.Errorf("process %d: hookflow workflows: %v\n%s", i, err, out.String())
		}
	}
}
