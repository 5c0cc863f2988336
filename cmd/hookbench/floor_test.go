package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
)

// The reliable floor keeps a webhook in Redis, in the list of the worker that took it,
// until the sink answered 2xx; one the sink refused goes back to the queue and is
// delivered again; once delivered, nothing of it is left, and Stop deletes the lists.
func TestReliableFloor(t *testing.T) {
	b := redistest.Real(t)
	ctx := context.Background()
	held := make(chan struct{})  // the sink holds the first delivery until closed
	arrived := make(chan int, 8) // each delivery's attempt number, when it arrives
	var attempts, delivered atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sink := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		n := int(attempts.Add(1))
		arrived <- n
		if n == 1 {
			<-held
			http.Error(w, "not now", http.StatusServiceUnavailable)
			return
		}
		delivered.Add(1)
		w.Write([]byte("{}"))
	})}
	go sink.Serve(ln)
	t.Cleanup(func() { sink.Close() })

	f, err := startFloor(b.URL, ln.Addr().String(), true)
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
	close(held) // the sink answers 503: the webhook goes back and is taken again
	waitArrival(t, arrived, 2)
	deadline := time.Now().Add(5 * time.Second)
	for takenHeld(t, b, f) != 0 || b.Client.LLen(ctx, f.list).Val() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the delivered webhook is still in Redis: queue %d, workers' lists %d",
				b.Client.LLen(ctx, f.list).Val(), takenHeld(t, b, f))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := delivered.Load(); n != 1 {
		t.Errorf("delivered %d times, want once after the refusal", n)
	}
	select {
	case n := <-arrived:
		t.Errorf("attempt %d after the delivery", n)
	case <-time.After(100 * time.Millisecond):
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

func waitArrival(t *testing.T, arrived <-chan int, want int) {
	t.Helper()
	select {
	case n := <-arrived:
		if n != want {
			t.Fatalf("delivery attempt %d arrived, want %d", n, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("delivery attempt %d did not arrive", want)
	}
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
