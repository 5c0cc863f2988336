package triggers

import (
	"context"
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

// A page much slower than those before it (here: one that never answers) is given up
// when the poll's pages end, a little before its bound, and the poll starts the items
// of the pages it read: it is cut, no failure, and keeps the cursor it was sent. It
// does not run on into its bound, failing with the pages it read, poll after poll.
func TestPollGivesUpAPageUnderWayWhenItsPagesEnd(t *testing.T) {
	api := newSlowList(t, 10, 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		wait := 200 * time.Millisecond // the API's own slowness
		if page == 7 {
			wait = time.Hour // answered when given up: never
		}
		select {
		case <-time.After(wait):
		case <-r.Context().Done():
			return
		}
		api.ServeHTTP(w, r)
	}))
	defer srv.Close()
	api.srv = srv
	// A poll may take 3s; each request 1.5s, which the 7th, sent after 1.2s of pages,
	// would run past the poll's pages' end.
	c := newCutPoller(t, redistest.Mini(t), srv.Client(), fmt.Sprintf(slowListSrc, srv.URL,
		"\n    backfill  = true\n    cursor    = \"response.body.newest\"\n    timeout   = \"1500ms\"", 100))
	c.p.timeout = 3 * time.Second
	if got, want := fmt.Sprint(c.tick()), orderIDs(1, 6); got != want || c.st.failures != 0 {
		t.Fatalf("started %s with %d failures, want %s and none:\n%s", got, c.st.failures, want, c.logged.String())
	}
	if cur := c.cursor(); cur != nil {
		t.Errorf("cursor %v after a poll cut by its time, want the one it had, none", cur)
	}
	if !strings.Contains(c.logged.String(), "poll's pages took longer than it may take") ||
		!strings.Contains(c.logged.String(), "pages=6") {
		t.Errorf("no warning of a poll cut by its time after 6 pages:\n%s", c.logged.String())
	}
}

// A list that fits the poll's bound is read whole, however its pages' times are spread:
// a first page of 25s and 40 of 2s take 1m47s of the 2 minutes. Its cursor moves to
// the end of the list, and the next poll is no failure.
func TestPollListWithASlowFirstPageIsReadWhole(t *testing.T) {
	api := newSlowList(t, 41, 2*time.Second)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("page") == "" {
			api.clock.advance(25 * time.Second)
		}
		api.ServeHTTP(w, r)
	}))
	defer srv.Close()
	api.srv = srv
	c := newCutPoller(t, redistest.Mini(t), srv.Client(), fmt.Sprintf(slowListSrc, srv.URL,
		"\n    backfill  = true\n    cursor    = \"response.body.newest\"", 100))
	c.p.now = api.clock.now
	if got, want := fmt.Sprint(c.tickOn(api.clock)), orderIDs(1, 41); got != want || c.st.failures != 0 {
		t.Fatalf("started %s with %d failures, want %s and none:\n%s", got, c.st.failures, want, c.logged.String())
	}
	if cur := c.cursor(); cur != paidAt(41) {
		t.Errorf("cursor %v after a poll that read its whole list, want q41's time, %s", cur, paidAt(41))
	}
	c.tickOn(api.clock)
	if c.st.failures != 0 || strings.Contains(c.logged.String(), "level=WARN") {
		t.Errorf("the polls of a list that fits their bound failed or warned:\n%s", c.logged.String())
	}
}

// savingPolls is an engine that keeps a poll's cursor (SavePoll) or its items seen
// (KeepSeen), as wait names, only once the poll's bound has passed: its starts are
// done just before it. With cancel, SavePoll cancels the poll's loop instead, as a
// reload does, and waits for its context to end.
type savingPolls struct {
	countingPolls
	polling *atomic.Pointer[context.Context] // the poll's, as its starts are given it
	wait    string
	cancel  context.CancelFunc
}

func (s savingPolls) StartOnce(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event, key string, window time.Duration) (string, bool, error) {
	s.polling.Store(&ctx)
	return s.countingPolls.StartOnce(ctx, wf, ev, key, window)
}

func (s savingPolls) SavePoll(ctx context.Context, wf *workflows.Workflow, poll string, st workflows.PollState) error {
	if s.cancel != nil {
		s.cancel()
		<-ctx.Done()
		return ctx.Err()
	}
	if s.wait == "SavePoll" {
		<-(*s.polling.Load()).Done()
	}
	return s.countingPolls.SavePoll(ctx, wf, poll, st)
}

func (s savingPolls) KeepSeen(ctx context.Context, wf *workflows.Workflow, keys []string, window time.Duration) error {
	if s.wait == "KeepSeen" {
		<-(*s.polling.Load()).Done()
	}
	return s.countingPolls.KeepSeen(ctx, wf, keys, window)
}

