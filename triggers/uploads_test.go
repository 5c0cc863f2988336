package triggers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/testutil"
)

// Bodies that sent part of themselves and stall hold the budget they took while it is
// not past half; once a take puts it past half, each of them is given a short read
// deadline, answered 408 and closed, and the budget they held is free again. The
// uploads send all they send before the squeeze, so that what is cut is a wait.
func TestStalledBodiesAreCutPastHalfTheBudget(t *testing.T) {
	h, starter := newHooks(t, "any.hcl", `
workflow "any" {
  trigger "webhook" {
    path = "/any"
  }
}`)
	h.bodies.max, h.bodies.share = 1<<20, 0
	h.uploads.wait = time.Second
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	upload := func(sent int) net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "POST /hooks/any HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", addr, DefaultMaxBody, strings.Repeat("x", sent))
		return c
	}
	stalled := []net.Conn{upload(200 << 10), upload(200 << 10)}
	testutil.Eventually(t, 10*time.Second, "two uploads to hold 256 KiB each", func() bool { return h.bodies.used.Load() == 512<<10 })
	if n := h.uploads.n.Load(); n != 2 {
		t.Errorf("%d uploads wait without a deadline of ours, want both: half the budget is not past half", n)
	}
	stalled = append(stalled, upload(10<<10)) // its 16 KiB put the budget past half
	for i, c := range stalled {
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			t.Errorf("upload %d: still waiting for its body past half the budget", i)
		case err != nil:
			t.Logf("upload %d: the connection closed before its answer was read: %v", i, err)
		default:
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestTimeout || !resp.Close {
				t.Errorf("upload %d: %d, close %v; want 408 and the connection closed", i, resp.StatusCode, resp.Close)
			}
		}
	}
	testutil.Eventually(t, 10*time.Second, "the budget given back", func() bool { return h.bodies.used.Load() == 0 })
	if a := send(t, "POST", srv.URL+"/hooks/any", "application/json", []byte(`{"c": 1}`)); a.status != http.StatusAccepted {
		t.Errorf("after the stalled uploads were cut: %d %v", a.status, a.body)
	}
	if n := len(starter.events["any"]); n != 1 {
		t.Errorf("%d runs started, want 1", n)
	}
}

// A deadline of ours is never later than the server's own: ReadTimeout from the start
// of the headers, which took at most the header timeout.
func TestBodyDeadlineCap(t *testing.T) {
	start := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		srv  *http.Server
		want time.Time
	}{
		{"no server", nil, time.Time{}},
		{"no read timeout", &http.Server{ReadHeaderTimeout: 5 * time.Second}, time.Time{}},
		{"serve's timeouts", &http.Server{ReadTimeout: 30 * time.Second, ReadHeaderTimeout: 5 * time.Second}, start.Add(25 * time.Second)},
		{"headers within the read timeout", &http.Server{ReadTimeout: 30 * time.Second}, start},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/hooks/any", nil)
			if c.srv != nil {
				r = r.WithContext(context.WithValue(r.Context(), http.ServerContextKey, c.srv))
			}
			if got := bodyDeadlineCap(r, start); !got.Equal(c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}
