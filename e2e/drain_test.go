package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// SIGTERM under load: while hookflow drains, webhooks keep being answered, 503 with
// Retry-After, never a 2xx for a run it does not keep; every run answered 202 is
// delivered (by the next process, for those still queued).
func TestSIGTERMUnderLoadAnswers503(t *testing.T) {
	b := redistest.Real(t)
	api := testutil.NewSink(t, 20*time.Millisecond) // slow enough that runs are in flight at the signal
	dir := testutil.WriteRelay(t)
	p := startProc(t, dir, b.URL, api.URL)
	url := "http://" + p.public + "/hooks/relay"

	var mu sync.Mutex
	var ids []string
	var accepted, unavailable atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Post(url, "application/json", strings.NewReader(`{"n": 1}`))
				if err != nil {
					continue // the process has gone
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusAccepted:
					var a struct {
						RunID string `json:"run_id"`
					}
					json.Unmarshal(body, &a)
					mu.Lock()
					ids = append(ids, a.RunID)
					mu.Unlock()
					accepted.Add(1)
				case http.StatusServiceUnavailable:
					if resp.Header.Get("Retry-After") == "" {
						t.Errorf("503 without Retry-After: %s", body)
					}
					unavailable.Add(1)
				default:
					t.Errorf("answered %d: %s", resp.StatusCode, body)
				}
			}
		}()
	}
	testutil.Eventually(t, 20*time.Second, "webhooks accepted before the signal", func() bool { return accepted.Load() >= 300 })
	p.cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan struct{})
	go func() { p.cmd.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		t.Fatal("hookflow did not stop within 60s of SIGTERM")
	}
	close(stop)
	wg.Wait()
	if unavailable.Load() == 0 {
		t.Error("no webhook was answered 503 during the drain")
	}
	t.Logf("%d accepted, %d answered 503 while draining", accepted.Load(), unavailable.Load())

	startProc(t, dir, b.URL, api.URL) // finishes what was left queued
	testutil.WaitRuns(t, b.Client, ids, 60*time.Second)
	checkDelivered(t, api, ids, 0, false)
}
