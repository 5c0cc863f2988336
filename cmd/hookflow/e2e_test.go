package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

var loopback = prefixList{netip.MustParsePrefix("127.0.0.0/8")}

const ordersSrc = `
vars {
  api = env("E2E_API_URL")
}

workflow "order_paid" {
  trigger "webhook" {
    path = "/orders"
  }

  filter = "event.body.type == 'order.paid' && event.body.amount >= 1000"

  step "http" "create" {
    method = "POST"
    url    = "${vars.api}/customers"
    json = {
      email  = "{{ event.body.email }}"
      amount = "{{ event.body.amount / 100 }}"
    }
  }

  step "http" "note" {
    method = "POST"
    url    = "{{ vars.api + steps.create.body.notes_path }}"
    json   = { text = "Paid {{ event.body.amount / 100 }} by {{ steps.create.body.id }}" }
  }
}
`

type apiCall struct {
	method, path string
	body         map[string]any
	idemKey      string
}

// fakeCRM is the API the workflow calls: it creates a customer and names the path
// where notes about it go.
func fakeCRM(t *testing.T) (*httptest.Server, chan apiCall) {
	calls := make(chan apiCall, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		calls <- apiCall{r.Method, r.URL.Path, body, r.Header.Get("Idempotency-Key")}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/customers":
			io.WriteString(w, `{"id": "cus_42", "notes_path": "/customers/cus_42/notes"}`)
		default:
			io.WriteString(w, `{"ok": true}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, calls
}

// serveDir starts hookflow on free loopback ports with the workflows in dir.
func serveDir(t *testing.T, dir, redisURL string, listen string) *server {
	t.Helper()
	return serveWith(t, serveConfig{dir: dir, listen: listen, admin: "127.0.0.1:0", redisURL: redisURL,
		workers: 8, allowNet: loopback})
}

// serveWith starts hookflow as cfg says, until the test ends; its log is shown if the
// test fails.
func serveWith(t *testing.T, cfg serveConfig) *server {
	t.Helper()
	var logs bytes.Buffer
	s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)), &logs)
	if err != nil {
		t.Fatalf("starting: %v\n%s", err, logs.String())
	}
	t.Cleanup(func() {
		if err := s.shutdown(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if t.Failed() {
			t.Logf("hookflow log:\n%s", logs.String())
		}
	})
	return s
}

func postJSON(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	return resp.StatusCode, out
}

// finishedBeforeRedisStops waits for n runs of workflow to have succeeded as s knows
// (the answer to their last step's write read), for a test that stops Redis next: a
// step whose outcome Redis may not have taken would make the stop at the test's end
// fail, as one that may run again.
func finishedBeforeRedisStops(t *testing.T, s *server, workflow string, n int) {
	t.Helper()
	hasLines(t, func() string {
		resp, err := http.Get("http://" + s.adminAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return string(data)
	}, fmt.Sprintf(`hookflow_runs_finished_total{status="succeeded",workflow=%q} %d`, workflow, n))
}

// waitRun reads a run from the admin API until it has finished.
func waitRun(t *testing.T, statusURL string) map[string]any {
	t.Helper()
	var run map[string]any
	finished := false
	defer func() { // runs when Eventually gives up too
		if !finished && run != nil {
			t.Logf("run still %v: %v", run["status"], run)
		}
	}()
	testutil.Eventually(t, 15*time.Second, "the run at "+statusURL+" finished", func() bool {
		resp, err := http.Get(statusURL)
		if err != nil {
			t.Fatal(err)
		}
		run = nil
		err = json.NewDecoder(resp.Body).Decode(&run)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %v", statusURL, resp.StatusCode, err)
		}
		s := run["status"]
		return s == "succeeded" || s == "failed"
	})
	finished = true
	return run
}

func TestEndToEnd(t *testing.T) {
	backends := map[string]func(t *testing.T) string{
		"embedded":     func(t *testing.T) string { return "" }, // the default: no --redis
		"redis-server": func(t *testing.T) string { return redistest.Real(t).URL },
	}
	for name, redisURL := range backends {
		t.Run(name, func(t *testing.T) {
			crm, calls := fakeCRM(t)
			t.Setenv("E2E_API_URL", crm.URL)
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "orders.hcl"), []byte(ordersSrc), 0o644); err != nil {
				t.Fatal(err)
			}
			s := serveDir(t, dir, redisURL(t), "127.0.0.1:0")
			hook := "http://" + s.publicAddr + "/hooks/orders"

			// A filtered event is answered 200 and calls nothing.
			status, body := postJSON(t, hook, `{"type": "order.paid", "amount": 999, "email": "cheap@example.com"}`)
			if status != 200 || body["status"] != "filtered" {
				t.Fatalf("filtered event: %d %v", status, body)
			}

			status, body = postJSON(t, hook, `{"type": "order.paid", "amount": 2500, "email": "ada@example.com"}`)
			if status != http.StatusAccepted {
				t.Fatalf("webhook: %d %v", status, body)
			}
			runID := body["run_id"].(string)
			if want := "http://" + s.adminAddr + "/api/v1/runs/" + runID; body["status_url"] != want {
				t.Errorf("status_url %v, want %s", body["status_url"], want)
			}

			first := <-calls
			if first.method != "POST" || first.path != "/customers" || first.idemKey != runID+":create" {
				t.Errorf("first call %+v", first)
			}
			if first.body["email"] != "ada@example.com" || first.body["amount"] != 25.0 {
				t.Errorf("first call's templated JSON: %v", first.body)
			}
			second := <-calls
			if second.path != "/customers/cus_42/notes" || second.body["text"] != "Paid 25 by cus_42" {
				t.Errorf("second call should be built from the first's answer: %+v", second)
			}

			run := waitRun(t, body["status_url"].(string))
			if run["status"] != "succeeded" || run["workflow"] != "order_paid" || run["id"] != runID {
				t.Fatalf("run %v", run)
			}
			steps := run["steps"].([]any)
			if len(steps) != 2 {
				t.Fatalf("steps %v", steps)
			}
			create := steps[0].(map[string]any)
			if create["name"] != "create" || create["status"] != "succeeded" ||
				create["output"].(map[string]any)["body"].(map[string]any)["id"] != "cus_42" {
				t.Errorf("step create %v", create)
			}
			if len(calls) != 0 {
				t.Errorf("%d unexpected calls; the filtered event must call nothing", len(calls))
			}

			// A filter that cannot be evaluated on the event keeps it, as a failed run.
			status, body = postJSON(t, hook, `{"type": "order.paid", "amount": "lots"}`)
			if status != http.StatusAccepted {
				t.Fatalf("filter error: %d %v", status, body)
			}
			if run := waitRun(t, body["status_url"].(string)); run["status"] != "failed" ||
				!strings.HasPrefix(run["error"].(string), "filter: ") || run["event"].(map[string]any)["body"].(map[string]any)["amount"] != "lots" {
				t.Errorf("filter error run %v", run)
			}
			if len(calls) != 0 {
				t.Errorf("%d unexpected calls after a filter error", len(calls))
			}

			for _, u := range []string{"http://" + s.publicAddr + "/healthz", "http://" + s.adminAddr + "/healthz", "http://" + s.adminAddr + "/readyz"} {
				resp, err := http.Get(u)
				if err != nil || resp.StatusCode != 200 {
					t.Errorf("GET %s: %v %v", u, resp, err)
				}
				resp.Body.Close()
			}
			resp, err := http.Get("http://" + s.adminAddr + "/api/v1/runs/nope")
			if err != nil || resp.StatusCode != 404 {
				t.Errorf("unknown run: %v %v", resp, err)
			}
			resp.Body.Close()
		})
	}
}

// TestWebhooksWhileRedisIsDown: an event that cannot be queued is answered 503 with
// Retry-After, never 2xx.
func TestWebhooksWhileRedisIsDown(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		crm, _ := fakeCRM(t)
		t.Setenv("E2E_API_URL", crm.URL)
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "orders.hcl"), []byte(ordersSrc), 0o644); err != nil {
			t.Fatal(err)
		}
		s := serveDir(t, dir, b.URL, "127.0.0.1:0")
		hook := "http://" + s.publicAddr + "/hooks/orders"
		paid := `{"type": "order.paid", "amount": 2500, "email": "ada@example.com"}`
		if status, body := postJSON(t, hook, paid); status != http.StatusAccepted {
			t.Fatalf("with Redis up: %d %v", status, body)
		}
		finishedBeforeRedisStops(t, s, "order_paid", 1)
		b.Stop()
		resp, err := http.Post(hook, "application/json", strings.NewReader(paid))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("with Redis down: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		resp, err = http.Get("http://" + s.adminAddr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("/readyz with Redis down: %d", resp.StatusCode)
		}
	})
}

func TestServeRefusesBrokenWorkflows(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.hcl"), []byte("workflow \"a\" {\n  filter = \"event.body.x >\"\n}\n"), 0o644)
	var stderr bytes.Buffer
	cfg := serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", workers: 1}
	_, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), &stderr)
	if code, ok := err.(exitError); !ok || code != 1 {
		t.Fatalf("got %v, want exit status 1", err)
	}
	if !strings.Contains(stderr.String(), "bad.hcl:2:") || !strings.Contains(stderr.String(), "Invalid expression") {
		t.Errorf("diagnostics:\n%s", stderr.String())
	}
}

func TestServeReportsBusyPorts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := serveConfig{dir: t.TempDir(), listen: ln.Addr().String(), admin: "127.0.0.1:0", workers: 1}
	_, err = startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--listen") {
		t.Errorf("got %v", err)
	}
}

// Once shutdown begins, a webhook on a kept-alive connection is answered 503 with
// Retry-After rather than queued by a process that is going away.
func TestWebhooksWhileShuttingDown(t *testing.T) {
	crm, _ := fakeCRM(t)
	t.Setenv("E2E_API_URL", crm.URL)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "orders.hcl"), []byte(ordersSrc), 0o644); err != nil {
		t.Fatal(err)
	}
	s := serveDir(t, dir, "", "127.0.0.1:0")
	s.draining.Store(true)
	resp, err := http.Post("http://"+s.publicAddr+"/hooks/orders", "application/json", strings.NewReader(`{"type": "order.paid"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("while shutting down: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// serveHoldingRelays starts hookflow with the relay workflow, whose step's API holds
// every call until free is called (at the test's end at the latest); held is closed
// once the first call came. The test shuts hookflow down.
func serveHoldingRelays(t *testing.T) (s *server, held <-chan struct{}, free func()) {
	t.Helper()
	came, release := make(chan struct{}), make(chan struct{})
	var once, released sync.Once
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(came) })
		<-release
	}))
	free = func() { released.Do(func() { close(release) }) }
	t.Cleanup(api.Close)
	t.Cleanup(free) // before api.Close, which waits for the calls held
	t.Setenv("FAULT_API", api.URL)
	cfg := serveConfig{dir: testutil.WriteRelay(t), listen: "127.0.0.1:0", admin: "127.0.0.1:0", workers: 2, allowNet: loopback}
	s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return s, came, free
}

