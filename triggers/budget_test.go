package triggers

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookflow/hookflow/internal/metricstest"
	"github.com/hookflow/hookflow/internal/testutil"
)

func TestBudget(t *testing.T) {
	var c netip.Addr
	b := budget{max: 100}
	if b.take(c, 0, 60) != nil || b.take(c, 0, 40) != nil || b.take(c, 0, 1) != errOverBudget {
		t.Fatal("the budget does not hold at its maximum")
	}
	b.give(c, 60)
	if b.take(c, 0, 50) != nil || b.used.Load() != 90 {
		t.Errorf("used %d after giving back", b.used.Load())
	}
	alone := budget{max: 10}
	if alone.take(c, 0, 5) != nil || alone.take(c, 5, 45) != nil {
		t.Error("a request alone was refused a budget below its size")
	}
}

// One client holds its share of the budget at most; the others take the rest, and a
// client's only request may take what it needs whatever the share.
func TestBudgetShares(t *testing.T) {
	a, b, c := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")
	bud := budget{max: 100, share: 40}
	if bud.take(a, 0, 30) != nil || bud.take(a, 0, 10) != nil {
		t.Fatal("a client was refused within its share")
	}
	if err := bud.take(a, 0, 1); err != errOverShare {
		t.Errorf("past its share: %v, want errOverShare", err)
	}
	if bud.take(b, 0, 40) != nil {
		t.Error("another client was refused beside one at its share")
	}
	if err := bud.take(c, 0, 30); err != errOverBudget {
		t.Errorf("past the maximum: %v, want errOverBudget", err)
	}
	if n := bud.held(c); n != 0 {
		t.Errorf("a refused client still holds %d", n)
	}
	bud.give(a, 10)
	if bud.take(a, 0, 10) != nil {
		t.Error("a client was refused after giving back")
	}
	bud.give(a, 40)
	bud.give(b, 40)
	if bud.held(a) != 0 || bud.held(b) != 0 || bud.used.Load() != 0 {
		t.Errorf("all given back: %d and %d held, %d used", bud.held(a), bud.held(b), bud.used.Load())
	}

	only := budget{max: 100, share: 10}
	if only.take(a, 0, 10) != nil || only.take(a, 10, 60) != nil {
		t.Error("a client's only request was refused a share below its size")
	}
	if err := only.take(a, 0, 1); err != errOverShare {
		t.Errorf("a second request beside it: %v, want errOverShare", err)
	}
}

func TestClientOf(t *testing.T) {
	for _, tc := range []struct{ remote, want string }{
		{"192.0.2.1:4000", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:4000", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:4000", "2001:db8:1:2::"},
		{"[2001:db8:1:2:ffff::1]:80", "2001:db8:1:2::"},
		{"[fe80::1%eth0]:80", "fe80::"},
		{"192.0.2.1", "192.0.2.1"},
		{"@", "invalid IP"},
		{"", "invalid IP"},
	} {
		t.Run(tc.remote, func(t *testing.T) {
			if got := ClientOf(tc.remote).String(); got != tc.want {
				t.Errorf("ClientOf(%q) = %s, want %s", tc.remote, got, tc.want)
			}
		})
	}
}

