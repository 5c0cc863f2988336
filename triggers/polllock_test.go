package triggers

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// heldAPI answers GET /orders with one order; the request it is told to hold waits
// until release is closed, or the request is given up.
type heldAPI struct {
	srv     *httptest.Server
	mu      sync.Mutex
	n       int
	hold    int           // the request to hold (1 for the first); 0: none
	arrived chan struct{} // closed when the request held arrives
	release chan struct{}
}

func newHeldAPI(t *testing.T, hold int) *heldAPI {
	a := &heldAPI{hold: hold, arrived: make(chan struct{}), release: make(chan struct{})}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.n++
		held := a.n == a.hold
		a.mu.Unlock()
		if held {
			close(a.arrived)
			select {
			case <-a.release:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"orders": [{"id": "o1"}]}`)
	}))
	t.Cleanup(func() {
		a.srv.CloseClientConnections()
		a.srv.Close()
	})
	return a
}

func (a *heldAPI) requests() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

const heldPollSrc = `
workflow "orders" {
  trigger "poll" {
    every    = "1m"
    url      = "%s/orders"
    items    = "response.body.orders"
    key      = "item.id"
    backfill = true
  }
}
`

// wait waits for ch to close, failing the test after 10s.
func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not after 10s", what)
	}
}

// A poll that outlives its interval holds the poll's lock: the next tick, claimed by
// another process, finds it held and is skipped, rather than ask the API for the same
// with the same cursor. Once the poll is over, the next tick polls.
func TestPollOneAtATimeAcrossProcesses(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		api := newHeldAPI(t, 1)
		set := loadPolls(t, api.srv.Client(), fmt.Sprintf(heldPollSrc, api.srv.URL))
		wf := set.Workflow("orders")
		poll := wf.Triggers[0].Config.(*Poll)
		var logged testutil.LogBuffer
		var procs []*Poller
		for range 2 {
			e := engine.New(b.Client, engine.Options{Logger: quietLog, Shards: b.Shards})
			e.Use(set)
			procs = append(procs, NewPoller(e, slog.New(slog.NewTextHandler(&logged, nil))))
		}
		at := time.Now().Add(-time.Hour).Truncate(time.Minute)
		first, second := &streak{}, &streak{}
		done := make(chan struct{})
		go func() {
			defer close(done)
			procs[0].tick(context.Background(), wf, poll, first, at.Add(time.Minute))
		}()
		wait(t, api.arrived, "the first poll's request")

		procs[1].tick(context.Background(), wf, poll, second, at.Add(2*time.Minute))
		if n := api.requests(); n != 1 {
			t.Errorf("%d requests while the first poll was under way, want its own only", n)
		}
		if second.failures != 0 || !strings.Contains(logged.String(), "a tick is skipped") {
			t.Errorf("the tick skipped: %d failures, logged:\n%s", second.failures, logged.String())
		}

		close(api.release)
		wait(t, done, "the first poll")
		procs[1].tick(context.Background(), wf, poll, second, at.Add(3*time.Minute))
		if n := api.requests(); n != 2 {
			t.Errorf("%d requests, want 2: the tick after the first poll was over polls", n)
		}
		if first.failures != 0 || second.failures != 0 || second.skips != 0 {
			t.Errorf("failures %d and %d, skips %d: want none", first.failures, second.failures, second.skips)
		}
	})
}

// The lock of a process that died mid-poll expires: the polls after it wait that long
// at most.
func TestPollLockOfADeadProcessExpires(t *testing.T) {
	b := redistest.Mini(t)
	api := newHeldAPI(t, 0)
	set := loadPolls(t, api.srv.Client(), fmt.Sprintf(heldPollSrc, api.srv.URL))
	wf := set.Workflow("orders")
	poll := wf.Triggers[0].Config.(*Poll)
	e := engine.New(b.Client, engine.Options{Logger: quietLog})
	e.Use(set)
	if _, err := e.LockPoll(context.Background(), wf, poll.Key(), "dead", 300*time.Millisecond, false); err != nil {
		t.Fatal(err)
	}
	p := NewPoller(e, quietLog)
	st := &streak{}
	at := time.Now().Add(-time.Hour).Truncate(time.Minute)
	p.tick(context.Background(), wf, poll, st, at)
	if api.requests() != 0 || st.skips != 1 {
		t.Fatalf("%d requests, %d skips, while a dead process held the lock: want the tick skipped", api.requests(), st.skips)
	}
	testutil.Eventually(t, 5*time.Second, "a poll once the dead process's lock expired", func() bool {
		at = at.Add(time.Minute)
		p.tick(context.Background(), wf, poll, st, at)
		return api.requests() == 1
	})
}

// A poll whose lock cannot be kept (here, another holder took it) stops, as another
// poll may run now, and fails saying so.
func TestPollStopsWhenItLosesItsLock(t *testing.T) {
	b := redistest.Mini(t)
	api := newHeldAPI(t, 1)
	set := loadPolls(t, api.srv.Client(), fmt.Sprintf(heldPollSrc, api.srv.URL))
	wf := set.Workflow("orders")
	poll := wf.Triggers[0].Config.(*Poll)
	e := engine.New(b.Client, engine.Options{Logger: quietLog})
	e.Use(set)
	var logged testutil.LogBuffer
	p := NewPoller(e, slog.New(slog.NewTextHandler(&logged, nil)))
	p.lockKeep = 20 * time.Millisecond
	st := &streak{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.tick(context.Background(), wf, poll, st, time.Now().Add(-time.Hour).Truncate(time.Minute))
	}()
	wait(t, api.arrived, "the poll's request")
	ctx := context.Background()
	locks := b.Keys(ctx, "*:lock")
	if len(locks) != 1 {
		t.Fatalf("locks in Redis: %v, want the poll's", locks)
	}
	if err := b.Client.Del(ctx, locks[0]).Err(); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.LockPoll(ctx, wf, poll.Key(), "another", time.Minute, false); !ok || err != nil {
		t.Fatalf("taking the lock over: %v %v", ok, err)
	}
	wait(t, done, "the poll that lost its lock")
	if st.failures != 1 || !strings.Contains(logged.String(), "the poll lost its lock") {
		t.Errorf("%d failures, logged:\n%s\nwant a failure saying the poll lost its lock", st.failures, logged.String())
	}
	status, _ := e.TriggerState(ctx, wf, poll.Key())
	if s, _ := status.(*engine.PollStatus); s == nil || !strings.Contains(s.LastError, "lost its lock") {
		t.Errorf("the poll's status %+v does not say it lost its lock", status)
	}
	if ok, _ := e.LockPoll(ctx, wf, poll.Key(), "another", time.Minute, true); !ok {
		t.Error("the poll that lost its lock freed the lock of the one that took it")
	}
}

var _ pollLocks = (*engine.Engine)(nil)
