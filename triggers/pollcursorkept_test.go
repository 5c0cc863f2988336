package triggers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/hookflow/hookflow/internal/redistest"
)

// quietAPI answers GET /orders?since=N&limit=L with the orders after the N-th, at most
// L, oldest first: {"orders": [...], "next_since": "<the last one's number>"}. An
// answer with no orders gives no cursor, as many APIs do: empty says how (the field
// left out, "" as Slack's next_cursor at the end, or null).
type quietAPI struct {
	mu    sync.Mutex
	n     int
	empty string // "omitted", "empty" or "null"
	since []string
	srv   *httptest.Server
}

func newQuietAPI(t *testing.T, n int, empty string) *quietAPI {
	a := &quietAPI{n: n, empty: empty}
	a.srv = httptest.NewServer(a)
	t.Cleanup(a.srv.Close)
	return a
}

func (a *quietAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	since := r.URL.Query().Get("since")
	a.since = append(a.since, since)
	from, _ := strconv.Atoi(since)
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	to := min(from+limit, a.n)
	orders := []map[string]any{}
	for i := from + 1; i <= to; i++ {
		orders = append(orders, map[string]any{"id": fmt.Sprintf("o%d", i)})
	}
	out := map[string]any{"orders": orders}
	switch {
	case len(orders) > 0:
		out["next_since"] = strconv.Itoa(to)
	case a.empty == "empty":
		out["next_since"] = ""
	case a.empty == "null":
		out["next_since"] = nil
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func (a *quietAPI) add(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n += n
}

func (a *quietAPI) asked() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.since
	a.since = nil
	return out
}

// quietPollSrc polls a quietAPI with a cursor written as the API gives it, without a
// fallback; %[2]s is more of the trigger.
const quietPollSrc = `
workflow "orders" {
  trigger "poll" {
    every  = "1m"
    url    = "%[1]s/orders"
    query  = { since = "{{ poll.cursor ?? '0' }}", limit = "3" }
    items  = "response.body.orders"
    key    = "item.id"
    cursor = "response.body.next_since"%[2]s
  }
}
`

// A cursor expression that gives nil or "" (an answer with nothing new, which says no
// cursor) keeps the cursor the poll had: the next poll asks from there, never from
// the start of the list again. A first poll still reads on to such an answer, and
// ends there.
func TestPollCursorNilKeepsTheLastOne(t *testing.T) {
	for _, empty := range []string{"omitted", "empty", "null"} {
		t.Run(empty, func(t *testing.T) {
			b := redistest.Mini(t)
			api := newQuietAPI(t, 10, empty)
			c := newCutPoller(t, b, api.srv.Client(), fmt.Sprintf(quietPollSrc, api.srv.URL, ""))
			if got := c.tick(); len(got) != 0 {
				t.Fatalf("the first poll started %v, want nothing (backfill = false)", got)
			}
			if got := fmt.Sprint(api.asked()); got != "[0 3 6 9 10]" {
				t.Errorf("the first poll asked since %s, want [0 3 6 9 10]: to the end of the list", got)
			}
			if got := c.cursor(); got != "10" {
				t.Errorf("after the first poll the cursor is %#v, want \"10\": the answer without one keeps it", got)
			}
			for range 2 {
				if got := c.tick(); len(got) != 0 {
					t.Fatalf("a poll with nothing new started %v", got)
				}
			}
			if got := fmt.Sprint(api.asked()); got != "[10 10]" {
				t.Errorf("the polls after the first asked since %s, want [10 10]: from the cursor kept", got)
			}
			api.add(2)
			if got := fmt.Sprint(c.tick()); got != "[o11 o12]" {
				t.Errorf("two new orders started %s, want [o11 o12]", got)
			}
			c.tick()
			if got := fmt.Sprint(api.asked()); got != "[10 12]" {
				t.Errorf("the polls asked since %s, want [10 12]", got)
			}
			if got := c.cursor(); got != "12" {
				t.Errorf("the cursor is %#v, want \"12\"", got)
			}
		})
	}
}

// With backfill, the first poll starts runs and every poll takes its cursor from its
// answer: one with nothing new keeps the cursor too.
func TestPollCursorNilKeepsTheLastOneWithBackfill(t *testing.T) {
	b := redistest.Mini(t)
	api := newQuietAPI(t, 2, "omitted")
	c := newCutPoller(t, b, api.srv.Client(), fmt.Sprintf(quietPollSrc, api.srv.URL, "\n    backfill = true"))
	if got := fmt.Sprint(c.tick()); got != "[o1 o2]" {
		t.Fatalf("the first poll, with backfill, started %s, want [o1 o2]", got)
	}
	c.tick()
	c.tick()
	if got := fmt.Sprint(api.asked()); got != "[0 2 2]" {
		t.Errorf("the polls asked since %s, want [0 2 2]: an answer without a cursor keeps the one the poll had", got)
	}
}
