package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// pollSrc polls the stand-in shop every second for its orders and delivers each new
// one to the API; FAULT_API is both.
const pollSrc = `
workflow "orders" {
  trigger "poll" {
    every     = "1s"
    url       = "${env("FAULT_API")}/orders"
    items     = "response.body.orders"
    key       = "item.id"
    max_items = 5000
  }

  step "http" "deliver" {
    url  = "${env("FAULT_API")}/deliveries"
    json = { order = "{{ event.body.id }}" }
  }
}
`

// pollShop is the shop the poll asks (GET /orders: every order, all at once) and the
// API the runs deliver to (POST /deliveries), which records the runs of each order by
// the run in the Idempotency-Key (<run>:deliver): a repeated call of one run is one run.
type pollShop struct {
	srv *httptest.Server

	mu        sync.Mutex
	orders    int
	polls     int
	growUntil int                        // while polls < growUntil, each poll adds an order after its answer
	ticks     map[string]bool            // the Idempotency-Key of each poll: one per tick
	delivered map[string]map[string]bool // order -> its runs
	calls     int
}

func newPollShop(t *testing.T) *pollShop {
	s := &pollShop{delivered: map[string]map[string]bool{}, ticks: map[string]bool{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/orders":
			s.mu.Lock()
			s.polls++
			s.ticks[r.Header.Get("Idempotency-Key")] = true
			orders := make([]map[string]string, s.orders)
			for i := range orders {
				orders[i] = map[string]string{"id": fmt.Sprintf("o%d", i+1)}
			}
			if s.polls < s.growUntil {
				s.orders++
			}
			s.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"orders": orders})
		case "/deliveries":
			var body struct{ Order string }
			json.NewDecoder(r.Body).Decode(&body)
			run, _, _ := strings.Cut(r.Header.Get("Idempotency-Key"), ":")
			s.mu.Lock()
			if s.delivered[body.Order] == nil {
				s.delivered[body.Order] = map[string]bool{}
			}
			s.delivered[body.Order][run] = true
			s.calls++
			s.mu.Unlock()
			w.Write([]byte(`{}`))
		default:
			io.Copy(io.Discard, r.Body)
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *pollShop) state() (polls, orders, calls int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.polls, len(s.delivered), s.calls
}

// TestPollKillMidPoll: hookflow is killed (SIGKILL) while one poll starts the runs of
// 3,000 new orders; a new process on the same Redis polls again. Every order is
// delivered by exactly one run: none lost (the killed poll's cursor and remaining
// starts are redone by the next poll), none repeated (each order's check and start
// were one atomic step).
func TestPollKillMidPoll(t *testing.T) {
	const n = 3000
	shop := newPollShop(t)
	dir := writeWorkflow(t, "orders.hcl", pollSrc)
	b := redistest.Real(t)
	a := startProc(t, dir, b.URL, shop.srv.URL)
	// The first poll records what is there (nothing) and starts nothing.
	testutil.Eventually(t, 20*time.Second, "the first poll", func() bool {
		polls, _, _ := shop.state()
		return polls >= 1
	})
	shop.mu.Lock()
	shop.orders = n
	shop.mu.Unlock()
	testutil.Eventually(t, 20*time.Second, "the first delivery", func() bool {
		_, orders, _ := shop.state()
		return orders >= 1
	})
	a.kill()
	started := countKeys(t, b.Client, "*dedupe:orders:*")
	t.Logf("killed with %d of %d orders started", started, n)
	if started == 0 || started >= n {
		t.Fatalf("the kill came with %d of %d runs started: not in the middle of the poll", started, n)
	}

	startProc(t, dir, b.URL, shop.srv.URL)
	testutil.Eventually(t, 90*time.Second, "every order delivered", func() bool {
		_, orders, _ := shop.state()
		return orders == n
	})
	// Polls after that find every order seen.
	polls, _, _ := shop.state()
	testutil.Eventually(t, 20*time.Second, "two more polls", func() bool {
		p, _, _ := shop.state()
		return p >= polls+2
	})
	if got := countKeys(t, b.Client, "*dedupe:orders:*"); got != n {
		t.Errorf("%d orders started runs, want %d", got, n)
	}
	shop.mu.Lock()
	defer shop.mu.Unlock()
	for order, runs := range shop.delivered {
		if len(runs) != 1 {
			t.Errorf("order %s was delivered by %d runs", order, len(runs))
		}
	}
	t.Logf("%d deliveries (calls) for %d orders", shop.calls, n)
}

// countKeys counts the keys matching pattern.
func countKeys(t *testing.T, rdb redis.UniversalClient, pattern string) int {
	t.Helper()
	n := 0
	iter := rdb.Scan(context.Background(), 0, pattern, 1000).Iterator()
	for iter.Next(context.Background()) {
		n++
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPollAcrossProcesses: two hookflow processes on one Redis poll the same shop every
// second, 30 times, the shop adding an order after each of its first 29 answers. One
// process polls each tick, and each order added after the first poll is delivered by
// exactly one run.
func TestPollAcrossProcesses(t *testing.T) {
	const polls = 30
	shop := newPollShop(t)
	shop.orders, shop.growUntil = 1, polls
	dir := writeWorkflow(t, "orders.hcl", pollSrc)
	b := redistest.Real(t)
	a, c := startProc(t, dir, b.URL, shop.srv.URL), startProc(t, dir, b.URL, shop.srv.URL)
	testutil.Eventually(t, 90*time.Second, "30 polls", func() bool {
		p, _, _ := shop.state()
		return p >= polls
	})
	// The first poll found o1 and recorded it; o2 to o30 came one a poll.
	testutil.Eventually(t, 20*time.Second, "o2 to o30 delivered", func() bool {
		_, orders, _ := shop.state()
		return orders >= polls-1
	})
	for _, p := range []*proc{a, c} {
		p.cmd.Process.Signal(syscall.SIGTERM)
		p.cmd.Wait()
	}
	shop.mu.Lock()
	defer shop.mu.Unlock()
	if len(shop.delivered) != polls-1 {
		t.Errorf("%d orders delivered, want %d", len(shop.delivered), polls-1)
	}
	for order, runs := range shop.delivered {
		if len(runs) != 1 {
			t.Errorf("order %s was delivered by %d runs", order, len(runs))
		}
	}
	if shop.delivered["o1"] != nil {
		t.Error("o1, there at the first poll, was delivered")
	}
	if len(shop.ticks) != shop.polls {
		t.Errorf("%d polls for %d ticks: a tick was polled twice", shop.polls, len(shop.ticks))
	}
}
