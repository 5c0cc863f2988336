package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Sync webhooks get their run's answer while the embedded Redis drops finished runs
// past --keep-runs under load. Here the caller is in the process that ran the step,
// and is woken with the answer at its commit (TestCommitWakesWaiters); a caller that
// reads the answer from Redis has the grace TestKeepRunsGrace covers.
func TestSyncAnswersWhileRunsDrop(t *testing.T) {
	dir := t.TempDir()
	src := `workflow "lookup" {
  trigger "webhook" {
    path     = "/lookup"
    response = "sync"
  }
  step "respond" "answer" {
    status = 201
    json = {
      n = "{{ event.body.n }}"
    }
  }
}`
	writeFile(t, filepath.Join(dir, "lookup.hcl"), src)
	cfg := serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", workers: 16, allowNet: loopback}
	if err := cfg.keepRuns.Set("10"); err != nil {
		t.Fatal(err)
	}
	s := serveWith(t, cfg)
	url := "http://" + s.publicAddr + "/hooks/lookup"

	// Senders go on for four seconds: the cap is applied each second, to runs finished
	// more than half a second before.
	const senders = 16
	until := time.Now().Add(4 * time.Second)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: senders}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	sent, wrong := 0, []string{}
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(until); i++ {
				n := fmt.Sprintf("%d-%d", g, i)
				resp, err := client.Post(url, "application/json", bytes.NewReader([]byte(`{"n":"`+n+`"}`)))
				if err != nil {
					t.Error(err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				sent++
				if want := `{"n":"` + n + `"}`; resp.StatusCode != http.StatusCreated || string(bytes.TrimSpace(body)) != want {
					wrong = append(wrong, fmt.Sprintf("%d %s, want 201 %s", resp.StatusCode, body, want))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(wrong) > 0 {
		t.Fatalf("%d of %d answers were not the run's, first: %s", len(wrong), sent, wrong[0])
	}

	// The cap dropped runs meanwhile. When the load ends, those of its last second and a
	// half are kept (those in their grace, and those finished since the last round), and
	// more if the rounds came late: on a busy machine that was close to half of them, so
	// the test asks only that the cap dropped a good many while the answers came.
	kept := 0
	for cursor := ""; ; {
		page := getJSON(t, "http://"+s.adminAddr+"/api/v1/runs?limit=500&cursor="+cursor)
		runs, _ := page["runs"].([]any)
		kept += len(runs)
		if cursor, _ = page["next"].(string); cursor == "" {
			break
		}
	}
	if sent < 200 || sent-kept < sent/10 {
		t.Errorf("%d runs answered, %d kept: the cap dropped too few to tell", sent, kept)
	}
	t.Logf("%d runs answered, %d kept", sent, kept)
}
