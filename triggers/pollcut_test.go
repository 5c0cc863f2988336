package triggers

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

// sinceShop is an API that answers GET /orders?since=T with every order paid after T,
// oldest first, and next_since, the time of the newest order it answers with (none
// when it answers none). With perPage, it answers perPage orders a page (?page=N),
// with a Link to the next.
type sinceShop struct {
	mu      sync.Mutex
	orders  []map[string]any
	perPage int
	since   []string // the since of each request
	srv     *httptest.Server
}

func newSinceShop(t *testing.T, perPage int) *sinceShop {
	s := &sinceShop{perPage: perPage}
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.srv.Close)
	return s
}

// add adds orders, paid one minute apart, of the kind given ("ship" or "pickup").
func (s *sinceShop) add(kinds ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, kind := range kinds {
		n := len(s.orders) + 1
		s.orders = append(s.orders, map[string]any{"id": fmt.Sprintf("q%d", n), "kind": kind,
			"paid_at": time.Date(2026, 3, 2, 9, n, 0, 0, time.UTC).Format(time.RFC3339)})
	}
}

func (s *sinceShop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	since := r.URL.Query().Get("since")
	s.since = append(s.since, since)
	after := []map[string]any{}
	for _, o := range s.orders {
		if o["paid_at"].(string) > since {
			after = append(after, o)
		}
	}
	if s.perPage > 0 {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		page = max(page, 1)
		from, to := min((page-1)*s.perPage, len(after)), min(page*s.perPage, len(after))
		if to < len(after) {
			w.Header().Set("Link", fmt.Sprintf(`<%s/orders?since=%s&page=%d>; rel="next"`, s.srv.URL, since, page+1))
		}
		after = after[from:to]
	}
	out := map[string]any{"orders": after}
	if len(after) > 0 {
		out["next_since"] = after[len(after)-1]["paid_at"]
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// asked returns the since of every request so far, and forgets them.
func (s *sinceShop) asked() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.since
	s.since = nil
	return out
}

const sincePollSrc = `
workflow "orders" {
  trigger "poll" {
    every     = "1m"
    url       = "%s/orders"
    query     = { since = "{{ poll.cursor ?? '' }}" }
    items     = "response.body.orders"
    key       = "item.id"
    cursor    = "response.body.next_since ?? poll.cursor"
    max_items = %d%s
  }
  filter = "event.body.kind != 'pickup'"
}
`

// cutPoller is one process polling the workflow "orders" of src, a tick a minute: it
// counts the runs of each item and keeps what it logs.
type cutPoller struct {
	t      *testing.T
	p      *Poller
	e      *engine.Engine
	wf     *workflows.Workflow
	st     *streak
	at     time.Time
	loop   context.Context // the context of the poll's loop; nil: one never cancelled
	mu     sync.Mutex
	runs   map[string]int
	logged strings.Builder
}

func newCutPoller(t *testing.T, b *redistest.Backend, client *http.Client, src string) *cutPoller {
	c := &cutPoller{t: t, st: &streak{}, runs: map[string]int{}, at: time.Now().Add(-time.Hour).Truncate(time.Minute)}
	c.e = engine.New(b.Client, engine.Options{Logger: quietLog, Shards: b.Shards})
	c.use(client, src)
	c.p = NewPoller(countingPolls{Engine: c.e, mu: &c.mu, runs: c.runs}, slog.New(slog.NewTextHandler(&c.logged, nil)))
	return c
}

// use loads src, as a reload does.
func (c *cutPoller) use(client *http.Client, src string) {
	set := loadPolls(c.t, client, src)
	c.e.Use(set)
	c.wf = set.Workflow("orders")
}

// tick polls once, at the next minute, and returns the ids of the items that started
// runs, in order.
func (c *cutPoller) tick() []string {
	c.t.Helper()
	before := map[string]int{}
	c.mu.Lock()
	for id, n := range c.runs {
		before[id] = n
	}
	c.mu.Unlock()
	c.at = c.at.Add(time.Minute)
	loop := c.loop
	if loop == nil {
		loop = context.Background()
	}
	c.p.tick(loop, c.wf, c.wf.Triggers[0].Config.(*Poll), c.st, c.at)
	c.mu.Lock()
	defer c.mu.Unlock()
	var started []string
	for id, n := range c.runs {
		if n != 1 {
			c.t.Errorf("item %s started %d runs", id, n)
		}
		if before[id] == 0 {
			started = append(started, id)
		}
	}
	slices.SortFunc(started, func(a, b string) int { return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b)) })
	return started
}

