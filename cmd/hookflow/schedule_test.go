package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
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
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "heartbeat.hcl"), []byte(everySecondSrc), 0o644); err != nil {
		t.Fatal(err)
	}
	b := redistest.Real(t)
	a, c := startProc(t, dir, b.URL, api.URL), startProc(t, dir, b.URL, api.URL)
	time.Sleep(4 * time.Second)
	for _, p := range []*proc{a, c} {
		p.cmd.Process.Signal(syscall.SIGTERM)
		p.cmd.Wait()
	}

	mu.Lock()
	defer mu.Unlock()
	if len(ticks) < 3 {
		t.Errorf("%d ticks in 4s: %v\n%s\n%s", len(ticks), ticks, a.log, c.log)
	}
	for at, n := range ticks {
		if n != 1 {
			t.Errorf("tick %s called the API %d times", at, n)
		}
	}
}
