package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/redistest"
)

// The reliable floor keeps a webhook in Redis, in the list of the worker that took it,
// until the sink answered 2xx and Redis deleted it: one the sink refused goes back to
// the queue after a pause (tried again when Redis did not take it back) and is
// delivered again, as is one Redis did not delete; once delivered, nothing of it is
// left, and Stop deletes the lists.
func TestReliableFloor(t *testing.T) {
	b := redistest.Real(t)
	ctx := context.Background()
	held := make(chan struct{}) // the sink holds the first delivery until closed
	arrived := make(chan attempt, 8)
	var attempts, delivered atomic.Int32
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		n := int(attempts.Add(1))
		arrived <- attempt{n, time.Now()}
		if n == 1 {
			<-held
			http.Error(w, "not now", http.StatusServiceUnavailable)
			return
		}
		delivered.Add(1)
		w.Write([]byte("{}"))
	}))
	t.Cleanup(sink.Close)
	// Redis fails the first LMOVE (giving the refused webhook back) and the first LREM
	// (deleting it once delivered).
	failing := &failFirst{left: map[string]int{"lmove": 1, "lrem": 1}}
	floorHook = failing
	t.Cleanup(func() { floorHook = nil })

	f, err := startFloor(b.URL, sink.Listener.Addr().String(), true)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			f.Stop()
		}
	})
	resp, err := http.Post(f.URL(), "application/json", strings.NewReader(`{"seq": 7, "sent_ns": 1, "kind": "bench"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("the floor answered %d", resp.StatusCode)
	}
	waitArrival(t, arrived, 1)
	// While the sink holds it, the webhook is in Redis: out of the queue, in the list
	// of the worker that took it.
	if n := b.Client.LLen(ctx, f.list).Val(); n != 0 {
		t.Errorf("the queue holds %d while the webhook is being delivered, want 0", n)
	}
	if got := takenHeld(t, b, f); got != 1 {
		t.Errorf("the workers' lists hold %d while the webhook is being delivered, want 1", got)
	}
	refused := time.Now()
	close(held) // the sink answers 503: after a pause, and another once Redis failed the move, it is taken again
	if again := waitArrival(t, arrived, 2); again.Sub(refused) < 2*floorRetryPause {
		t.Errorf("taken again %s after the refusal, want two pauses of %s", again.Sub(refused), floorRetryPause)
	}
	waitArrival(t, arrived, 3) // delivered, but Redis failed the LREM: given back, delivered again
	deadline := time.Now().Add(5 * time.Second)
	for takenHeld(t, b, f) != 0 || b.Client.LLen(ctx, f.list).Val() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the delivered webhook is still in Redis: queue %d, workers' lists %d",
				b.Client.LLen(ctx, f.list).Val(), takenHeld(t, b, f))
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case a := <-arrived:
		t.Errorf("attempt %d after the delivery", a.n)
	case <-time.After(3 * floorRetryPause):
	}
	if n := delivered.Load(); n != 2 {
		t.Errorf("delivered %d times, want twice (once more as Redis failed to delete it)", n)
	}
	if left := failing.remaining(); left != 0 {
		t.Errorf("%d of the failures Redis was to make were not asked for", left)
	}

	// Stop deletes the queue and every worker's list, even one still holding a webhook.
	b.Client.RPush(ctx, f.taken(floorWorkers-1), "left behind")
	stopped = true
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	if keys := b.Client.Keys(ctx, "hookbench:floor:*").Val(); len(keys) != 0 {
		t.Errorf("left in Redis after Stop: %v", keys)
	}
}

// failFirst fails the first calls of the commands it names, as many as it says, with
// an error and without sending them.
type failFirst struct {
	mu   sync.Mutex
	left map[string]int
}

func (h *failFirst) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *failFirst) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.mu.Lock()
		fail := h.left[cmd.Name()] > 0
		if fail {
			h.left[cmd.Name()]--
		}
		h.mu.Unlock()
		if fail {
			err := errors.New("refused by the test")
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}

func (h *failFirst) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *failFirst) remaining() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, left := range h.left {
		n += left
	}
	return n
}

// attempt is a delivery's arrival at the sink: which it was, and when.
type attempt struct {
	n  int
	at time.Time
}

// waitArrival waits for the next attempt, which must be the want-th, and returns when
// it arrived.
func waitArrival(t *testing.T, arrived <-chan attempt, want int) time.Time {
	t.Helper()
	select {
	case a := <-arrived:
		if a.n != want {
			t.Fatalf("delivery attempt %d arrived, want %d", a.n, want)
		}
		return a.at
	case <-time.After(5 * time.Second):
		t.Fatalf("delivery attempt %d did not arrive", want)
	}
	return time.Time{}
}

// takenHeld is how many webhooks the reliable floor's workers hold in their lists.
func takenHeld(t *testing.T, b *redistest.Backend, f *floor) int64 {
	t.Helper()
	var n int64
	for i := range floorWorkers {
		n += b.Client.LLen(context.Background(), f.taken(i)).Val()
	}
	return n
}

// The floor's process is told which floor to run; anything else is refused.
func TestApartFloorSpec(t *testing.T) {
	for _, spec := range []string{"redis://127.0.0.1:1/0 127.0.0.1:2", "queue redis://127.0.0.1:1/0 127.0.0.1:2", "list"} {
		if err := runApartFloor(spec, strings.NewReader(""), io.Discard); err == nil || !strings.Contains(err.Error(), "want list|reliable") {
			t.Errorf("%q: %v", spec, err)
		}
	}
}
