package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// TestReloadUnderLoadDropsNothing fires webhooks from 16 clients for 13 seconds while
// the workflow file is rewritten 50 times: every request gets a 202, every one is a
// run with one version, and the reloads happened under load: requests were in flight
// as the edits were written, and the runs carry the versions the edits made. Nothing
// depends on how fast the machine is.
func TestReloadUnderLoadDropsNothing(t *testing.T) {
	b := redistest.Real(t)
	dir := t.TempDir()
	src := func(i int) string {
		return fmt.Sprintf("workflow \"busy\" {\n  description = \"edit %d\"\n  trigger \"webhook\" {\n    path = \"/busy\"\n  }\n}\n", i)
	}
	writeFile(t, filepath.Join(dir, "busy.hcl"), src(0))
	s := serveDir(t, dir, b.URL, "127.0.0.1:0")

	// 50 edits, each left long enough to be applied (the watcher waits about 200 ms
	// for quiet, unchanged files), within the load.
	const window, apart = 13 * time.Second, 250 * time.Millisecond
	stop := time.Now().Add(window)
	var sent, ok, bad atomic.Int64
	// inFlight is the requests sent and not yet answered, read as each edit is written.
	var inFlight atomic.Int64
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				sent.Add(1)
				inFlight.Add(1)
				resp, err := client.Post("http://"+s.publicAddr+"/hooks/busy", "application/json", nil)
				if err != nil {
					inFlight.Add(-1)
					bad.Add(1)
					t.Errorf("request failed: %v", err)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				inFlight.Add(-1)
				if resp.StatusCode == http.StatusAccepted {
					ok.Add(1)
				} else {
					bad.Add(1)
					t.Errorf("answered %d", resp.StatusCode)
				}
			}
		}()
	}
	// Each edit is written whole and renamed into place, as editors do and
	// docs/operations.md asks: a file caught half-written may be loaded as it stands.
	// Whether requests are in flight is read right as it lands: a count of edits, not
	// of requests or of time, so a slow machine passes as a fast one does.
	const edits = 50
	underLoad := 0
	for i := 1; i <= edits; i++ {
		time.Sleep(apart)
		tmp := filepath.Join(dir, ".busy.hcl.tmp")
		writeFile(t, tmp, src(i))
		must(t, os.Rename(tmp, filepath.Join(dir, "busy.hcl")))
		if inFlight.Load() > 0 {
			underLoad++
		}
	}
	wg.Wait()
	t.Logf("%d requests, %d answered 202, %d not; %d of %d edits written with requests in flight",
		sent.Load(), ok.Load(), bad.Load(), underLoad, edits)
	// Most, not all: a loaded machine may leave the 16 clients between two requests
	// at an instant, or end the load before the last edits.
	if underLoad < 40 {
		t.Errorf("%d of the %d edits were written with a request in flight, want at least 40: the reloads were not under load", underLoad, edits)
	}

	// Every accepted webhook is a run, and the runs carry the versions of the edits:
	// the swaps happened under load, and each run has the one version it started with.
	versions := map[string]int{}
	runs := 0
	for f := (engine.RunFilter{Workflow: "busy", Limit: 500}); ; {
		page, err := s.engine.Runs(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, run := range page.Runs {
			versions[run.Version]++
			runs++
		}
		if page.Next == "" {
			break
		}
		f.Cursor = page.Next
	}
	if int64(runs) != ok.Load() {
		t.Errorf("%d runs for %d webhooks answered 202", runs, ok.Load())
	}
	// A loaded machine coalesces edits that come faster than the watcher settles, so
	// not every edit is a version; most are.
	if len(versions) < 20 {
		t.Errorf("the runs carry %d versions, want most of the 51 the edits made", len(versions))
	}
	testutil.Eventually(t, 5*time.Second, "the last edit is served", func() bool {
		return s.config.set.Load().Workflow("busy").Description == "edit 50"
	})
	t.Logf("%d runs, %d versions", runs, len(versions))
}
