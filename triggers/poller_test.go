package triggers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

// shop is a stand-in API whose list of orders grows. It answers GET /orders with
// {"orders": [...], "next": N}, and fails with status while status is not 0.
type shop struct {
	mu     sync.Mutex
	orders []map[string]any
	status int
	since  []string // the since query of every request
}

func (s *shop) add(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.orders = append(s.orders, map[string]any{"id": fmt.Sprintf("o%d", len(s.orders)+1), "total": 10 * len(s.orders)})
	}
}

func (s *shop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.since = append(s.since, r.URL.Query().Get("since"))
	if s.status != 0 {
		w.WriteHeader(s.status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"orders": s.orders, "next": len(s.orders)})
}

// countingPolls is an engine that counts, by item id, the runs its item starts.
type countingPolls struct {
	*engine.Engine
	mu   *sync.Mutex
	runs map[string]int
}

func (c countingPolls) StartOnce(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event, key string, window time.Duration) (string, bool, error) {
	id, first, err := c.Engine.StartOnce(ctx, wf, ev, key, window)
	if first {
		c.mu.Lock()
		c.runs[ev.Body.(map[string]any)["id"].(string)]++
		c.mu.Unlock()
	}
	return id, first, err
}

func loadPolls(t *testing.T, client *http.Client, src string) *workflows.Set {
	t.Helper()
	k := workflows.NewKinds()
	actions.Register(k, actions.Options{Client: client, Logger: quietLog})
	Register(k)
	set, diags := workflows.Load([]workflows.Source{{Name: "poll.hcl", Data: []byte(src)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return set
}

const pollSrc = `
workflow "orders" {
  trigger "poll" {
    every  = "1m"
    url    = "%s/orders"
    query  = { since = "{{ poll.cursor ?? '' }}" }
    items  = "response.body.orders"
    key    = "item.id"
    cursor = "response.body.next"
  }
  filter = "event.body.total != 999"
}
`

// Two processes poll a growing list: the first poll starts nothing, each new item
// starts exactly one run, items seen start none again, a failing poll starts nothing
// and the next good one catches up, and the cursor is carried from poll to poll.
func TestPoll(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		api := &shop{}
		srv := httptest.NewServer(api)
		defer srv.Close()
		set := loadPolls(t, srv.Client(), fmt.Sprintf(pollSrc, srv.URL))
		wf := set.Workflow("orders")
		poll := wf.Triggers[0].Config.(*Poll)
		var mu sync.Mutex
		runs := map[string]int{}
		procs := []*Poller{}
		streaks := []*streak{}
		for range 2 {
			e := engine.New(b.Client, engine.Options{Logger: quietLog, Shards: b.Shards})
			e.Use(set)
			procs = append(procs, NewPoller(countingPolls{Engine: e, mu: &mu, runs: runs}, quietLog))
			streaks = append(streaks, &streak{})
		}
		base := time.Now().Add(-time.Hour).Truncate(time.Minute)
		n := 0
		// tick has both processes fire the next tick, as every process serving the set does.
		tick := func() {
			t.Helper()
			n++
			at := base.Add(time.Duration(n) * time.Minute)
			var wg sync.WaitGroup
			for i, p := range procs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					p.tick(context.Background(), wf, poll, streaks[i], at)
				}()
			}
			wg.Wait()
		}
		total := func() int {
			mu.Lock()
			defer mu.Unlock()
			sum := 0
			for id, c := range runs {
				if c != 1 {
					t.Errorf("item %s started %d runs", id, c)
				}
				sum += c
			}
			return sum
		}

		api.add(2)
		tick()
		if got := total(); got != 0 {
			t.Fatalf("the first poll started %d runs, want none (backfill = false)", got)
		}
		api.add(3)
		tick()
		if got := total(); got != 3 {
			t.Fatalf("3 new items started %d runs", got)
		}
		tick()
		if got := total(); got != 3 {
			t.Fatalf("the same items again: %d runs in all, want 3", got)
		}

		api.mu.Lock()
		api.status = 500
		api.mu.Unlock()
		api.add(2)
		tick()
		if got := total(); got != 3 {
			t.Fatalf("a failing poll started runs: %d in all", got)
		}
		failed := 0
		for _, s := range streaks {
			failed += s.failures
		}
		if failed != 1 {
			t.Errorf("%d failed polls counted, want 1 (one process polls a tick)", failed)
		}
		api.mu.Lock()
		api.status = 0
		api.mu.Unlock()
		tick()
		if got := total(); got != 5 {
			t.Fatalf("the good poll after a failure: %d runs in all, want 5", got)
		}

		api.mu.Lock()
		since := append([]string(nil), api.since...)
		api.mu.Unlock()
		want := []string{"", "2", "5", "5", "5"}
		if fmt.Sprint(since) != fmt.Sprint(want) {
			t.Errorf("since sent %v, want %v (one request per tick, the cursor of the last good poll)", since, want)
		}
	})
}