func (c *cutPoller) cursor() any {
	c.t.Helper()
	st, _, err := c.e.PollState(context.Background(), c.wf, c.wf.Triggers[0].Config.(*Poll).Key())
	if err != nil {
		c.t.Fatal(err)
	}
	return st.Cursor
}

func paidAt(n int) string { return time.Date(2026, 3, 2, 9, n, 0, 0, time.UTC).Format(time.RFC3339) }

// max_items cuts the items a poll starts, not the items it is answered with: with
// orders q2, q3 and q4 new at once and max_items = 2, the poll starts q2 and q3 and
// keeps its cursor, which the API would have moved past q4, so the next poll is
// answered q2, q3 and q4 again and starts q4. Items seen do not count toward
// max_items, nor do those the filter turns down, so a backlog of any size drains, two
// items a poll, and the cursor moves once a poll has looked at its whole list.
func TestPollMaxItemsLosesNothing(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		api := newSinceShop(t, 0)
		c := newCutPoller(t, b, api.srv.Client(), fmt.Sprintf(sincePollSrc, api.srv.URL, 2, ""))
		api.add("ship")
		if got := c.tick(); len(got) != 0 {
			t.Fatalf("the first poll started %v, want nothing (backfill = false)", got)
		}

		api.add("ship", "ship", "ship")
		if got := fmt.Sprint(c.tick()); got != "[q2 q3]" {
			t.Errorf("three new orders, max_items = 2: the poll started %s, want [q2 q3]", got)
		}
		if c.cursor() != paidAt(1) {
			t.Errorf("cursor %v after a poll cut at max_items, want the one it had, %s", c.cursor(), paidAt(1))
		}
		if !strings.Contains(c.logged.String(), "level=WARN") || !strings.Contains(c.logged.String(), "max_items") {
			t.Errorf("a cut poll logged no warning:\n%s", c.logged.String())
		}
		if got := fmt.Sprint(c.tick()); got != "[q4]" {
			t.Errorf("the poll after the cut started %s, want [q4]", got)
		}
		if c.cursor() != paidAt(4) {
			t.Errorf("cursor %v after a poll that looked at its whole list, want q4's time, %s", c.cursor(), paidAt(4))
		}
		if got := c.tick(); len(got) != 0 {
			t.Errorf("a poll with nothing new started %v", got)
		}
		// The first poll reads on until an answer shows its list ends (its cursor the one sent).
		want := []string{"", paidAt(1), paidAt(1), paidAt(1), paidAt(4)}
		if got := api.asked(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("since sent %v, want %v", got, want)
		}

		// A backlog of 7, 3 of them turned down by the filter (not remembered, so they
		// are looked at again): 2 runs a poll, then the cursor moves past them all.
		api.add("ship", "pickup", "pickup", "ship", "pickup", "ship", "ship")
		var polls [][]string
		for range 4 {
			polls = append(polls, c.tick())
		}
		if got := fmt.Sprint(polls); got != "[[q5 q8] [q10 q11] [] []]" {
			t.Errorf("a backlog of 4 orders to ship and 3 picked up, max_items = 2: runs by poll %s, want [[q5 q8] [q10 q11] [] []]", got)
		}
		if c.cursor() != paidAt(11) {
			t.Errorf("cursor %v once the backlog drained, want q11's time, %s", c.cursor(), paidAt(11))
		}
		if n := strings.Count(c.logged.String(), "level=WARN"); n != 2 {
			t.Errorf("%d warnings, want one per run of cut polls (2):\n%s", n, c.logged.String())
		}
		if !strings.Contains(c.logged.String(), "poll read its whole list again") {
			t.Errorf("the end of a run of cut polls is not logged:\n%s", c.logged.String())
		}
	})
}

