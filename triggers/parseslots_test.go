package triggers

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

// heldStarter holds every start until release is closed, counting those in progress.
type heldStarter struct {
	*recordingStarter
	release chan struct{}
	now     atomic.Int64
	most    atomic.Int64
}

func (s *heldStarter) Start(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event) (string, error) {
	n := s.now.Add(1)
	for m := s.most.Load(); n > m && !s.most.CompareAndSwap(m, n); m = s.most.Load() {
	}
	defer s.now.Add(-1)
	if len(ev.Raw) > largeBody {
		<-s.release
	}
	return s.recordingStarter.Start(ctx, wf, ev)
}

// Large bodies are parsed, and their runs started, as many at a time as there are
// parse slots: what parsing makes of a body is many times its bytes. The others wait
// for a slot, and are answered 503 when none comes in time; small bodies do not wait.
func TestLargeBodiesTakeParseSlots(t *testing.T) {
	h, rec := newHooks(t, "any.hcl", `
workflow "any" {
  trigger "webhook" {
    path     = "/any"
    max_body = "1MiB"
  }
}`)
	held := &heldStarter{recordingStarter: rec, release: make(chan struct{})}
	h.starter = held
	h.parsing, h.parseWait = make(parseSlots, 2), time.Hour
	srv := httptest.NewServer(fromClient(h))
	t.Cleanup(srv.Close)

	large := `[` + strings.Repeat(`{},`, largeBody/3) + `{}]`
	answers := make(chan int, 3)
	for i := range 3 {
		go func() { // sendFrom's t.Fatal is not for another goroutine
			req, _ := http.NewRequest("POST", srv.URL+"/hooks/any", strings.NewReader(large))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Client", fmt.Sprintf("192.0.2.%d", i+1))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				answers <- 0
				return
			}
			resp.Body.Close()
			answers <- resp.StatusCode
		}()
	}
	testutil.Eventually(t, 10*time.Second, "two large bodies in their starts", func() bool { return held.now.Load() == 2 })
	time.Sleep(100 * time.Millisecond) // the third would be in its start by now, were it let in
	if n := held.now.Load(); n != 2 {
		t.Fatalf("%d large bodies in their starts at once, want 2", n)
	}
	if a := sendFrom(t, "192.0.2.9", srv.URL+"/hooks/any", nil, `{"small": true}`); a.status != http.StatusAccepted {
		t.Errorf("a small body beside them: %d %v", a.status, a.body)
	}
	close(held.release)
	for range 3 {
		if status := <-answers; status != http.StatusAccepted {
			t.Errorf("a large body: %d", status)
		}
	}
	if m := held.most.Load(); m > 3 {
		t.Errorf("%d starts at once", m)
	}

	// With every slot taken, a large body is answered 503 once its wait is over.
	h.parseWait = 50 * time.Millisecond
	h.parsing <- struct{}{}
	h.parsing <- struct{}{}
	a := sendFrom(t, "192.0.2.10", srv.URL+"/hooks/any", nil, large)
	if a.status != http.StatusServiceUnavailable || !strings.Contains(fmt.Sprint(a.body["error"]), "large webhook bodies") {
		t.Errorf("a large body with no slot free: %d %v", a.status, a.body)
	}
}
