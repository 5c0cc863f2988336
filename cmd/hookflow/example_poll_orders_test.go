package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/triggers"
	"github.com/hookflow/hookflow/workflows"
)

// shopOrders is the shop API the poll-orders example polls: its paid orders, answered
// from the paid_since its poll sends on, oldest first, with next_since the last one's
// paid_at; an answer with no orders has no next_since.
type shopOrders struct {
	mu     sync.Mutex
	orders []map[string]any
	asked  []string // the paid_since of each request
}

func (s *shopOrders) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	since := r.URL.Query().Get("paid_since")
	s.asked = append(s.asked, since)
	if r.URL.Path != "/api/v1/orders" || r.URL.Query().Get("status") != "paid" || r.Header.Get("Authorization") != "Bearer "+exampleEnv["SHOP_TOKEN"] {
		http.Error(w, "not this", http.StatusBadRequest)
		return
	}
	answer := map[string]any{}
	out := []map[string]any{}
	for _, o := range s.orders {
		if paid := o["paid_at"].(string); paid >= since {
			out = append(out, o)
			answer["next_since"] = paid
		}
	}
	answer["orders"] = out
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(answer)
}

// runPollOrders runs hookflow run --poll poll_orders with args, and returns what it
// printed and its error.
func runPollOrders(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr strings.Builder
	args = append([]string{"run", "--dir", filepath.Join(examples, "poll-orders"), "--poll", "poll_orders",
		"--allow-net", "127.0.0.1/32"}, args...)
	err := run(context.Background(), args, nil, &stdout, &stderr)
	if err != nil {
		t.Logf("hookflow %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), err
}

// TestExamplePollOrders polls the stand-in shop once with hookflow run --poll: a dry run
// shows the request and the new orders and starts nothing; with --redis, the cursor and
// the orders seen are those kept there, and nothing is written; without --dry-run, each
// new order runs the workflow, posting its shipment, and an order picked up in a
// store is filtered out.
func TestExamplePollOrders(t *testing.T) {
	setExampleEnv(t)
	shop := &shopOrders{orders: []map[string]any{
		{"id": "ord_1", "paid_at": "2026-03-02T09:00:00Z", "shipping": map[string]any{"method": "standard", "name": "Ada", "address": "London"},
			"lines": []any{map[string]any{"sku": "MUG-BLK", "quantity": 2}}},
		{"id": "ord_2", "paid_at": "2026-03-02T09:05:00Z", "shipping": map[string]any{"method": "pickup", "name": "Grace"},
			"lines": []any{map[string]any{"sku": "TEE", "quantity": 1}}},
		{"id": "ord_3", "paid_at": "2026-03-02T09:10:00Z", "shipping": map[string]any{"method": "express", "name": "Alan", "address": "Wilmslow"},
			"lines": []any{map[string]any{"sku": "BOOK", "quantity": 1}}},
	}}
	shopSrv := newFakeAPI(t, func(r request, w http.ResponseWriter) {}) // replaced below: the shop keeps its own state
	shopSrv.Config.Handler = shop
	warehouse := newFakeAPI(t, func(r request, w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id": "shp_1"}`)
	})
	t.Setenv("SHOP_URL", shopSrv.URL+"/api/v1")
	t.Setenv("FULFILLMENT_URL", warehouse.URL+"/api")

	t.Run("dry run", func(t *testing.T) {
		out, err := runPollOrders(t, "--dry-run")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			"poll of poll_orders (every 1m), no --redis",
			"→ GET " + shopSrv.URL + "/api/v1/orders?limit=250&paid_since=&status=paid",
			"Authorization: Bearer [redacted]",
			"← 200",
			"new  ord_1\n", "new  ord_3\n",
			// A pickup: serve starts no run for it, and does not remember it.
			"new  ord_2 (the filter is false for it: no run, and it stays new)\n",
			"next cursor: 2026-03-02T09:10:00Z",
			"3 items, 3 new (1 of them filtered)\n", "dry run: no run started",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("the output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, exampleEnv["SHOP_TOKEN"]) {
			t.Errorf("the shop's token is shown:\n%s", out)
		}
		warehouse.none(t)
	})

	t.Run("seen in redis", func(t *testing.T) {
		b := redistest.Mini(t)
		set, _ := load(filepath.Join(examples, "poll-orders"), kinds(nil, nil), io.Discard)
		wf := set.Workflow("poll_orders")
		poll := wf.Triggers[0].Config.(*triggers.Poll)
		ctx := context.Background()
		shards, err := engine.AgreeShards(ctx, b.Client, 0)
		if err != nil {
			t.Fatal(err)
		}
		e := engine.New(b.Client, engine.Options{Logger: slog.New(slog.DiscardHandler), Shards: shards})
		if err := e.SavePoll(ctx, wf, poll.Key(), workflows.PollState{Cursor: "2026-03-02T09:05:00Z"}); err != nil {
			t.Fatal(err)
		}
		if err := e.MarkSeen(ctx, wf, []string{"poll:ord_2"}, time.Hour); err != nil {
			t.Fatal(err)
		}
		out, err := runPollOrders(t, "--dry-run", "--redis", b.URL)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"cursor from Redis: 2026-03-02T09:05:00Z", "paid_since=2026-03-02T09%3A05%3A00Z",
			"seen ord_2\n", "new  ord_3\n", "2 items, 1 new"} {
			if !strings.Contains(out, want) {
				t.Errorf("the output lacks %q:\n%s", want, out)
			}
		}
		if seen, err := e.Seen(ctx, wf, []string{"poll:ord_3"}); err != nil || seen[0] {
			t.Errorf("a look with --redis recorded ord_3 as seen: %v %v", seen, err)
		}
		warehouse.none(t)
	})

	t.Run("runs", func(t *testing.T) {
		out, err := runPollOrders(t)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"item ord_2: filtered", "item ord_1: run ", "item ord_3: run ", "run succeeded"} {
			if !strings.Contains(out, want) {
				t.Errorf("the output lacks %q:\n%s", want, out)
			}
		}
		var shipped []string
		for _, r := range warehouse.drain() {
			body := r.body.(map[string]any)
			if r.method != "POST" || r.path != "/api/shipments" || r.header.Get("Authorization") != "Bearer "+exampleEnv["FULFILLMENT_TOKEN"] {
				t.Errorf("shipment sent as %s %s, Authorization %q", r.method, r.path, r.header.Get("Authorization"))
			}
			shipped = append(shipped, body["order_id"].(string))
		}
		sort.Strings(shipped)
		if strings.Join(shipped, ",") != "ord_1,ord_3" {
			t.Errorf("shipped %v, want ord_1 and ord_3 (ord_2 is picked up)", shipped)
		}
	})
}

