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
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

// slowList is an API that answers GET /orders?since=T&page=P with the orders paid
// after T, oldest first, one a page (or, with all, all on the first), with a Link to
// the next, and newest, the time of the newest order of all those pages: a cursor that
// every page gives (or, with lastOnly, the last page only), which points past the
// pages after the one read.
// Each page it answers moves clock on by cost: a poll's time passes as its pages are
// read, with no waiting. A page during which the clock passes a poll's pages' end (a
// timer of the clock) is given up by the poll: it is answered once the poll stopped
// waiting for it, with nothing.
type slowList struct {
	mu       sync.Mutex
	orders   []string // their paid_at
	cost     time.Duration
	lastOnly bool
	all      bool
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
	if s.clock.advance(s.cost) {
		<-r.Context().Done()
		return
	}
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
	switch {
	case s.all:
		out["orders"], page = after, len(after)
	case page <= len(after):
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

// pollClock is a poller's clock, which a slowList moves on, with the timers set on it
// (afterFunc).
type pollClock struct {
	mu     sync.Mutex
	t      time.Time
	timers []*clockTimer
}

type clockTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

// afterFunc is a Poller's after on the clock: f is called when the clock is moved on
// to d from now, or past it.
func (c *pollClock) afterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	tm := &clockTimer{at: c.t.Add(d), f: f}
	c.timers = append(c.timers, tm)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !tm.stopped
		tm.stopped = true
		return was
	}
}

