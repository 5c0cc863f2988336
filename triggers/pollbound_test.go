package triggers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

// slowList is an API that answers GET /orders?since=T&page=P with the orders paid
// after T, oldest first, one a page, with a Link to the next, and newest, the time
// of the newest order of all those pages: a cursor that every page gives (or, with
// lastOnly, the last page only), which points past the pages after the one read.
// Each page it answers moves clock on by cost: a poll's time passes as its pages are
// read, with no waiting.
type slowList struct {
	mu       sync.Mutex
	orders   []string // their paid_at
	cost     time.Duration
	lastOnly bool
	clock    *pollClock
	srv      *httptest.Server
}

func newSlowList(t *testing.T, orders int, cost time.Duration) *slowList {
	s := &slowList{cost: cost, clock: &pollClock{}}
	for range orders {
		s.add()
	}
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.srv.Close)
	return s
}

// add adds an order, paid a minute after the one before.
func (s *slowList) add() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orders = append(s.orders, paidAt(len(s.orders)+1))
}

func (s *slowList) setCost(cost time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cost = cost
}

func (s *slowList) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock.advance(s.cost)
	since := r.URL.Query().Get("since")
	var after []map[string]any
	for n, paid := range s.orders {
		if paid > since {
			after = append(after, map[string]any{"id": fmt.Sprintf("q%d", n+1), "paid_at": paid})
		}
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	out := map[string]any{"orders": []any{}}
	if page <= len(after) {
		out["orders"] = after[page-1 : page]
	}
	last := page >= len(after)
	if !last {
		w.Header().Set("Link", fmt.Sprintf(`<%s/orders?since=%s&page=%d>; rel="next"`, s.srv.URL, since, page+1))
	}
	if len(after) > 0 && (last || !s.lastOnly) {
		out["newest"] = after[len(after)-1]["paid_at"]
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// pollClock is a poller's clock, which a slowList moves on.
type pollClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *pollClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *pollClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// set sets the clock to now: a poll's bound is a deadline of the real clock, which
// the clock then leads by the pages it answered.
func (c *pollClock) set() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = time.Now()
}

const slowListSrc = `
workflow "orders" {
  trigger "poll" {
    every     = "1m"
    url       = "%s/orders"
    query     = { since = "{{ poll.cursor ?? '' }}" }
    items     = "response.body.orders"
    key       = "item.id"%s
    paginate {
      next      = "link_next(response)"
      max_pages = %d
    }
  }
}
`

// slowPoller polls api with the trigger of slowListSrc, more added to it, on the
// clock api moves: each tick reads its pages on a clock set to now.
func slowPoller(t *testing.T, api *slowList, more string, maxPages int) *cutPoller {
	c := newCutPoller(t, redistest.Mini(t), api.srv.Client(), fmt.Sprintf(slowListSrc, api.srv.URL, more, maxPages))
	c.p.now = func() time.Time { return api.clock.now() }
	return c
}

// tickOn polls once, its pages read on clock, set to now.
func (c *cutPoller) tickOn(clock *pollClock) []string {
	c.t.Helper()
	clock.set()
	return c.tick()
}

// orderIDs returns q<from> to q<to>, as tick returns them.
func orderIDs(from, to int) string {
	var ids []string
	for n := from; n <= to; n++ {
		ids = append(ids, fmt.Sprintf("q%d", n))
	}
	return fmt.Sprint(ids)
}

// A poll whose 20 pages take 8s each has time for 12 of them in its 2 minutes (it
// stops while it has time for one more: its timeout, 30s, and a second). Rather than
// fail at its bound, poll after poll, it is cut there: it starts the items of the
// pages it read, is no failure, and warns once, naming its limit. Without a cursor the
// next poll reads the same pages, skipping the items started; once the API is faster
// it reads on and starts the rest.
func TestPollCutByItsBoundStartsThePagesItRead(t *testing.T) {
	api := newSlowList(t, 20, 8*time.Second)
	c := slowPoller(t, api, "\n    backfill  = true", 100)
	if got, want := fmt.Sprint(c.tickOn(api.clock)), orderIDs(1, 12); got != want || c.st.failures != 0 {
		t.Fatalf("20 pages of 8s: started %s with %d failures, want %s and none (%s)", got, c.st.failures, want, c.logged.String())
	}
	if got := c.tickOn(api.clock); len(got) != 0 || c.st.failures != 0 {
		t.Errorf("the same pages again: started %v with %d failures, want nothing and none", got, c.st.failures)
	}
	logged := c.logged.String()
	if n := strings.Count(logged, "poll's pages took longer than its limit"); n != 1 || !strings.Contains(logged, "limit=2m") ||
		!strings.Contains(logged, "pages=12") {
		t.Errorf("logged %d warnings of polls cut by time, want one naming the limit (2m) and the pages read (12):\n%s", n, logged)
	}
	api.setCost(time.Second)
	if got, want := fmt.Sprint(c.tickOn(api.clock)), orderIDs(13, 20); got != want {
		t.Errorf("the API faster: started %s, want %s", got, want)
	}
	if !strings.Contains(c.logged.String(), "poll read its whole list again") {
		t.Errorf("the poll that read its whole list said nothing of it:\n%s", c.logged.String())
	}
}

// A poll with a cursor cut by its bound keeps the cursor it was sent: the one its
// last page read gives points past the pages it did not read (every page gives the
// newest order's time), whose items would never start. The next poll reads the same
// pages and has nothing to start: it fails, saying why and what to do, rather than
// take that cursor; with its timeout raised, the next poll reads on and starts the
// rest.
func TestPollCutByItsBoundKeepsItsCursor(t *testing.T) {
	api := newSlowList(t, 20, 8*time.Second)
	more := "\n    backfill  = true\n    cursor    = \"response.body.newest\""
	c := slowPoller(t, api, more, 100)
	if got, want := fmt.Sprint(c.tickOn(api.clock)), orderIDs(1, 12); got != want || c.st.failures != 0 {
		t.Fatalf("20 pages of 8s: started %s with %d failures, want %s and none (%s)", got, c.st.failures, want, c.logged.String())
	}
	if cur := c.cursor(); cur != nil {
		t.Errorf("cursor %v after a poll cut by its bound, want the one it had, none", cur)
	}
	if got := c.tickOn(api.clock); len(got) != 0 || c.st.failures != 1 {
		t.Errorf("the same pages again: started %v with %d failures, want nothing and a failure", got, c.st.failures)
	}
	for _, want := range []string{"the 12 items of the 12 pages the poll had time to read have all started runs",
		"its pages take longer than the poll may take (2m", "raise the poll's timeout"} {
		if !strings.Contains(c.logged.String(), want) {
			t.Errorf("the failure does not say %q:\n%s", want, c.logged.String())
		}
	}
	c.use(api.srv.Client(), fmt.Sprintf(slowListSrc, api.srv.URL, more+"\n    timeout   = \"5m\"", 100))
	c.st.retryAt = time.Time{}
	if got, want := fmt.Sprint(c.tickOn(api.clock)), orderIDs(13, 20); got != want || c.st.failures != 0 {
		t.Errorf("with 10 minutes: started %s with %d failures, want %s and none", got, c.st.failures, want)
	}
	if cur := c.cursor(); cur != paidAt(20) {
		t.Errorf("cursor %v after a poll that read its list to the end, want q20's time, %s", cur, paidAt(20))
	}
}

// A poll's first (backfill = false) cut by its bound records the items of the pages
// it read and keeps the cursor it was sent, still recording: it takes no cursor past
// the pages it did not read, so none of their items starts as new. The next, with
// nothing more it can record, fails saying why; once it can read the list to its end,
// the recording ends, and only the orders that come after it start runs.
func TestPollFirstCutByItsBoundRecordsThePagesItRead(t *testing.T) {
	api := newSlowList(t, 20, 8*time.Second)
	more := "\n    cursor    = \"response.body.newest\""
	c := slowPoller(t, api, more, 100)
	poll := c.wf.Triggers[0].Config.(*Poll)
	state := func() workflows.PollState {
		st, _, err := c.e.PollState(t.Context(), c.wf, poll.Key())
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if got := c.tickOn(api.clock); len(got) != 0 || c.st.failures != 0 {
		t.Fatalf("the first poll started %v with %d failures, want nothing and none (%s)", got, c.st.failures, c.logged.String())
	}
	if st := state(); !st.Recording || st.Cursor != nil {
		t.Errorf("after the first poll cut by its bound: %+v, want still recording, from no cursor", st)
	}
	if !strings.Contains(c.logged.String(), "recorded=12") {
		t.Errorf("the first poll did not record the 12 pages it read:\n%s", c.logged.String())
	}
	if got := c.tickOn(api.clock); len(got) != 0 || c.st.failures != 1 {
		t.Errorf("the same pages again: started %v with %d failures, want nothing and a failure", got, c.st.failures)
	}
	if want := "the first poll (backfill = false) has recorded the items of the 12 pages the poll had time to read"; !strings.Contains(c.logged.String(), want) {
		t.Errorf("the failure does not say %q:\n%s", want, c.logged.String())
	}
	api.add() // q21, there before the recording ends
	c.use(api.srv.Client(), fmt.Sprintf(slowListSrc, api.srv.URL, more+"\n    timeout   = \"5m\"", 100))
	c.st.retryAt = time.Time{}
	if got := c.tickOn(api.clock); len(got) != 0 || c.st.failures != 0 {
		t.Errorf("with 10 minutes: started %v with %d failures, want nothing (still recording) and none", got, c.st.failures)
	}
	if st := state(); st.Recording || st.Cursor != paidAt(21) {
		t.Errorf("after a first poll that read its list to the end: %+v, want recorded, cursor q21's time", st)
	}
	api.add()
	if got := fmt.Sprint(c.tickOn(api.clock)); got != "[q22]" {
		t.Errorf("a new order: started %s, want [q22]", got)
	}
}

// A poll's first cut by max_pages, of an API that gives its cursor on the last page
// only, has no cursor to go on from: it keeps recording from the one it had rather
// than take the list's end for there, where the pages past max_pages, never recorded,
// would start runs once a poll reads them. It fails, saying to raise max_pages, once
// it has recorded what it can read.
func TestPollFirstCutByMaxPagesWithACursorOnTheLastPage(t *testing.T) {
	api := newSlowList(t, 5, 0)
	api.lastOnly = true
	more := "\n    cursor    = \"response.body.newest\""
	c := slowPoller(t, api, more, 2)
	if got := c.tickOn(api.clock); len(got) != 0 || c.st.failures != 0 {
		t.Fatalf("the first poll started %v with %d failures, want nothing and none", got, c.st.failures)
	}
	if got := c.tickOn(api.clock); len(got) != 0 || c.st.failures != 1 {
		t.Errorf("the same pages again: started %v with %d failures, want nothing and a failure", got, c.st.failures)
	}
	if want := "raise the paginate block's max_pages"; !strings.Contains(c.logged.String(), want) {
		t.Errorf("the failure does not say %q:\n%s", want, c.logged.String())
	}
	c.use(api.srv.Client(), fmt.Sprintf(slowListSrc, api.srv.URL, more, 10))
	c.st.retryAt = time.Time{}
	if got := c.tickOn(api.clock); len(got) != 0 {
		t.Errorf("max_pages raised: started %v, there before the first poll", got)
	}
	if got := c.tickOn(api.clock); len(got) != 0 {
		t.Errorf("the poll after the recording started %v, there before the first poll", got)
	}
	api.add()
	if got := fmt.Sprint(c.tickOn(api.clock)); got != "[q6]" {
		t.Errorf("a new order: started %s, want [q6]", got)
	}
}

// stallingPolls is an engine whose start of an item that stall names waits for its
// poll's context to end, once the starts of the others are done (others), having
// called stalled (nil: none).
type stallingPolls struct {
	countingPolls
	stall   map[string]bool
	others  *sync.WaitGroup
	stalled func()
}

func (s stallingPolls) StartOnce(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event, key string, window time.Duration) (string, bool, error) {
	if !s.stall[ev.Body.(map[string]any)["id"].(string)] {
		defer s.others.Done()
		return s.countingPolls.StartOnce(ctx, wf, ev, key, window)
	}
	s.others.Wait()
	if s.stalled != nil {
		s.stalled()
	}
	<-ctx.Done()
	return "", false, ctx.Err()
}

// A poll whose bound comes during its starts counts the items started, in Redis, as
// started, keeps its cursor, and is cut rather than failed: the rest start at the next
// poll. One that started none fails, saying it ran out of its time; one a reload or a
// stop cancels is no failure and keeps its cursor. Whichever, every item starts one
// run in the end (tick checks it).
func TestPollBoundDuringItsStarts(t *testing.T) {
	for _, tt := range []struct {
		name, stall string
		cancel      bool // the loop is cancelled, as by a reload, rather than the bound passing
		started     string
		failures    int
		logged      string
	}{
		{"some started", "q2", false, "[q1 q3]", 0, "poll's pages took longer than its limit"},
		{"none started", "q1 q2 q3", false, "[]", 1, "the poll stopped after 2s, its limit"},
		{"a reload", "q2", true, "[q1 q3]", 0, "poll stopped, by a reload"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			api := newSlowList(t, 3, 0)
			c := slowPoller(t, api, "\n    backfill  = true\n    cursor    = \"response.body.newest\"\n    timeout   = \"200ms\"", 10)
			stall := map[string]bool{}
			for _, id := range strings.Fields(tt.stall) {
				stall[id] = true
			}
			loop, cancel := context.WithCancel(t.Context())
			defer cancel()
			others := &sync.WaitGroup{}
			others.Add(3 - len(stall))
			polls := stallingPolls{countingPolls: countingPolls{Engine: c.e, mu: &c.mu, runs: c.runs}, stall: stall, others: others}
			if tt.cancel {
				polls.stalled = cancel
			}
			c.p = NewPoller(polls, slog.New(slog.NewTextHandler(&c.logged, nil)))
			c.p.now, c.p.timeout = api.clock.now, 2*time.Second // time for its three pages, with a timeout of 200ms
			c.loop = loop
			started := c.tickOn(api.clock)
			if got := fmt.Sprint(started); got != tt.started || c.st.failures != tt.failures {
				t.Errorf("started %s with %d failures, want %s with %d", got, c.st.failures, tt.started, tt.failures)
			}
			if !strings.Contains(c.logged.String(), tt.logged) {
				t.Errorf("logged:\n%s\nwant %q", c.logged.String(), tt.logged)
			}
			if cur := c.cursor(); cur != nil {
				t.Errorf("cursor %v, want the one it had, none: not every item started", cur)
			}
			c.p = NewPoller(countingPolls{Engine: c.e, mu: &c.mu, runs: c.runs}, quietLog)
			c.p.now = api.clock.now
			c.loop, c.st.retryAt = nil, time.Time{}
			rest := c.tickOn(api.clock)
			want := "[q2]"
			if tt.failures > 0 {
				want = "[q1 q2 q3]"
			}
			if got := fmt.Sprint(rest); got != want {
				t.Errorf("the next poll started %s, want %s", got, want)
			}
			if cur := c.cursor(); cur != paidAt(3) {
				t.Errorf("cursor %v once every item started, want q3's time, %s", cur, paidAt(3))
			}
		})
	}
}
