package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// fanoutSrc calls the API once per item of the webhook's body, 20 items at a time.
const fanoutSrc = `
workflow "fanout" {
  trigger "webhook" {
    path = "/fanout"
  }

  step "http" "deliver" {
    for_each     = "event.body.items"
    max_parallel = 20
    url          = "${env("FAULT_API")}/items/{{ each.key }}"
    json         = { sku = "{{ each.value.sku }}" }
  }
}
`

// itemSink is the API the items call: it records every call's Idempotency-Key and
// takes 25ms to answer. Past holdAfter calls, a call waits until release: the process
// is killed with those calls in flight, however fast or slow the machine.
type itemSink struct {
	srv       *httptest.Server
	holdAfter int64
	started   atomic.Int64
	held      chan struct{}
	release   func()

	mu    sync.Mutex
	calls map[string]int // Idempotency-Key -> calls answered
}

func newItemSink(t *testing.T, holdAfter int64) *itemSink {
	s := &itemSink{holdAfter: holdAfter, held: make(chan struct{}), calls: map[string]int{}}
	s.release = sync.OnceFunc(func() { close(s.held) })
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if s.started.Add(1) > s.holdAfter {
			<-s.held
		}
		time.Sleep(25 * time.Millisecond) // the API's own time to answer
		s.mu.Lock()
		s.calls[r.Header.Get("Idempotency-Key")]++
		s.mu.Unlock()
		w.Write([]byte(`{"ok": true}`))
	}))
	t.Cleanup(s.srv.Close)
	t.Cleanup(s.release) // before Close, which waits for the calls held
	return s
}

func (s *itemSink) answered() (keys map[string]int, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys = make(map[string]int, len(s.calls))
	for k, n := range s.calls {
		keys[k] = n
		total += n
	}
	return keys, total
}

// TestKillDuringForEachLosesNoItem: hookflow is killed (SIGKILL) while a for_each
// step of 500 items is half done, with items in flight; a new process on the same
// Redis finishes the run. Every item reached the API, each under its own
// Idempotency-Key (a repeat carries the same key), and the run is one run, succeeded,
// with its 500 items succeeded.
func TestKillDuringForEachLosesNoItem(t *testing.T) {
	b := redistest.Real(t)
	const items, maxParallel = 500, 20
	api := newItemSink(t, 150)
	dir := writeWorkflow(t, "fanout.hcl", fanoutSrc)
	first := startProc(t, dir, b.URL, api.srv.URL)

	list := make([]map[string]string, items)
	for i := range list {
		list[i] = map[string]string{"sku": fmt.Sprintf("s%d", i)}
	}
	body, _ := json.Marshal(map[string]any{"items": list})
	id := startRun(t, "http://"+first.public+"/hooks/fanout", string(body))

	testutil.Eventually(t, 60*time.Second, "100 items answered by the API", func() bool {
		_, total := api.answered()
		return total >= 100
	})
	first.kill()
	_, before := api.answered()
	inFlight := api.started.Load() - int64(before)
	api.release() // the calls of the dead process get their answers, which no one reads
	t.Logf("killed with %d of %d items answered and %d in flight", before, items, inFlight)
	if before >= items {
		t.Fatalf("every item was answered before the kill (%d); nothing was in flight", before)
	}

	second := startProc(t, dir, b.URL, api.srv.URL)
	var run runView
	testutil.Eventually(t, 120*time.Second, "run "+id+" finished after the restart", func() bool {
		run = runView{} // decoded afresh: json reuses the elements of a slice it decodes into
		second.getJSON(t, "/api/v1/runs/"+id, &run)
		return run.Status == "succeeded" || run.Status == "failed"
	})
	if run.Status != "succeeded" {
		t.Fatalf("run %s %s: %s", id, run.Status, run.Error)
	}

	// Every item reached the API under its own key, and nothing else did.
	keys, total := api.answered()
	repeats := 0
	for i := range items {
		key := fmt.Sprintf("%s:deliver:%d", id, i)
		n := keys[key]
		if n == 0 {
			t.Errorf("item %d never reached the API (key %s)", i, key)
		}
		repeats += max(n-1, 0)
		delete(keys, key)
	}
	if len(keys) != 0 {
		t.Errorf("the API saw %d keys that are no item's, e.g. %v", len(keys), firstKeys(keys, 3))
	}
	if repeats > maxParallel {
		t.Errorf("%d items called twice, more than the %d that max_parallel lets be in flight", repeats, maxParallel)
	}
	t.Logf("%d calls for %d items: %d repeated after the kill, each with its item's key", total, items, repeats)

	// One run, and the admin API shows its 500 items succeeded.
	var page struct {
		Runs []struct {
			ID string `json:"id"`
		} `json:"runs"`
	}
	second.getJSON(t, "/api/v1/runs?workflow=fanout", &page)
	if len(page.Runs) != 1 || page.Runs[0].ID != id {
		t.Errorf("runs of fanout: %+v, want run %s only", page.Runs, id)
	}
	if len(run.Steps) != 1 {
		t.Fatalf("steps %+v, want deliver", run.Steps)
	}
	step := run.Steps[0]
	if step.Name != "deliver" || step.Status != "succeeded" || step.ItemCount != items || len(step.Items) != items {
		t.Fatalf("step %s: %s, %d items, %d shown; want succeeded with %d", step.Name, step.Status, step.ItemCount, len(step.Items), items)
	}
	for i, it := range step.Items {
		if it.Status != "succeeded" {
			t.Errorf("item %d (%s) is %s", i, it.Path, it.Status)
		}
	}
}

// runView is what the test reads of a run from the admin API.
type runView struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Steps  []struct {
		Name      string `json:"name"`
		Status    string `json:"status"`
		ItemCount int    `json:"item_count"`
		Items     []struct {
			Path   string `json:"path"`
			Status string `json:"status"`
		} `json:"items"`
	} `json:"steps"`
}

// firstKeys returns up to n keys of m, for a message.
func firstKeys(m map[string]int, n int) []string {
	var out []string
	for k := range m {
		if len(out) == n {
			break
		}
		out = append(out, k)
	}
	return out
}

// startRun posts body to a webhook and returns the id of the run it was answered 202
// with.
func startRun(t *testing.T, url, body string) string {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var answer struct {
		RunID string `json:"run_id"`
	}
	err = json.NewDecoder(resp.Body).Decode(&answer)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || err != nil || answer.RunID == "" {
		t.Fatalf("the webhook: %d, run %q, %v", resp.StatusCode, answer.RunID, err)
	}
	return answer.RunID
}
