package triggers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

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

func loadPolls(t testing.TB, client *http.Client, src string) *workflows.Set {
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
		// The first poll reads on until its list ends: this API answers its whole list
		// whatever the cursor, so the cursor it gives does not move.
		want := []string{"", "2", "2", "5", "5", "5"}
		if fmt.Sprint(since) != fmt.Sprint(want) {
			t.Errorf("since sent %v, want %v (two requests for the first poll, which reads to the end of its list, then one "+
				"per tick, the cursor of the last good poll)", since, want)
		}
	})
}

// With backfill = true the first poll starts runs for what is there; an answer whose
// items are not a list fails the poll, counted once per poll and logged once per run
// of failures.
func TestPollBackfillAndBadItems(t *testing.T) {
	b := redistest.Mini(t)
	api := &shop{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	set := loadPolls(t, srv.Client(), fmt.Sprintf(`
workflow "all" {
  trigger "poll" {
    every    = "1m"
    url      = "%[1]s/orders"
    items    = "response.body.orders"
    key      = "item.id"
    backfill = true
  }
}
workflow "wrong" {
  trigger "poll" {
    every = "1m"
    url   = "%[1]s/orders"
    items = "response.body.next"
    key   = "item.id"
  }
}
`, srv.URL))
	e := engine.New(b.Client, engine.Options{Logger: quietLog})
	e.Use(set)
	var mu sync.Mutex
	runs := map[string]int{}
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, nil))
	p := NewPoller(countingPolls{Engine: e, mu: &mu, runs: runs}, log)
	api.add(2)
	at := time.Now().Add(-time.Hour).Truncate(time.Minute)
	all := set.Workflow("all")
	p.tick(context.Background(), all, all.Triggers[0].Config.(*Poll), &streak{}, at)
	if len(runs) != 2 {
		t.Errorf("backfill: %d items started runs, want 2", len(runs))
	}

	wrong := set.Workflow("wrong")
	st := &streak{}
	for i := range 3 {
		p.tick(context.Background(), wrong, wrong.Triggers[0].Config.(*Poll), st, at.Add(time.Duration(i)*time.Minute))
	}
	if st.failures != 3 || st.retryAt.IsZero() {
		t.Errorf("failures %d, retry at %v: want 3 and a wait", st.failures, st.retryAt)
	}
	if n := strings.Count(logged.String(), "poll failed"); n != 1 {
		t.Errorf("logged %d failures, want 1 per run of them:\n%s", n, logged.String())
	}
	if !strings.Contains(logged.String(), "not a list") {
		t.Errorf("the log does not say what failed:\n%s", logged.String())
	}
}

func TestPollRetryAfter(t *testing.T) {
	for _, c := range []struct {
		every time.Duration
		n     int
		want  time.Duration
	}{
		{time.Minute, 1, time.Minute},
		{time.Minute, 3, 4 * time.Minute},
		{time.Minute, 30, time.Hour},
		{2 * time.Hour, 5, 2 * time.Hour}, // never faster than the interval
	} {
		if got := retryAfter(c.every, c.n); got != c.want {
			t.Errorf("every %s, %d failures: %s, want %s", c.every, c.n, got, c.want)
		}
	}
}