// TestRunPollUsage: --poll's mistakes are usage errors that say what to do, and a
// HOOKFLOW_REDIS meant for serve does not stop a run of one event.
func TestRunPollUsage(t *testing.T) {
	setExampleEnv(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "two.hcl"), `
workflow "two" {
  trigger "poll" {
    every = "1m"
    url   = "https://example.com/a"
    items = "response.body"
    key   = "item.id"
  }
  trigger "poll" {
    every = "1h"
    url   = "https://example.com/b"
    items = "response.body"
    key   = "item.id"
  }
  step "log" "it" {
    message = "{{ event.body.id }}"
  }
}
`)
	hookflow := func(args ...string) (string, error) {
		var stdout, stderr strings.Builder
		err := run(context.Background(), append([]string{"run", "--dir", dir}, args...), strings.NewReader(`{"id": 1}`), &stdout, &stderr)
		return stdout.String() + stderr.String(), err
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--poll", "two"}, "name one as two/1 to two/2"},
		{[]string{"--poll", "two/3"}, "has 2 poll triggers"},
		{[]string{"--poll", "nope"}, `no workflow "nope"`},
		{[]string{"--poll", "two/1", "--event", "-"}, "takes none of --event"},
		{[]string{"--redis", "redis://localhost:1", "two"}, "--redis is read by --poll only"},
	} {
		out, err := hookflow(c.args...)
		if err == nil || !strings.Contains(out+err.Error(), c.want) {
			t.Errorf("%v: %v, want %q:\n%s", c.args, err, c.want, out)
		}
	}
	t.Setenv("HOOKFLOW_REDIS", "redis://localhost:1")
	if out, err := hookflow("--event", "-", "two"); err != nil || !strings.Contains(out, "(poll event)") || !strings.Contains(out, "run succeeded") {
		t.Errorf("a run with HOOKFLOW_REDIS set: %v\n%s", err, out)
	}
}

// TestRunPollShowsTheCut: hookflow run --poll marks the new items past max_items
// "cut", and shows the cursor a serving hookflow would keep: the one it had, since
// the cursor read from the answer may point past them.
func TestRunPollShowsTheCut(t *testing.T) {
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"orders": [{"id": "q1"}, {"id": "q2"}, {"id": "q3"}], "next_since": "q3-time"}`)
	}))
	defer shop.Close()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "orders.hcl"), `
workflow "orders" {
  trigger "poll" {
    every     = "1m"
    url       = "`+shop.URL+`/orders"
    query     = { since = "{{ poll.cursor ?? '' }}" }
    items     = "response.body.orders"
    key       = "item.id"
    cursor    = "response.body.next_since ?? poll.cursor"
    max_items = 2
  }
  step "log" "it" {
    message = "{{ event.body.id }}"
  }
}
`)
	var stdout, stderr strings.Builder
	if err := run(context.Background(), []string{"run", "--dir", dir, "--poll", "orders", "--dry-run", "--allow-net", "127.0.0.1/32"},
		nil, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
	}
	for _, want := range []string{"new  q1\n", "new  q2\n", "cut  q3\n", "3 items, 2 new, 1 cut\n", "next cursor: none (the one it had: the list is cut)",
		"cut at max_items = 2"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("the output lacks %q:\n%s", want, stdout.String())
		}
	}
	if strings.Contains(stdout.String(), "q3-time") {
		t.Errorf("the cursor shown is the one read past the cut:\n%s", stdout.String())
	}
}

// TestRunPollKeepsTheCursor: an answer with nothing new, which gives no cursor, keeps
// the one the poll had, as a serving hookflow does: hookflow run --poll shows it as
// the next cursor, not none (which would have the next poll start the list again).
func TestRunPollKeepsTheCursor(t *testing.T) {
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("since") != "10" {
			http.Error(w, "not this since", http.StatusBadRequest)
			return
		}
		io.WriteString(w, `{"orders": []}`)
	}))
	defer shop.Close()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "orders.hcl"), `