// A poll that max_pages cuts has not read the pages after them: it keeps its cursor,
// as one cut by max_items does. Once every item of the pages it can read has started,
// keeping the cursor would have it read the same pages forever: it fails, saying to
// raise max_pages, and loses nothing; with max_pages raised, the next poll starts the
// rest.
func TestPollMaxPagesLosesNothing(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		api := newSinceShop(t, 2)
		src := func(maxPages int) string {
			return fmt.Sprintf(sincePollSrc, api.srv.URL, 20, fmt.Sprintf("\n    paginate {\n      next      = \"link_next(response)\"\n      max_pages = %d\n    }", maxPages))
		}
		c := newCutPoller(t, b, api.srv.Client(), src(2))
		api.add("ship")
		c.tick()
		api.add("ship", "ship", "ship", "ship", "ship", "ship")
		if got := fmt.Sprint(c.tick()); got != "[q2 q3 q4 q5]" {
			t.Errorf("6 new orders, 2 a page, max_pages = 2: the poll started %s, want [q2 q3 q4 q5]", got)
		}
		if c.cursor() != paidAt(1) {
			t.Errorf("cursor %v after a poll cut at max_pages, want the one it had, %s", c.cursor(), paidAt(1))
		}
		if got := c.tick(); len(got) != 0 || c.st.failures != 1 {
			t.Errorf("the same two pages again: started %v, %d failures; want nothing started and a failure", got, c.st.failures)
		}
		if !strings.Contains(c.logged.String(), "raise the paginate block's max_pages") {
			t.Errorf("the failure does not say what to do:\n%s", c.logged.String())
		}
		c.use(api.srv.Client(), src(4))
		if got := fmt.Sprint(c.tick()); got != "[q6 q7]" {
			t.Errorf("max_pages raised to 4: the poll started %s, want [q6 q7]", got)
		}
		if c.cursor() != paidAt(7) {
			t.Errorf("cursor %v after a poll that read its list to the end, want q7's time, %s", c.cursor(), paidAt(7))
		}
	})
}

// A poll's first, without backfill, records every item it reads as there before, not
// only max_items of them: the next poll, whose cut counts only new items, starts none
// of them.
func TestPollFirstPollRecordsPastMaxItems(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		api := &shop{}
		srv := httptest.NewServer(api)
		defer srv.Close()
		c := newCutPoller(t, b, srv.Client(), fmt.Sprintf(`
workflow "orders" {
  trigger "poll" {
    every     = "1m"
    url       = "%s/orders"
    items     = "response.body.orders"
    key       = "item.id"
    max_items = 2
  }
}`, srv.URL))
		api.add(5)
		c.tick()
		if got := c.tick(); len(got) != 0 {
			t.Errorf("the poll after the first started %v, there before the first", got)
		}
		api.add(1)
		if got := fmt.Sprint(c.tick()); got != "[o6]" {
			t.Errorf("one new order: started %s, want [o6]", got)
		}
	})
}

// A poll that keeps its cursor reads the items it saw again at its next poll, which may
// come after a seen_window shorter than its interval or its wait after a failure: they
// stay seen until then, and none starts twice.
func TestPollKeptCursorKeepsItsItemsSeen(t *testing.T) {
	b := redistest.Real(t) // its keys expire as time passes
	api := newSinceShop(t, 2)
	src := fmt.Sprintf(sincePollSrc, api.srv.URL, 20, "\n    seen_window = \"1s\"\n    paginate {\n"+
		"      next      = \"link_next(response)\"\n      max_pages = 2\n    }")
	c := newCutPoller(t, b, api.srv.Client(), src)
	api.add("ship")
	c.tick()
	api.add("ship", "ship", "ship", "ship", "ship", "ship")
	if got := fmt.Sprint(c.tick()); got != "[q2 q3 q4 q5]" {
		t.Fatalf("started %s, want [q2 q3 q4 q5]", got)
	}
	c.tick() // the same pages again: the poll fails, to wait before the next
	time.Sleep(1200 * time.Millisecond)
	c.st.retryAt = time.Time{}
	if got := c.tick(); len(got) != 0 {
		t.Errorf("past the seen_window, the poll that kept its cursor started %v again", got)
	}
}