// Many stalled uploads from one address hold its share of the budget, not all of it:
// a webhook from another address, a signed one and an unverified one, is taken beside
// them. Each upload declares max_body and sends all of it but its last byte.
func TestOneClientCannotHoldTheBudget(t *testing.T) {
	h, starter := newHooks(t, "any.hcl", `
workflow "any" {
  trigger "webhook" {
    path = "/any"
  }
}

workflow "signed" {
  trigger "webhook" {
    path = "/github"
    verify "github" {
      secrets = ["It's a Secret to Everybody"]
    }
  }
}`)
	srv := httptest.NewServer(fromClient(h))
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	const uploads = 34 // more than the whole budget holds
	var refused atomic.Int64
	for range uploads {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "POST /hooks/any HTTP/1.1\r\nHost: x\r\nX-Client: 192.0.2.66\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n", DefaultMaxBody)
		go func() {
			c.Write(bytes.Repeat([]byte("x"), DefaultMaxBody-1)) // fails once refused, as the server closes
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err == nil && resp.StatusCode == http.StatusServiceUnavailable {
				refused.Add(1)
			}
		}()
	}
	// Every upload is refused, or holds its whole body in the budget.
	testutil.Eventually(t, 10*time.Second, "every stalled upload to be held or refused", func() bool {
		return refused.Load()+h.bodies.used.Load()/DefaultMaxBody == uploads
	})
	if used := h.bodies.used.Load(); used > h.bodies.share {
		t.Errorf("one address holds %d bytes, past its share of %d", used, h.bodies.share)
	}

	a := sendFrom(t, "192.0.2.7", srv.URL+"/hooks/any", nil, `{"tiny": true}`)
	if a.status != http.StatusAccepted {
		t.Errorf("an unverified webhook from another address: %d %v", a.status, a.body)
	}
	signed := http.Header{"X-Hub-Signature-256": {"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}}
	if a := sendFrom(t, "2001:db8::7", srv.URL+"/hooks/github", signed, "Hello, World!"); a.status != http.StatusAccepted {
		t.Errorf("a signed webhook from another address: %d %v", a.status, a.body)
	}
	a = sendFrom(t, "192.0.2.66", srv.URL+"/hooks/any", nil, strings.Repeat("y", 64<<10))
	if h.bodies.used.Load() == h.bodies.share && a.status != http.StatusServiceUnavailable {
		t.Errorf("past its share, the stalling address: %d %v", a.status, a.body)
	}
	if n := len(starter.events["signed"]); n != 1 {
		t.Errorf("%d signed runs started, want 1", n)
	}
}

// fromClient serves h to requests that name the address they come from in an X-Client
// header, as all of a test's requests come from one address.
func fromClient(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := r.Header.Get("X-Client"); c != "" {
			r.RemoteAddr = net.JoinHostPort(c, "4000")
		}
		h.ServeHTTP(w, r)
	})
}

// sendFrom posts body as text to url from the client address client, with header.
func sendFrom(t *testing.T, client, url string, header http.Header, body string) answer {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("X-Client", client)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return readAnswer(t, resp)
}

// Slow uploads hold the memory their bodies take as their bytes arrive: past the
// budget, further webhooks are answered 503 with Retry-After rather than read, and once
// the uploads end, webhooks are taken again.
func TestWebhookBodiesOverTheBudget(t *testing.T) {
	srv, starter, h := serveHooksOf(t, "any.hcl", `
workflow "any" {
  trigger "webhook" {
    path = "/any"
  }
}`)
	h.bodies.max = 512<<10 + 100 // an upload of unknown length grown to 512 KiB, and 100 bytes more
	h.uploads.wait = time.Minute // past half the budget, the slow upload is not cut before it ends
	reg := prometheus.NewRegistry()
	h.metrics = NewMetrics(reg) // a refusal is counted as overloaded
	pr, pw := io.Pipe()
	slow := make(chan *http.Response, 1)
	go func() {
		req, _ := http.NewRequest("POST", srv.URL+"/hooks/any", pr) // chunked: its length unknown
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
		}
		slow <- resp
	}()
	pw.Write([]byte(`{"a": "` + strings.Repeat("x", 300<<10)))
	testutil.Eventually(t, 5*time.Second, "the slow upload to take 512 KiB", func() bool { return h.bodies.used.Load() >= 512<<10 })

	a := send(t, "POST", srv.URL+"/hooks/any", "application/json", []byte(`{"b": "`+strings.Repeat("y", 200)+`"}`))
	if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
		t.Errorf("past the budget: %d %v, Retry-After %q", a.status, a.body, a.header.Get("Retry-After"))
	}
	if got := metricstest.Series(t, reg, "hookflow_events_rejected_total")["reason=overloaded"]; got != 1 {
		t.Errorf("refusals past the budget counted as overloaded: %v, want 1", got)
	}
	pw.Write([]byte(`"}`))
	pw.Close()
	if resp := <-slow; resp == nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("the slow upload: %v", resp)
	}
	if a := send(t, "POST", srv.URL+"/hooks/any", "application/json", []byte(`{"c": 1}`)); a.status != http.StatusAccepted {
		t.Errorf("after the upload ended: %d %v", a.status, a.body)
	}
	if n := len(starter.events["any"]); n != 2 {
		t.Errorf("%d runs started, want 2", n)
	}
	if n := h.bodies.used.Load(); n != 0 {
		t.Errorf("%d bytes of the budget still taken", n)
	}
}