func (c *pollClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// advance moves the clock on by d, and reports whether that fired a timer.
func (c *pollClock) advance(d time.Duration) bool {
	c.mu.Lock()
	c.t = c.t.Add(d)
	var due []func()
	for _, tm := range c.timers {
		if !tm.stopped && !c.t.Before(tm.at) {
			tm.stopped = true
			due = append(due, tm.f)
		}
	}
	c.mu.Unlock()
	for _, f := range due {
		f()
	}
	return len(due) > 0
}

// set sets the clock to now, its timers gone: a poll's bound is a deadline of the
// real clock, which the clock then leads by the pages it answered.
func (c *pollClock) set() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t, c.timers = time.Now(), nil
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
	c.p.now, c.p.after = api.clock.now, api.clock.afterFunc
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

// A poll whose 20 pages take 8s each has time for 14 of them in its 2 minutes: its
// pages end 5s before its bound, and the 15th, under way then, is given up. Rather
// than fail at its bound, poll after poll, it is cut there: it starts the items of the
// pages it read, is no failure, and warns once, naming its limit. Without a cursor the
// next poll reads the same pages, skipping the items started; once the API is faster
// it reads on and starts the rest.
func TestPollCutByItsBoundStartsThePagesItRead(t *testing.T) {
	api := newSlowList(t, 20, 8*time.Second)
	c := slowPoller(t, api, "\n    backfill  = true", 100)
	if got, want := fmt.Sprint(c.tickOn(api.clock)), orderIDs(1, 14); got != want || c.st.failures != 0 {
		t.Fatalf("20 pages of 8s: started %s with %d failures, want %s and none (%s)", got, c.st.failures, want, c.logged.String())
	}
	if got := c.tickOn(api.clock); len(got) != 0 || c.st.failures != 0 {
		t.Errorf("the same pages again: started %v with %d failures, want nothing and none", got, c.st.failures)
	}
	logged := c.logged.String()
	if n := strings.Count(logged, "poll's pages took longer than it may take"); n != 1 || !strings.Contains(logged, "limit=2m") ||
		!strings.Contains(logged, "pages=14") || !strings.Contains(logged, "took=1m52s") || !strings.Contains(logged, "slowest=8s") {
		t.Errorf("logged %d warnings of polls cut by time, want one naming the limit (2m), the pages read (14), their time "+
			"(1m52s) and the slowest (8s):\n%s", n, logged)
	}
	api.setCost(time.Second)
	if got, want := fmt.Sprint(c.tickOn(api.clock)), orderIDs(15, 20); got != want {
		t.Errorf("the API faster: started %s, want %s", got, want)
	}
	if !strings.Contains(c.logged.String(), "poll read its whole list again") {
		t.Errorf("the poll that read its whole list said nothing of it:\n%s", c.logged.String())
	}
}

// A poll with a cursor cut by its bound keeps the cursor it was sent: the one its
// last page read gives points past the pages it did not read (every page gives the
// newest order's time), whose items would never start. The next poll reads the same
// pages and has nothing to start: it fails, saying why, with how long its pages took
// and what its timeout must be above, rather than take that cursor; with its timeout raised, the next poll reads on and starts the
// rest.
func TestPollCutByItsBoundKeepsItsCursor(t *testing.T) {
	api := newSlowList(t, 20, 8*time.Second)
	more := "\n    backfill  = true\n    cursor    = \"response.body.newest\""
	c := slowPoller(t, api, more, 100)
	if got, want := fmt.Sprint(c.tickOn(api.clock)), orderIDs(1, 14); got != want || c.st.failures != 0 {
		t.Fatalf("20 pages of 8s: started %s with %d failures, want %s and none (%s)", got, c.st.failures, want, c.logged.String())
	}
	if cur := c.cursor(); cur != nil {
		t.Errorf("cursor %v after a poll cut by its bound, want the one it had, none", cur)
	}
	if got := c.tickOn(api.clock); len(got) != 0 || c.st.failures != 1 {
		t.Errorf("the same pages again: started %v with %d failures, want nothing and a failure", got, c.st.failures)
	}
	for _, want := range []string{"the 14 items of the pages read in the poll's time have all started runs",
		"its 14 pages read took 1m52s (the slowest 8s) of the 2m a poll may take, the longer of 2 minutes and twice its timeout (30s)",
		"raise its timeout above half the time its whole list takes to read: above 1m3s at least"} {
		if !strings.Contains(c.logged.String(), want) {
			t.Errorf("the failure does not say %q:\n%s", want, c.logged.String())
		}
	}
	c.use(api.srv.Client(), fmt.Sprintf(slowListSrc, api.srv.URL, more+"\n    timeout   = \"5m\"", 100))
	c.st.retryAt = time.Time{}
	if got, want := fmt.Sprint(c.tickOn(api.clock)), orderIDs(15, 20); got != want || c.st.failures != 0 {
		t.Errorf("with 10 minutes: started %s with %d failures, want %s and none", got, c.st.failures, want)
	}
	if cur := c.cursor(); cur != paidAt(20) {
		t.Errorf("cursor %v after a poll that read its list to the end, want q20's time, %s", cur, paidAt(20))
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
		{"some started", "q2", false, "[q1 q3]", 0, "poll ran out of its time while it started its items"},
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

// A list that fits the poll's bound is read whole: 20 pages of 5s with the default
// timeout (30s) take 1m40s of its 2 minutes, and the poll reads on until 5s before
// its bound, rather than keep a whole timeout, or a page, for the next. Its cursor moves to the end of the list, and the next poll, from there, is no
// failure.
func TestPollListThatFitsItsBoundIsReadWhole(t *testing.T) {
	api := newSlowList(t, 20, 5*time.Second)
	c := slowPoller(t, api, "\n    backfill  = true\n    cursor    = \"response.body.newest\"", 100)
	if got, want := fmt.Sprint(c.tickOn(api.clock)), orderIDs(1, 20); got != want || c.st.failures != 0 {
		t.Fatalf("20 pages of 5s: started %s with %d failures, want %s and none (%s)", got, c.st.failures, want, c.logged.String())
	}
	if cur := c.cursor(); cur != paidAt(20) {
		t.Errorf("cursor %v after a poll that read its whole list, want q20's time, %s", cur, paidAt(20))
	}
	c.tickOn(api.clock)
	if c.st.failures != 0 || strings.Contains(c.logged.String(), "level=WARN") {
		t.Errorf("the polls of a list that fits their bound failed or warned:\n%s", c.logged.String())
	}
}

// Raising a poll's timeout never has it read fewer pages: the time it keeps past its
// pages is 5s, not its timeout. 40 pages of 5s: 22 in the 2 minutes that a timeout of
// 30s or 60s gives (the 23rd would end as its pages do), 34 in the 3 minutes of 90s.
func TestPollRaisingItsTimeoutReadsMore(t *testing.T) {
	for _, tt := range []struct {
		timeout string
		pages   int
	}{{"30s", 22}, {"60s", 22}, {"90s", 34}} {
		api := newSlowList(t, 40, 5*time.Second)
		c := slowPoller(t, api, "\n    backfill  = true\n    timeout   = \""+tt.timeout+"\"", 100)
		if got, want := fmt.Sprint(c.tickOn(api.clock)), orderIDs(1, tt.pages); got != want {
			t.Errorf("timeout %s: started %s, want %s", tt.timeout, got, want)
		}
	}
}

// slowOneSrc is slowListSrc without paginate: the poll reads the first page only.
const slowOneSrc = `
workflow "orders" {
  trigger "poll" {
    every     = "1m"
    url       = "%s/orders"
    query     = { since = "{{ poll.cursor ?? '' }}" }
    items     = "response.body.orders"
    key       = "item.id"%s
  }
}
`

// A poll without paginate whose bound comes during its starts is cut as one with
// pages is, and its warning speaks of its starts, not of pages it has none of.
func TestPollWithoutPaginateBoundDuringItsStarts(t *testing.T) {
	api := newSlowList(t, 3, 0)
	api.all = true
	c := newCutPoller(t, redistest.Mini(t), api.srv.Client(), fmt.Sprintf(slowOneSrc, api.srv.URL,
		"\n    backfill  = true\n    cursor    = \"response.body.newest\"\n    timeout   = \"200ms\""))
	others := &sync.WaitGroup{}
	others.Add(2)
	polls := stallingPolls{countingPolls: countingPolls{Engine: c.e, mu: &c.mu, runs: c.runs}, stall: map[string]bool{"q2": true}, others: others}
	c.p = NewPoller(polls, slog.New(slog.NewTextHandler(&c.logged, nil)))
	c.p.now, c.p.timeout = api.clock.now, 2*time.Second
	if got := fmt.Sprint(c.tickOn(api.clock)); got != "[q1 q3]" || c.st.failures != 0 {
		t.Errorf("started %s with %d failures, want [q1 q3] and none", got, c.st.failures)
	}
	warned := ""
	for line := range strings.Lines(c.logged.String()) {
		if strings.Contains(line, "level=WARN") {
			warned += line
		}
	}
	if !strings.Contains(warned, "poll ran out of its time while it started its items") || strings.Contains(warned, "page") {
		t.Errorf("warned:\n%s\nwant a poll out of time in its starts, with no word of pages", warned)
	}
	if cur := c.cursor(); cur != nil {
		t.Errorf("cursor %v, want the one it had, none: not every item started", cur)
	}
	c.p = NewPoller(countingPolls{Engine: c.e, mu: &c.mu, runs: c.runs}, quietLog)
	c.p.now, c.st.retryAt = api.clock.now, time.Time{}
	if got := fmt.Sprint(c.tickOn(api.clock)); got != "[q2]" {
		t.Errorf("the next poll started %s, want [q2]", got)
	}
	if cur := c.cursor(); cur != paidAt(3) {
		t.Errorf("cursor %v once every item started, want q3's time, %s", cur, paidAt(3))
	}
}

// A poll whose API held it back (a 429's Retry-After, which its api's limits hold)
// for most of its time, and that has too little left for its pages, is cut as a slow
// one is, but its warning says the wait took its time rather than blame its pages;
// the next poll, not held back, reads on and starts the rest.
func TestPollCutAfterItsAPIHeldItBack(t *testing.T) {
	b := redistest.Mini(t)
	api := newSlowList(t, 5, 300*time.Millisecond)
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		api.ServeHTTP(w, r)
	}))
	defer srv.Close()
	api.srv = srv // its pages link to where the poll asks
	more := `query = { since = "{{ poll.cursor ?? '' }}" }
    cursor  = "response.body.newest"
    timeout = "200ms"
    paginate {
      next      = "link_next(response)"
      max_pages = 10
    }`
	p, e, wf, poll := apiPoller(t, b, srv.Client(), fmt.Sprintf(shopPoll, srv.URL, more))
	var logged strings.Builder
	mu, runs := &sync.Mutex{}, map[string]int{}
	p = NewPoller(countingPolls{Engine: e, mu: mu, runs: runs}, slog.New(slog.NewTextHandler(&logged, nil)))
	// The real clock, led by the time its pages take: the wait is real, the pages not.
	p.now = func() time.Time { return time.Now().Add(api.clock.now().Sub(time.Time{})) }
	p.timeout = 4 * time.Second // 2s of them waited out
	at := time.Now().Add(-time.Hour).Truncate(time.Minute)
	st := &streak{}
	p.tick(context.Background(), wf, poll, st, at)
	if st.failures != 1 {
		t.Fatalf("the poll answered 429 counts %d failures, want 1", st.failures)
	}
	st = &streak{}
	p.tick(context.Background(), wf, poll, st, at.Add(time.Minute))
	mu.Lock()
	first := len(runs)
	mu.Unlock()
	if first == 0 || first == 5 || st.failures != 0 {
		t.Fatalf("the poll held back 2s of its 4: started %d of 5 with %d failures, want some, cut, and none\n%s", first, st.failures, logged.String())
	}
	out := logged.String()
	_, waited, _ := strings.Cut(out, " waited=")
	waited, _, _ = strings.Cut(waited, " ")
	if d, err := time.ParseDuration(waited); err != nil || d < time.Second ||
		!strings.Contains(out, "poll had too little time left for its pages, having waited as its API asked") ||
		strings.Contains(out, "poll's pages took longer") {
		t.Errorf("the warning does not blame the wait, of a second or more:\n%s", out)
	}
	p.tick(context.Background(), wf, poll, st, at.Add(2*time.Minute))
	mu.Lock()
	defer mu.Unlock()
	if len(runs) != 5 || st.failures != 0 {
		t.Errorf("the next poll, not held back: %d of 5 started with %d failures, want all and none\n%s", len(runs), st.failures, logged.String())
	}
}

