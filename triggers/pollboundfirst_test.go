package triggers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
)

// newestFirst is an API that answers GET /orders?since=T&page=P with the orders paid
// after T, newest first, one a page, with a Link to the next, and newest, the time of
// the newest of them: on every page, or, with lastOnly, on the last page only. Each
// page it answers moves clock on by cost (none for a nil clock).
type newestFirst struct {
	mu       sync.Mutex
	orders   []string // their paid_at
	lastOnly bool
	cost     time.Duration
	clock    *pollClock
	srv      *httptest.Server
}

func newNewestFirst(t *testing.T, orders int, cost time.Duration, lastOnly bool) *newestFirst {
	s := &newestFirst{lastOnly: lastOnly, cost: cost, clock: &pollClock{}}
	for range orders {
		s.add()
	}
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.srv.Close)
	return s
}

// add adds an order, paid a minute after the one before.
func (s *newestFirst) add() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orders = append(s.orders, paidAt(len(s.orders)+1))
}

func (s *newestFirst) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock.advance(s.cost)
	since := r.URL.Query().Get("since")
	var after []map[string]any
	for n := len(s.orders) - 1; n >= 0; n-- {
		if s.orders[n] > since {
			after = append(after, map[string]any{"id": fmt.Sprintf("q%d", n+1), "paid_at": s.orders[n]})
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
		out["newest"] = after[0]["paid_at"]
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// A poll's first (backfill = false) of a slow newest-first list is not cut by time:
// it records its list as it did, and takes the newest order's time for its cursor.
// The orders that come after it are on the first page each later poll reads, and
// each starts a run: a first poll cut by time that went on recording from the cursor
// it had would record them too, poll after poll, and start none.
func TestPollFirstOfASlowNewestFirstListLetsNewOrdersStart(t *testing.T) {
	api := newNewestFirst(t, 20, 8*time.Second, false)
	c := newCutPoller(t, redistest.Mini(t), api.srv.Client(), fmt.Sprintf(slowListSrc, api.srv.URL, "\n    cursor    = \"response.body.newest\"", 100))
	c.p.now = api.clock.now
	if got := c.tickOn(api.clock); len(got) != 0 {
		t.Fatalf("the first poll started %v", got)
	}
	var started []string
	for range 5 {
		api.add()
		started = append(started, c.tickOn(api.clock)...)
	}
	if got := fmt.Sprint(started); got != orderIDs(21, 25) || c.st.failures != 0 {
		t.Errorf("q21 to q25 came after the first poll, one a poll: started %s with %d failures, want %s and none\n%s",
			got, c.st.failures, orderIDs(21, 25), c.logged.String())
	}
}

// A poll's first cut by max_pages, of a newest-first list whose API gives its cursor
// on its last page only, ends its recording as it did: the orders that come after it,
// one a poll on the first page, each start a run, rather than be recorded by a first
// poll that goes on recording from the cursor it had.
func TestPollFirstCutByMaxPagesOfANewestFirstListWithACursorOnTheLastPage(t *testing.T) {
	api := newNewestFirst(t, 5, 0, true)
	c := newCutPoller(t, redistest.Mini(t), api.srv.Client(), fmt.Sprintf(slowListSrc, api.srv.URL, "\n    cursor    = \"response.body.newest\"", 2))
	if got := c.tick(); len(got) != 0 {
		t.Fatalf("the first poll started %v", got)
	}
	var started []string
	for range 3 {
		api.add()
		started = append(started, c.tick()...)
	}
	if got := fmt.Sprint(started); got != orderIDs(6, 8) || c.st.failures != 0 {
		t.Errorf("q6 to q8 came after the first poll, one a poll: started %s with %d failures, want %s and none\n%s",
			got, c.st.failures, orderIDs(6, 8), c.logged.String())
	}
}