// SIGTERM's drain: while a step in progress finishes, the webhook listener keeps
// answering new webhooks, on new connections, 503 with Retry-After (a refused
// connection is not retried by every sender) until the step in progress has finished.
func TestWebhooksAnswer503UntilTheDrainEnds(t *testing.T) {
	s, held, free := serveHoldingRelays(t)
	if status, _ := postJSON(t, "http://"+s.publicAddr+"/hooks/relay", `{"n": 1}`); status != http.StatusAccepted {
		t.Fatalf("before the drain: %d", status)
	}
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("the step never reached the API")
	}
	done := make(chan error, 1)
	go func() { done <- s.shutdown() }()

	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	post := func() (*http.Response, error) {
		return fresh.Post("http://"+s.publicAddr+"/hooks/relay", "application/json", strings.NewReader(`{"n": 2}`))
	}
	testutil.Eventually(t, 5*time.Second, "webhooks answered 503 during the drain", func() bool {
		resp, err := post()
		if err != nil {
			t.Fatalf("a webhook during the drain: %v, want a 503", err)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	for range 3 { // and so on, each on a new connection, while the step holds the drain
		resp, err := post()
		if err != nil {
			t.Fatalf("a webhook during the drain: %v, want a 503", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("during the drain: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	// A load balancer asking /readyz takes the process out; it is alive all the same.
	for path, want := range map[string]int{"/readyz": http.StatusServiceUnavailable, "/healthz": http.StatusOK} {
		resp, err := fresh.Get("http://" + s.adminAddr + path)
		if err != nil {
			t.Fatalf("%s during the drain: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || (want != http.StatusOK && !strings.Contains(string(body), "shutting down")) {
			t.Errorf("%s during the drain: %d %s, want %d", path, resp.StatusCode, body, want)
		}
	}
	free()
	if err := <-done; err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if _, err := post(); err == nil {
		t.Error("the listener still answers after the drain ended")
	}
}

// A connection kept alive, idle when the drain begins, is not closed under a sender
// that may be sending on it: its next webhook is answered 503 with Retry-After, and
// the connection closed after that answer.
func TestAnIdleConnectionGets503WhenTheDrainBegins(t *testing.T) {
	s, held, free := serveHoldingRelays(t)
	conn, err := net.Dial("tcp", s.publicAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	send := func(n int) (*http.Response, error) {
		body := fmt.Sprintf(`{"n": %d}`, n)
		req := fmt.Sprintf("POST /hooks/relay HTTP/1.1\r\nHost: hookflow\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		if _, err := io.WriteString(conn, req); err != nil {
			return nil, err
		}
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(r, nil)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return resp, err
	}
	if resp, err := send(1); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("before the drain: %v %v", resp, err)
	}
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("the step never reached the API")
	}
	done := make(chan error, 1)
	go func() { done <- s.shutdown() }()
	testutil.Eventually(t, 5*time.Second, "the drain begun", s.draining.Load)
	s.keepMu.Lock() // what the drain's beginning does to keep-alive is done
	s.keepMu.Unlock()
	resp, err := send(2)
	if err != nil {
		t.Fatalf("a webhook on a connection kept alive, as the drain began: %v, want a 503", err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !resp.Close {
		t.Errorf("during the drain: %d, Retry-After %q, closing %v; want 503, Retry-After, the connection closed", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Close)
	}
	free()
	if err := <-done; err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// A step whose URL comes from the event cannot reach this hookflow's admin API, even
// with --allow-net letting steps call loopback: it would read other runs' events. The
// public webhook listener stays reachable.
func TestStepsCannotCallTheirOwnAdminAPI(t *testing.T) {
	dir := t.TempDir()
	src := `
workflow "fetch" {
  trigger "webhook" {
    path     = "/fetch"
    response = "sync"
  }

  step "http" "get" {
    url = "{{ event.body.url }}"
  }

  step "respond" "answer" {
    json = { got = "{{ steps.get.body }}" }
  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "fetch.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	s := serveDir(t, dir, "", "127.0.0.1:0")
	secretRun := `{"url": "http://` + s.publicAddr + `/healthz", "card": "4242-canary"}`
	if status, body := postJSON(t, "http://"+s.publicAddr+"/hooks/fetch", secretRun); status != 200 || !strings.Contains(fmt.Sprint(body), "ok") {
		t.Fatalf("the public listener, allowed by --allow-net: %d %v", status, body)
	}
	for _, url := range []string{"http://" + s.adminAddr + "/api/v1/runs", "http://localhost:" + portOf(s.adminAddr) + "/api/v1/runs"} {
		status, body := postJSON(t, "http://"+s.publicAddr+"/hooks/fetch", `{"url": "`+url+`"}`)
		if strings.Contains(fmt.Sprint(body), "canary") {
			t.Fatalf("%s: a step read another run through the admin API: %v", url, body)
		}
		if status != http.StatusInternalServerError {
			t.Errorf("%s: %d %v, want the run failed", url, status, body)
		}
	}
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// Past --max-conns open connections, webhooks are answered 503 with Retry-After (on
// the connection, not refused), and past half of it every answer closes its
// connection. The idle connections come from addresses of their own, as each address
// holds a quarter of the cap at most.
func TestWebhooksPastMaxConns(t *testing.T) {
	t.Setenv("FAULT_API", "http://127.0.0.1:1")
	cfg := serveConfig{dir: testutil.WriteRelay(t), listen: "127.0.0.1:0", admin: "127.0.0.1:0", workers: 1, maxConns: 4}
	s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.shutdown() })
	var idle []net.Conn // connections opened and left idle, as a slow or hostile client does
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	open := func() {
		idle = append(idle, dialFrom(t, fmt.Sprintf("127.0.0.%d", len(idle)+2), s.publicAddr))
	}
	// A kept-alive connection, idle after its request, is closed once the count passes
	// half of the cap, not after the idle timeout.
	keep := &http.Client{Transport: &http.Transport{}}
	resp, err := keep.Post("http://"+s.publicAddr+"/hooks/relay", "application/json", strings.NewReader(`{"n": 0}`))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body) // read to the end, or the client closes the connection
	resp.Body.Close()
	testutil.Eventually(t, 5*time.Second, "the kept-alive connection counted", func() bool { return s.conns.counted.Load() == 1 })
	if resp.Close {
		t.Fatalf("under pressure already: close %v, %d open", resp.Close, s.conns.counted.Load())
	}
	open()
	open()
	testutil.Eventually(t, 5*time.Second, "the idle kept-alive connection closed", func() bool {
		return s.conns.counted.Load() == 2 && openFrom(s, "127.0.0.1") == 0
	})
	open()
	open()
	testutil.Eventually(t, 5*time.Second, "the idle connections counted", func() bool { return s.conns.counted.Load() >= 4 })
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err = fresh.Post("http://"+s.publicAddr+"/hooks/relay", "application/json", strings.NewReader(`{"n": 1}`))
	if err != nil {
		t.Fatalf("past --max-conns: %v, want a 503", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("past --max-conns: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	for _, c := range idle[2:] {
		c.Close()
	}
	idle = idle[:2]
	testutil.Eventually(t, 5*time.Second, "the closed connections uncounted", func() bool {
		return s.conns.counted.Load() <= 2 && openFrom(s, "127.0.0.1") == 0
	})
	resp, err = http.Post("http://"+s.publicAddr+"/hooks/relay", "application/json", strings.NewReader(`{"n": 2}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("under the cap: %d", resp.StatusCode)
	}
	if !resp.Close {
		t.Error("past half of --max-conns, an answer kept its connection open")
	}
}

// The same delivery posted 50 times at once starts one run, on the real engine.
func TestDedupeUnderConcurrency(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		api := testutil.NewSink(t, 0)
		t.Setenv("FAULT_API", api.URL)
		dir := t.TempDir()
		src := strings.Replace(testutil.RelaySrc, `path = "/relay"`, "path   = \"/relay\"\n    dedupe = \"{{ event.headers['x-delivery'] }}\"", 1)
		if err := os.WriteFile(filepath.Join(dir, "relay.hcl"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		s := serveDir(t, dir, b.URL, "127.0.0.1:0")
		type result struct {
			status int
			runID  string
		}
		// A client of its own, whose idle connections close before hookflow shuts down:
		// 50 requests at once dial more connections than they end up using, and a
		// connection that never sent a request holds up a server's shutdown for 5 s.
		client := &http.Client{Transport: &http.Transport{}}
		t.Cleanup(client.CloseIdleConnections)
		results := make(chan result, 50)
		var wg sync.WaitGroup
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("POST", "http://"+s.publicAddr+"/hooks/relay", strings.NewReader(`{"n": 1}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Delivery", "d-42")
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				defer resp.Body.Close()
				var a struct {
					RunID string `json:"run_id"`
				}
				json.NewDecoder(resp.Body).Decode(&a)
				results <- result{resp.StatusCode, a.RunID}
			}()
		}
		wg.Wait()
		close(results)
		accepted, ids := 0, map[string]bool{}
		for r := range results {
			if r.status == http.StatusAccepted {
				accepted++
			} else if r.status != http.StatusOK {
				t.Errorf("answered %d", r.status)
			}
			ids[r.runID] = true
		}
		if accepted != 1 || len(ids) != 1 {
			t.Fatalf("%d answered 202, %d run ids; want one run", accepted, len(ids))
		}
		for id := range ids {
			waitRun(t, "http://"+s.adminAddr+"/api/v1/runs/"+id)
		}
		if n := api.Total(); n != 2 {
			t.Errorf("the API got %d calls, want the one run's 2 steps", n)
		}
	})
}

// A dedupe on a header named as a credential (Twilio's I-Twilio-Idempotency-Token,
// which basic authentication does not check) tells deliveries apart by its value, on the
// real engine, while Redis holds that value nowhere in clear: the event keeps it
// [redacted], and the dedupe key only as a hash.
func TestDedupeOnACredentialHeader(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		t.Setenv("TWILIO_PASS", "twilio-pass-2024")
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "twilio.hcl"), `workflow "twilio_status" {
  trigger "webhook" {
    path = "/twilio/status"
    verify "basic" {
      username = "twilio"
      password = [secret("TWILIO_PASS")]
    }
    dedupe = "{{ event.headers['i-twilio-idempotency-token'] }}"
  }
  step "set" "seen" { sid = "{{ event.body.MessageSid }}" }
}
`)
		s := serveDir(t, dir, b.URL, "127.0.0.1:0")
		var runs []string
		for i, c := range []struct {
			token  string
			status int
		}{{"idem-A-5f1e9c", 202}, {"idem-B-0a7d44", 202}, {"idem-A-5f1e9c", 200}} {
			form := url.Values{"MessageSid": {fmt.Sprintf("SM%d", i)}, "MessageStatus": {"delivered"}}
			req, _ := http.NewRequest("POST", "http://"+s.publicAddr+"/hooks/twilio/status", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("I-Twilio-Idempotency-Token", c.token)
			req.SetBasicAuth("twilio", "twilio-pass-2024")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var a map[string]any
			json.NewDecoder(resp.Body).Decode(&a)
			resp.Body.Close()
			if resp.StatusCode != c.status || (c.status == 200) != (a["status"] == "duplicate") {
				t.Errorf("delivery %d (%s): %d %v, want %d", i+1, c.token, resp.StatusCode, a, c.status)
			}
			if resp.StatusCode == http.StatusAccepted {
				runs = append(runs, a["status_url"].(string))
			}
		}
		for _, u := range runs {
			run := waitRun(t, u)
			ev, _ := run["event"].(map[string]any)
			headers, _ := ev["headers"].(map[string]any)
			if run["status"] != "succeeded" || headers["i-twilio-idempotency-token"] != "[redacted]" {
				t.Errorf("run %v: %v, the token %v", run["id"], run["status"], headers["i-twilio-idempotency-token"])
			}
		}
		dump := redisDump(t, b)
		if !strings.Contains(dump, "dedupe:") {
			t.Error("no dedupe key in Redis; is the dump empty?")
		}
		for _, token := range []string{"idem-A-5f1e9c", "idem-B-0a7d44"} {
			if strings.Contains(dump, token) {
				t.Errorf("Redis holds %s in clear", token)
			}
		}
	})
}

// A connection that never sent a request (a load balancer opens some ahead) does not
// hold up shutdown once the drain is over: it is closed, and shutdown reports nothing
// wrong.
func TestShutdownClosesConnectionsWithoutARequest(t *testing.T) {
	t.Setenv("FAULT_API", "http://127.0.0.1:1") // no step runs
	cfg := serveConfig{dir: testutil.WriteRelay(t), listen: "127.0.0.1:0", admin: "127.0.0.1:0", workers: 2, allowNet: loopback}
	s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", s.publicAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := s.shutdown(); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := conn.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the connection is still open after shutdown: read %d bytes, %v", n, err)
	}
}

// A shutdown's time budgets are those docs/operations.md (Stopping), the README and
// serve's help state: 10 s for webhook requests, 30 s for steps, a second for the
// webhook listener's connections, 5 s for the admin API's requests.
func TestShutdownBudgets(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want time.Duration
	}{
		{"webhook requests", intakeGrace, 10 * time.Second},
		{"steps", stepsGrace, 30 * time.Second},
		{"connections", connsGrace, time.Second},
		{"admin requests", adminGrace, 5 * time.Second},
	} {
		if c.got != c.want {
			t.Errorf("%s have %v, want %v", c.name, c.got, c.want)
		}
	}
	read := func(path string) string {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(strings.Fields(string(data)), " ")
	}
	ops := read("../../docs/operations.md")
	for _, want := range []string{
		"Webhook requests already being handled finish (their runs are queued; up to 10 s)",
		"the steps in progress finish for up to 30 s",
		"The webhook listener gives its connections a second",
		"the admin API's (and `--metrics`') requests in progress have 5 s",
		"A stop thus takes at most 46 s",
	} {
		if !strings.Contains(ops, want) {
			t.Errorf("docs/operations.md does not say %q", want)
		}
	}
	if total := intakeGrace + stepsGrace + connsGrace + adminGrace; total != 46*time.Second {
		t.Errorf("a stop takes at most %v, not the 46 s docs/operations.md says", total)
	}
	if !strings.Contains(read("../../README.md"), "lets running steps finish (up to 30 s)") {
		t.Error("the README does not give the steps 30 s")
	}
	if !strings.Contains(serveCommand().Long, "steps in progress finish (up to 30s)") {
		t.Error("serve's help does not give the steps 30s")
	}
}