// The failure of a poll with a cursor that its bound cuts with nothing new on its
// pages says what took its time: its pages, and what its timeout must be above; or the
// waits its API asked for before them, which a poll not held back does not have.
func TestPollCutByTimeSaysWhatTookItsTime(t *testing.T) {
	poll := &Poll{Timeout: 30 * time.Second}
	start := time.Date(2026, 12, 5, 15, 0, 0, 0, time.UTC)
	slow := &pageTimes{bound: 2 * time.Minute, start: start, last: start.Add(112 * time.Second), pages: 14, slowest: 8 * time.Second}
	if got, want := slow.figures(poll), "its 14 pages read took 1m52s (the slowest 8s) of the 2m a poll may take, the longer "+
		"of 2 minutes and twice its timeout (30s): raise its timeout above half the time its whole list takes to read: "+
		"above 1m3s at least"; got != want {
		t.Errorf("slow pages:\n%s\nwant\n%s", got, want)
	}
	held := &pageTimes{bound: 2 * time.Minute, start: start, last: start.Add(16 * time.Second), pages: 2, slowest: 8 * time.Second,
		before: 95 * time.Second}
	if got, want := held.figures(poll), "its 2 pages read took 16s (the slowest 8s) of the 2m a poll may take, the longer "+
		"of 2 minutes and twice its timeout (30s), 1m35s of it gone before its first page, waiting as its API asked (a "+
		"Retry-After, its api's limits): a poll its API does not hold back has that time for its pages"; got != want {
		t.Errorf("held back:\n%s\nwant\n%s", got, want)
	}
}