func TestPollDiagnostics(t *testing.T) {
	const itemsKey = `items = "response.body"` + "\n key = \"item.id\""
	for _, c := range []struct {
		name, body, want string
	}{
		{"items as a template", `items = "{{ response.body }}"` + "\n key = \"item.id\"", `Unknown name "response"`},
		{"bad key", `items = "response.body"` + "\n key = \"item.\"", "Invalid key expression"},
		{"no key", `items = "response.body"`, `"key" is required`},
		{"no schedule", "", "A poll trigger needs cron or every"},
		{"every too short", `every = "10ms"` + "\n" + itemsKey, "A poll trigger polls at most once a second"},
		// The request is sent for a tick, before any item is an event of a run.
		{"event in the query", "query = { since = \"{{ event.body.since }}\" }\n" + itemsKey, "No event in a poll's request"},
		{"steps in a header", "headers = { X-Id = \"{{ steps.a.body.id }}\" }\n" + itemsKey,
			"it can read poll.cursor, poll.time and vars only"},
		{"run in the query", "query = { run = \"{{ run.id }}\" }\n" + itemsKey, "No run in a poll's request"},
		{"items gives a number", "items = \"len(response.body.orders)\"\n key = \"item.id\"",
			`"len(response.body.orders)" gives a number`},
		{"items gives a string", "items = \"'orders'\"\n key = \"item.id\"", "items does not give a list"},
		{"items gives true or false", "items = \"response.status == 200\"\n key = \"item.id\"", "gives true or false"},
		{"items gives an object", "items = \"{orders: response.body}\"\n key = \"item.id\"", "gives an object"},
		{"items gives nil", "items = \"nil\"\n key = \"item.id\"", "items does not give a list"},
		{"event in paginate", "paginate {\n next = \"event.body.next\"\n }\n" + itemsKey, "No event in a poll's request"},
		// Each expression is compiled over what it reads: items and cursor the answer,
		// key the item. A cursor read from item is nil and never moves; a key read from
		// the response, or from poll, is the same for every item, or new at every poll.
		{"cursor reads item", itemsKey + "\n cursor = \"item.id\"", "w.hcl:7,12-19: A poll's cursor cannot read item"},
		{"key reads the response", "items = \"response.body\"\n key = \"response.body.next_cursor\"",
			"w.hcl:6,9-34: A poll's key cannot read response"},
		{"key reads poll", "items = \"response.body\"\n key = \"item.id + poll.time\"", "w.hcl:6,19-28: A poll's key cannot read poll"},
		{"items reads item", "items = \"item.orders\"\n key = \"item.id\"", "w.hcl:5,11-22: A poll's items cannot read item"},
		{"a misspelled name", "items = \"respons.body\"\n key = \"item.id\"", `w.hcl:5,11-23: Unknown name "respons"`},
		{"key reads vars", "items = \"response.body\"\n key = \"vars.shop + item.id\"\n cursor = \"response.body.next ?? poll.cursor\"", ""},
		{"key reads an unknown var", "items = \"response.body\"\n key = \"vars.shp + item.id\"", `w.hcl:6,14-17: Unknown var "shp"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			every := `every = "1m"`
			switch c.name {
			case "no schedule":
				every, c.body = "", `items = "response.body"`+"\n key = \"item.id\""
			case "every too short":
				every = ""
			}
			// The vars block comes last, so that the lines above are the cases'.
			src := fmt.Sprintf("workflow \"w\" {\n trigger \"poll\" {\n %s\n url = \"https://example.com/x\"\n %s\n }\n}\nvars { shop = \"s\" }\n", every, c.body)
			k := workflows.NewKinds()
			actions.Register(k, actions.Options{Logger: quietLog})
			Register(k)
			_, diags := workflows.Load([]workflows.Source{{Name: "w.hcl", Data: []byte(src)}}, k)
			if c.want == "" && diags.HasErrors() {
				t.Errorf("diagnostics %q, want none", diags.Error())
			}
			if !strings.Contains(diags.Error(), c.want) {
				t.Errorf("diagnostics %q, want %q", diags.Error(), c.want)
			}
		})
	}
}

// Two processes poll a list that grows at every tick, for 30 ticks, each firing every
// tick as the processes serving a set do: every item added after the first poll
// starts exactly one run, and an item seen starts none again.
func TestPollTwoProcessesThirtyTicks(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		api := &shop{}
		srv := httptest.NewServer(api)
		defer srv.Close()
		set := loadPolls(t, srv.Client(), fmt.Sprintf(pollSrc, srv.URL))
		wf := set.Workflow("orders")
		poll := wf.Triggers[0].Config.(*Poll)
		var mu sync.Mutex
		runs := map[string]int{}
		var procs []*Poller
		for range 2 {
			e := engine.New(b.Client, engine.Options{Logger: quietLog, Shards: b.Shards})
			e.Use(set)
			procs = append(procs, NewPoller(countingPolls{Engine: e, mu: &mu, runs: runs}, quietLog))
		}
		streaks := []*streak{{}, {}}
		base := time.Now().Add(-time.Hour).Truncate(time.Minute)
		api.add(4) // there before the first poll: they start nothing
		added := 0
		for i := range 30 {
			if i > 0 {
				api.add(i%3 + 1)
				added += i%3 + 1
			}
			at := base.Add(time.Duration(i+1) * time.Minute)
			var wg sync.WaitGroup
			for j, p := range procs {
				wg.Go(func() { p.tick(context.Background(), wf, poll, streaks[j], at) })
			}
			wg.Wait()
		}
		mu.Lock()
		defer mu.Unlock()
		for id, n := range runs {
			if n != 1 {
				t.Errorf("item %s started %d runs", id, n)
			}
		}
		for i := 1; i <= 4; i++ {
			if runs[fmt.Sprintf("o%d", i)] != 0 {
				t.Errorf("item o%d, there before the first poll, started a run", i)
			}
		}
		if len(runs) != added {
			t.Errorf("%d items started runs, want the %d added after the first poll", len(runs), added)
		}
		api.mu.Lock()
		defer api.mu.Unlock()
		if len(api.since) != 31 {
			t.Errorf("%d requests for 30 ticks, want one a tick, and one more for the first, which reads to the end of its list", len(api.since))
		}
	})
}

// A poll's expressions read a field of nil as nil, as every expression of a workflow
// does: a cursor at response.body.meta.next is nil on a page without meta.
func TestPollExpressionsAreNilSafe(t *testing.T) {
	src := "workflow \"w\" {\n trigger \"poll\" {\n every = \"1m\"\n url = \"https://example.com/x\"\n" +
		" items = \"response.body.data.orders\"\n key = \"item.id\"\n cursor = \"response.body.meta.next\"\n }\n}\n"
	k := workflows.NewKinds()
	actions.Register(k, actions.Options{Logger: quietLog})
	Register(k)
	set, diags := workflows.Load([]workflows.Source{{Name: "w.hcl", Data: []byte(src)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	p := set.Workflow("w").Triggers[0].Config.(*Poll)
	env := answerEnv{Response: map[string]any{"body": map[string]any{}}}
	for name, prog := range map[string]*vm.Program{"items": p.Items, "cursor": p.Cursor} {
		if v, err := expr.Run(prog, env); err != nil || v != nil {
			t.Errorf("%s: %v %v, want nil", name, v, err)
		}
	}
}
