package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

const everySecondSrc = `
workflow "heartbeat" {
  trigger "schedule" {
    every = "1s"
  }

  step "http" "ping" {
    url  = "${env("FAULT_API")}/ping"
    json = { at = "{{ event.body.scheduled_at }}" }
  }
}
`

// TestScheduleAcrossProcesses: two hookflow processes on one Redis serve a schedule
// that ticks every second; the API it calls hears of each tick once.
func TestScheduleAcrossProcesses(t *testing.T) {
	var mu sync.Mutex
	ticks := map[string]int{}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ At string }
		json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		ticks[body.At]++
		mu.Unlock()
		w.Write([]byte(`{}`))
	}))
	defer api.Close()
	dir := writeWorkflow(t, "heartbeat.hcl", everySecondSrc)
	b := redistest.Real(t)
	a, c := startProc(t, dir, b.URL, api.URL), startProc(t, dir, b.URL, api.URL)
	// Ticks of the real clock, which the processes share: three take about three seconds.
	testutil.Eventually(t, 30*time.Second, "three ticks heard by the API", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(ticks) >= 3
	})
	for _, p := range []*proc{a, c} {
		p.cmd.Process.Signal(syscall.SIGTERM)
		p.cmd.Wait()
	}

	mu.Lock()
	defer mu.Unlock()
	for at, n := range ticks {
		if n != 1 {
			t.Errorf("tick %s called the API %d times", at, n)
		}
	}
}
