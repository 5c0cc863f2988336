package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
)

// A step with on_error = "continue" that the run's timeout cut failed the run (a
// timeout fails it whatever on_error says): a replay runs that step again, as it
// would one that failed the run otherwise, and the run goes on after it.
func TestReplayRunsAContinueStepTheTimeoutCut(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		var slowCalls, afterCalls atomic.Int32
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/slow":
				if slowCalls.Add(1) == 1 {
					select { // the first call outlasts the run's timeout
					case <-r.Context().Done():
					case <-time.After(5 * time.Second):
					}
				}
			case "/after":
				afterCalls.Add(1)
			}
			w.Write([]byte(`{}`))
		}))
		defer api.Close()
		e, set := httpEngine(t, b, strings.ReplaceAll(`
workflow "cut" {
  timeout = "700ms"
  step "http" "slow" {
    url      = "URL/slow"
    on_error = "continue"
  }
  step "http" "after" {
    url = "URL/after"
  }
}`, "URL", api.URL))
		id, err := e.Start(ctx, set.Workflow("cut"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		if r := waitRun(t, e, id); r.Status != RunFailed || len(r.Steps) == 0 || r.Steps[0].Status != StatusFailed {
			t.Fatalf("run %s: %s", r.Status, stepsOf(r))
		}
		if _, err := e.Replay(ctx, id, ReplayOptions{}); err != nil {
			t.Fatalf("replay: %v", err)
		}
		if r := waitRun(t, e, id); r.Status != RunSucceeded {
			t.Fatalf("replayed run %s: %s", r.Status, stepsOf(r))
		}
		if slowCalls.Load() != 2 || afterCalls.Load() != 1 {
			t.Errorf("slow called %d times, after %d; want 2 and 1", slowCalls.Load(), afterCalls.Load())
		}
	})
}