// A poll whose bound comes as it keeps what it did, its starts done, keeps it all the
// same, within its lock: it is a good poll (cut, for one that keeps its items seen),
// not a failed one. A reload that cancels it then has it keep nothing, and fail not.
func TestPollKeepsWhatItDidAsItsBoundComes(t *testing.T) {
	for _, tt := range []struct {
		name, wait string
		maxPages   int
		reload     bool
		started    string
		cursor     any
		logged     string
	}{
		{"its cursor", "SavePoll", 10, false, "[q1 q2 q3]", paidAt(3), "poll started runs"},
		{"its items seen", "KeepSeen", 2, false, "[q1 q2]", nil, "poll read max_pages pages and its list goes on"},
		{"a reload", "", 10, true, "[q1 q2 q3]", nil, "poll stopped, by a reload"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			api := newSlowList(t, 3, 0)
			c := slowPoller(t, api, "\n    backfill  = true\n    cursor    = \"response.body.newest\"\n    timeout   = \"200ms\"",
				tt.maxPages)
			loop, cancel := context.WithCancel(t.Context())
			defer cancel()
			polls := savingPolls{countingPolls: countingPolls{Engine: c.e, mu: &c.mu, runs: c.runs},
				polling: &atomic.Pointer[context.Context]{}, wait: tt.wait}
			if tt.reload {
				polls.cancel = cancel
			}
			c.p = NewPoller(polls, slog.New(slog.NewTextHandler(&c.logged, nil)))
			c.p.now, c.p.timeout = api.clock.now, 1500*time.Millisecond // time for its pages, with a timeout of 200ms
			c.loop = loop
			if got := fmt.Sprint(c.tickOn(api.clock)); got != tt.started || c.st.failures != 0 {
				t.Errorf("started %s with %d failures, want %s and none:\n%s", got, c.st.failures, tt.started, c.logged.String())
			}
			if cur := c.cursor(); cur != tt.cursor {
				t.Errorf("cursor %v, want %v", cur, tt.cursor)
			}
			if !strings.Contains(c.logged.String(), tt.logged) {
				t.Errorf("logged:\n%s\nwant %q", c.logged.String(), tt.logged)
			}
		})
	}
}

// The timeout that the failure of a poll cut by its time says to raise counts the
// time gone before its first page: 8s of waits, 13 pages in 1m44s, the slowest 8s,
// and the 5s kept for its starts are 2m5s, a timeout above 1m2s.
func TestPollTimeoutToRaiseCountsTheWaitsBeforeItsPages(t *testing.T) {
	poll := &Poll{Timeout: 30 * time.Second}
	start := time.Date(2026, 12, 5, 15, 0, 0, 0, time.UTC)
	times := &pageTimes{bound: 2 * time.Minute, start: start, last: start.Add(104 * time.Second), pages: 13,
		slowest: 8 * time.Second, before: 8 * time.Second}
	if got, want := times.figures(poll), "raise its timeout above half the time its whole list takes to read: "+
		"above 1m3s at least"; !strings.HasSuffix(got, want) {
		t.Errorf("figures:\n%s\nwant it to end %q", got, want)
	}
}

// A poll without a cursor that runs out of its time does not speak of a cursor kept:
// the next poll reads its list again.
func TestPollOutOfTimeWithoutACursor(t *testing.T) {
	api := newSlowList(t, 3, 0)
	c := slowPoller(t, api, "\n    backfill  = true\n    timeout   = \"200ms\"", 10)
	stall := map[string]bool{"q1": true, "q2": true, "q3": true}
	polls := stallingPolls{countingPolls: countingPolls{Engine: c.e, mu: &c.mu, runs: c.runs}, stall: stall, others: &sync.WaitGroup{}}
	c.p = NewPoller(polls, slog.New(slog.NewTextHandler(&c.logged, nil)))
	c.p.now, c.p.timeout = api.clock.now, 500*time.Millisecond
	if got := c.tickOn(api.clock); len(got) != 0 || c.st.failures != 1 {
		t.Fatalf("started %v with %d failures, want nothing and a failure", got, c.st.failures)
	}
	if logged := c.logged.String(); !strings.Contains(logged, "its limit (2 minutes, or twice its timeout when longer); "+
		"the next poll reads its list again") || strings.Contains(logged, "cursor") {
		t.Errorf("the failure of a poll without a cursor:\n%s\nwant it to say the next poll reads its list again, and "+
			"nothing of a cursor", logged)
	}
}

// A page whose wait for its turn at its api's rate_limit would outlast the poll is
// given up as one under way at its pages' end is: the poll starts the items of the
// pages it read, and is no failure.
func TestPollGivesUpAPageItsAPIsLimitsHoldPastItsTime(t *testing.T) {
	b := redistest.Mini(t)
	api := newSlowList(t, 3, 0)
	src := fmt.Sprintf(`
api "shop" {
  base_url   = "%s"
  rate_limit = "1/h"
}
workflow "orders" {
  trigger "poll" {
    every    = "1m"
    api      = "shop"
    url      = "/orders"
    query    = { since = "{{ poll.cursor ?? '' }}" }
    items    = "response.body.orders"
    key      = "item.id"
    cursor   = "response.body.newest"
    backfill = true
    paginate {
      next      = "link_next(response)"
      max_pages = 10
    }
  }
}
`, api.srv.URL)
	_, e, wf, poll := apiPoller(t, b, api.srv.Client(), src)
	var logged strings.Builder
	mu, runs := &sync.Mutex{}, map[string]int{}
	p := NewPoller(countingPolls{Engine: e, mu: mu, runs: runs}, slog.New(slog.NewTextHandler(&logged, nil)))
	st := &streak{}
	p.tick(context.Background(), wf, poll, st, time.Now().Add(-time.Hour).Truncate(time.Minute))
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(runs) != "map[q1:1]" || st.failures != 0 {
		t.Errorf("started %v with %d failures, want q1, its first page's, and none:\n%s", runs, st.failures, logged.String())
	}
	if state, _, err := e.PollState(context.Background(), wf, poll.Key()); err != nil || state.Cursor != nil {
		t.Errorf("cursor %v (%v) after a poll cut by its time, want the one it had, none", state.Cursor, err)
	}
}
