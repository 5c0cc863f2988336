package triggers

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
)

// slowPages is a poll of a sinceShop whose orders are a page each, each answered
// after 100ms, orders of them already; a poll may take 3s here, and a page 1s. more
// is more of the trigger.
func slowPages(t *testing.T, orders int, more string) (*sinceShop, *cutPoller) {
	api := newSinceShop(t, 1)
	api.mu.Lock()
	api.slow = 100 * time.Millisecond
	api.mu.Unlock()
	for range orders {
		api.add("ship")
	}
	c := newCutPoller(t, redistest.Mini(t), api.srv.Client(), fmt.Sprintf(sincePollSrc, api.srv.URL, 1000,
		"\n    timeout = \"1s\"\n    paginate {\n      next      = \"link_next(response)\"\n      max_pages = 50\n    }"+more))
	c.p.timeout = 3 * time.Second // pollTimeout
	return api, c
}

// A poll of a list whose pages take longer to read than the poll may take stops
// reading while it has time for one more page, starts the items of the pages it
// read, and keeps the cursor of the last one: the next poll goes on from there. Each
// poll reads part of the list, and none fails at its bound.
func TestPollSlowPagesGoOnAtTheNextPoll(t *testing.T) {
	const orders = 40 // 4s of pages
	_, c := slowPages(t, orders, "\n    backfill = true")
	var started []string
	for polls := 1; len(started) < orders; polls++ {
		got := c.tick()
		if c.st.failures != 0 || len(got) == 0 {
			t.Fatalf("poll %d started %v, with %d failures; want some, no failure (%s)", polls, got, c.st.failures, c.logged.String())
		}
		if polls == 1 && len(got) == orders {
			t.Errorf("the first poll of %d orders started them all, want part of them: each page takes 100ms", orders)
		}
		started = append(started, got...)
	}
	if got, want := fmt.Sprint(started), fmt.Sprint(orderIDs(1, orders)); got != want {
		t.Errorf("started %s, want %s: each order once", got, want)
	}
	logged := c.logged.String()
	if n := strings.Count(logged, "poll stopped reading its pages near its limit"); n != 1 || !strings.Contains(logged, "limit=3s") {
		t.Errorf("logged %d warnings of polls cut by time, want one naming the limit (3s):\n%s", n, logged)
	}
	c.tick()
	if !strings.Contains(c.logged.String(), "poll read its whole list again") {
		t.Errorf("a poll that read its whole list said nothing of it:\n%s", c.logged.String())
	}
}

// A first poll (backfill = false) of a list whose pages take longer to read than the
// poll may take records the pages it has time for, and the next poll goes on
// recording from the cursor of the last: none fails at its bound, and the items
// there before start no runs.
func TestPollSlowPagesGoOnRecording(t *testing.T) {
	const orders = 40 // 4s of pages
	api, c := slowPages(t, orders, "")
	poll := c.wf.Triggers[0].Config.(*Poll)
	for polls := 1; ; polls++ {
		if got := c.tick(); len(got) != 0 || c.st.failures != 0 {
			t.Fatalf("poll %d of the first's recording started %v, %d failures; want nothing, no failure (%s)",
				polls, got, c.st.failures, c.logged.String())
		}
		st, _, err := c.e.PollState(t.Context(), c.wf, poll.Key())
		if err != nil {
			t.Fatal(err)
		}
		if !st.Recording {
			if polls < 2 {
				t.Errorf("the first poll read all %d pages, want part of them: each takes 100ms, of its 3s", orders)
			}
			break
		}
		if polls == orders {
			t.Fatalf("%d polls and still recording, at cursor %v", polls, st.Cursor)
		}
	}
	api.add("ship")
	if got := fmt.Sprint(c.tick()); got != fmt.Sprintf("[q%d]", orders+1) {
		t.Errorf("a new order started %s, want [q%d]", got, orders+1)
	}
}

// orderIDs returns the ids of sinceShop's orders from to to, in order.
func orderIDs(from, to int) []string {
	var ids []string
	for n := from; n <= to; n++ {
		ids = append(ids, fmt.Sprintf("q%d", n))
	}
	return ids
}

// A poll that fails at its bound says so, and how long it had, rather than only
// that a context's deadline passed.
func TestPollAtItsBoundSaysSo(t *testing.T) {
	b := redistest.Mini(t)
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	p, _, wf, poll := apiPoller(t, b, srv.Client(), fmt.Sprintf(shopPoll, srv.URL, `timeout = "200ms"`))
	var logged strings.Builder
	p.log = slog.New(slog.NewTextHandler(&logged, nil))
	p.timeout = time.Second
	at := time.Now().Truncate(time.Minute)
	p.tick(context.Background(), wf, poll, &streak{}, at.Add(-time.Minute)) // answered 429
	logged.Reset()
	// Held back for the Retry-After, longer than the poll may take.
	st := &streak{}
	p.tick(context.Background(), wf, poll, st, at)
	if st.failures != 1 || calls.Load() != 1 {
		t.Fatalf("%d failures, %d calls; want the poll held back until its bound, failed", st.failures, calls.Load())
	}
	if want := "the poll stopped after 1s, its limit"; !strings.Contains(logged.String(), want) {
		t.Errorf("logged:\n%s\nwant the error to say %q", logged.String(), want)
	}
}