// A body takes the budget as its bytes arrive, not as its length is declared: uploads
// that declare 1 MiB and send 10 KiB of it hold 16 KiB each (their buffer, grown by
// doubling from 4 KiB as the bytes came), and one that sent a byte holds none. A
// webhook beside them is taken.
func TestWebhookBodiesTakeTheBudgetAsTheyArrive(t *testing.T) {
	h, starter := newHooks(t, "any.hcl", `
workflow "any" {
  trigger "webhook" {
    path = "/any"
  }
}`)
	var entered atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	upload := func(sent int) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "POST /hooks/any HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", addr, DefaultMaxBody, strings.Repeat("x", sent))
	}
	for range 3 {
		upload(10 << 10)
	}
	testutil.Eventually(t, 10*time.Second, "three uploads of 10 KiB to hold 16 KiB each", func() bool {
		return h.bodies.used.Load() == 3*16<<10
	})
	for range 3 {
		upload(1)
	}
	testutil.Eventually(t, 10*time.Second, "the uploads of a byte to reach the receiver", func() bool { return entered.Load() == 6 })
	if used := h.bodies.used.Load(); used != 3*16<<10 {
		t.Errorf("%d bytes of the budget taken, want %d: the uploads of a byte took some", used, 3*16<<10)
	}
	if a := send(t, "POST", srv.URL+"/hooks/any", "application/json", []byte(`{"c": 1}`)); a.status != http.StatusAccepted {
		t.Errorf("beside the uploads: %d %v", a.status, a.body)
	}
	if n := len(starter.events["any"]); n != 1 {
		t.Errorf("%d runs started, want 1", n)
	}
}

// A body of declared length is read into a buffer of that length, not a larger one.
func TestReadBodyOfDeclaredLength(t *testing.T) {
	h := &Webhooks{}
	h.bodies.max = DefaultBodyBudget
	for _, n := range []int{0, 100, firstRead, firstRead + 1, 900 << 10} {
		body := strings.Repeat("x", n)
		r := httptest.NewRequest("POST", "/hooks/any", strings.NewReader(body))
		raw, taken, err := h.readBody(httptest.NewRecorder(), r, netip.Addr{}, DefaultMaxBody)
		if err != nil || string(raw) != body || cap(raw) != n || taken != int64(n) {
			t.Errorf("%d bytes: read %d (cap %d), took %d, %v", n, len(raw), cap(raw), taken, err)
		}
		h.bodies.give(netip.Addr{}, taken)
	}
	if n := h.bodies.used.Load(); n != 0 {
		t.Errorf("%d bytes of the budget still taken", n)
	}
}

// A body of unknown length takes what its buffer holds, grown by doubling from 4 KiB,
// or less when max_body is less.
func TestReadBodyOfUnknownLength(t *testing.T) {
	h := &Webhooks{}
	h.bodies.max = DefaultBodyBudget
	for _, c := range []struct {
		n, limit int
		want     int64
	}{
		{0, DefaultMaxBody, firstRead},
		{100, 200, 201},
		{firstRead, DefaultMaxBody, 2 * firstRead},
		{300 << 10, DefaultMaxBody, 512 << 10},
		{DefaultMaxBody, DefaultMaxBody, DefaultMaxBody + 1},
	} {
		body := strings.Repeat("x", c.n)
		r := httptest.NewRequest("POST", "/hooks/any", io.MultiReader(strings.NewReader(body)))
		r.ContentLength = -1
		raw, taken, err := h.readBody(httptest.NewRecorder(), r, netip.Addr{}, int64(c.limit))
		if err != nil || string(raw) != body || taken != c.want || int64(cap(raw)) != taken {
			t.Errorf("%d bytes: read %d (cap %d), took %d (want %d), %v", c.n, len(raw), cap(raw), taken, c.want, err)
		}
		h.bodies.give(netip.Addr{}, taken)
	}
}

// The clients that held bodies and hold none are dropped now and then: many
// addresses, each come once, leave at most sweepAfter entries behind.
func TestBudgetForgetsClients(t *testing.T) {
	bud := budget{max: 1 << 20, share: 1 << 18}
	for i := range 5 * sweepAfter {
		c := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		if err := bud.take(c, 0, 100); err != nil {
			t.Fatal(err)
		}
		bud.give(c, 100)
	}
	entries := 0
	bud.clients.Range(func(_, _ any) bool { entries++; return true })
	if entries > sweepAfter || bud.used.Load() != 0 {
		t.Errorf("%d clients kept, %d bytes used; want at most %d kept, none used", entries, bud.used.Load(), sweepAfter)
	}
}