workflow "orders" {
  trigger "poll" {
    every  = "1m"
    url    = "`+shop.URL+`/orders"
    query  = { since = "{{ poll.cursor ?? '0' }}" }
    items  = "response.body.orders"
    key    = "item.id"
    cursor = "response.body.next_since"
  }
  step "log" "it" {
    message = "{{ event.body.id }}"
  }
}
`)
	b := redistest.Mini(t)
	set, _ := load(dir, kinds(nil, nil), io.Discard)
	wf := set.Workflow("orders")
	ctx := context.Background()
	shards, err := engine.AgreeShards(ctx, b.Client, 0)
	if err != nil {
		t.Fatal(err)
	}
	e := engine.New(b.Client, engine.Options{Logger: slog.New(slog.DiscardHandler), Shards: shards})
	if err := e.SavePoll(ctx, wf, wf.Triggers[0].Config.(*triggers.Poll).Key(), workflows.PollState{Cursor: "10"}); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	if err := run(ctx, []string{"run", "--dir", dir, "--poll", "orders", "--dry-run", "--redis", b.URL, "--allow-net", "127.0.0.1/32"},
		nil, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
	}
	for _, want := range []string{"cursor from Redis: 10", "0 items, 0 new", "next cursor: 10 (the one it had: the answer gives none, nothing new)"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("the output lacks %q:\n%s", want, stdout.String())
		}
	}
}

// TestRunPollShowsEveryPage: hookflow run --poll of a paginated poll shows the
// request of each page it read, in order, not the last one only.
func TestRunPollShowsEveryPage(t *testing.T) {
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("page") == "2" {
			io.WriteString(w, `{"orders": [{"id": "p3"}]}`)
			return
		}
		io.WriteString(w, `{"orders": [{"id": "p1"}, {"id": "p2"}], "next": "?page=2"}`)
	}))
	defer shop.Close()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "orders.hcl"), `
workflow "orders" {
  trigger "poll" {
    every = "1m"
    url   = "`+shop.URL+`/orders"
    items = "response.body.orders"
    key   = "item.id"
    paginate {
      next = "response.body.next"
    }
  }
  step "log" "it" {
    message = "{{ event.body.id }}"
  }
}
`)
	var stdout, stderr strings.Builder
	if err := run(context.Background(), []string{"run", "--dir", dir, "--poll", "orders", "--dry-run", "--allow-net", "127.0.0.1/32"},
		nil, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	first, second := strings.Index(out, "→ GET "+shop.URL+"/orders\n"), strings.Index(out, "→ GET "+shop.URL+"/orders?page=2\n")
	if first < 0 || second < first {
		t.Errorf("the output lacks the request of each page, in order:\n%s", out)
	}
	if !strings.Contains(out, "3 items, 3 new\n") {
		t.Errorf("the output lacks the items of both pages:\n%s", out)
	}
}

// TestRunPollShowsTheAnswerOfAFailure: when the API answers a status the poll does
// not expect, hookflow run --poll shows the answer's body under its status, and the
// poll's error, as a serving hookflow logs it, quotes its start: the body says why.
func TestRunPollShowsTheAnswerOfAFailure(t *testing.T) {
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, "{\"error\": \"database down\",\n \"detail\": \"replica 2 of 3 is not answering\"}")
	}))
	defer shop.Close()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "orders.hcl"), `
workflow "orders" {
  trigger "poll" {
    every = "1m"
    url   = "`+shop.URL+`/api/list"
    query = { since = "17" }
    items = "response.body.orders"
    key   = "item.id"
  }
  step "log" "it" {
    message = "{{ event.body.id }}"
  }
}
`)
	var stdout, stderr strings.Builder
	err := run(context.Background(), []string{"run", "--dir", dir, "--poll", "orders", "--dry-run", "--allow-net", "127.0.0.1/32"},
		nil, &stdout, &stderr)
	if err == nil {
		t.Fatalf("a poll answered 500 succeeds:\n%s", stdout.String())
	}
	out := stdout.String()
	answer := strings.Index(out, "  ← 500 in ")
	body := strings.Index(out, "\n    "+`{"detail":"replica 2 of 3 is not answering","error":"database down"}`+"\n")
	if answer < 0 || body < answer {
		t.Errorf("the output lacks the answer's body under its status:\n%s", out)
	}
	want := "the poll fails: GET " + shop.URL + `/api/list?since=17: status 500 Internal Server Error, expected 2xx; it answered: {"detail":"replica 2 of 3 is not answering","error":"database down"}` + "\n"
	if !strings.Contains(out, want) {
		t.Errorf("the output lacks %q:\n%s", want, out)
	}
}
