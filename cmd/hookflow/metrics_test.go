package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

// deliverSrc is a workflow "relay" with a webhook at /hooks/relay and one http step,
// deliver, that posts to sink.
func deliverSrc(sink string) string {
	return `workflow "relay" {
  trigger "webhook" {
    path = "/relay"
  }
  step "http" "deliver" {
    url  = "` + sink + `"
    json = { id = "{{ event.body.id }}" }
  }
}
`
}

func newDiscard(t *testing.T) *httptest.Server {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	t.Cleanup(sink.Close)
	return sink
}

// hasLines waits up to 5s for every line to be in what get returns, and fails t with
// what is missing otherwise.
func hasLines(t *testing.T, get func() string, lines ...string) {
	t.Helper()
	var text string
	var missing []string
	defer func() { // runs when Eventually gives up too
		if len(missing) > 0 {
			t.Logf("/metrics lacks:\n%s\n\n/metrics:\n%s", strings.Join(missing, "\n"), text)
		}
	}()
	testutil.Eventually(t, 5*time.Second, "every line in /metrics", func() bool {
		text = get()
		missing = missing[:0:0]
		for _, l := range lines {
			if !strings.Contains("\n"+text, "\n"+l+"\n") {
				missing = append(missing, l)
			}
		}
		return len(missing) == 0
	})
}

// GET /metrics on the admin address shows every family, with the counts of what
// happened: a webhook run, a run started by hand, a request to an unknown path, a
// resume URL whose token hookflow did not sign, and a webhook and a resume refused
// while shutting down.
func TestMetricsAfterAWebhookRun(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "relay.hcl"), deliverSrc(newDiscard(t).URL))
	r := serveReloading(t, dir, true)
	admin := "http://" + r.s.adminAddr

	status, body := postJSON(t, "http://"+r.s.publicAddr+"/hooks/relay", `{"id": "ord_1"}`)
	if status != http.StatusAccepted {
		t.Fatalf("webhook: %d %v", status, body)
	}
	if run := waitRun(t, body["status_url"].(string)); run["status"] != "succeeded" {
		t.Fatalf("webhook run %v", run)
	}
	status, body = postJSON(t, admin+"/api/v1/workflows/relay/runs", `{"id": "ord_2"}`)
	if status != http.StatusAccepted {
		t.Fatalf("manual start: %d %v", status, body)
	}
	if run := waitRun(t, body["status_url"].(string)); run["status"] != "succeeded" {
		t.Fatalf("manual run %v", run)
	}
	if status, _ := postJSON(t, "http://"+r.s.publicAddr+"/hooks/nope", `{}`); status != http.StatusNotFound {
		t.Fatalf("unknown path: %d", status)
	}
	forged := "http://" + r.s.publicAddr + "/resume/cmVsYXkKMDFKQUJDREVGR0hKS01OUFFSU1RWV1hZWjAKYXBwcm92YWw.HMqprD8rwFl2_fw6HIatJA"
	if status, _ := postJSON(t, forged, `{}`); status != http.StatusNotFound {
		t.Fatalf("a resume URL with a forged token: %d", status)
	}
	r.s.draining.Store(true)
	if status, _ := postJSON(t, "http://"+r.s.publicAddr+"/hooks/relay", `{}`); status != http.StatusServiceUnavailable {
		t.Fatalf("while shutting down: %d", status)
	}
	if status, _ := postJSON(t, forged, `{}`); status != http.StatusServiceUnavailable {
		t.Fatalf("a resume while shutting down: %d", status)
	}

	hasLines(t, func() string { return r.metrics(t) },
		`hookflow_events_received_total{trigger="webhook",workflow="relay"} 1`,
		`hookflow_events_received_total{trigger="manual",workflow="relay"} 1`,
		`hookflow_events_filtered_total{workflow="relay"} 0`,
		`hookflow_events_duplicate_total{workflow="relay"} 0`,
		`hookflow_events_rejected_total{reason="not_found"} 1`,
		`hookflow_events_rejected_total{reason="shutting_down"} 1`,
		`hookflow_events_rejected_total{reason="bad_signature"} 0`,
		`hookflow_resumes_refused_total{reason="bad_token"} 1`,
		`hookflow_resumes_refused_total{reason="shutting_down"} 1`,
		`hookflow_resumes_refused_total{reason="not_found"} 0`,
		`hookflow_runs_started_total{trigger="webhook",workflow="relay"} 1`,
		`hookflow_runs_started_total{trigger="manual",workflow="relay"} 1`,
		`hookflow_runs_finished_total{status="succeeded",workflow="relay"} 2`,
		`hookflow_step_duration_seconds_count{kind="http",outcome="succeeded",step="deliver",workflow="relay"} 2`,
		`hookflow_step_duration_seconds_bucket{kind="http",outcome="succeeded",step="deliver",workflow="relay",le="60"} 2`,
		`hookflow_queue_depth{state="ready"} 0`,
		`hookflow_queue_depth{state="scheduled"} 0`,
		`hookflow_queue_depth{state="running"} 0`,
		`hookflow_queue_depth{state="waiting"} 0`,
		`hookflow_queue_lag_seconds 0`,
		`hookflow_dead_letters 0`,
		`hookflow_runs_unfinished 0`,
		`hookflow_redis_up 1`,
		`hookflow_config_last_reload_successful 1`,
		`# TYPE hookflow_config_last_reload_success_timestamp_seconds gauge`,
		`# TYPE go_goroutines gauge`,
	)
}

// A worker with a metrics address serves /metrics, /healthz and /readyz there: its
// steps' metrics, the queue's, and Redis being unreachable.
func TestWorkerMetrics(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "relay.hcl"), deliverSrc(newDiscard(t).URL))
		cfg := serveConfig{dir: dir, redisURL: b.URL, workers: 2, allowNet: loopback, metricsAddr: "127.0.0.1:0"}
		w, err := startWorker(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.stop() })
		base := "http://" + w.metricsOut.addr
		get := func(path string) (int, string) {
			t.Helper()
			resp, err := http.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(data)
		}
		metrics := func() string { _, text := get("/metrics"); return text }

		ev := &workflows.Event{ID: "e1", Trigger: "manual", ReceivedAt: time.Now(), ContentType: "application/json", Raw: `{"id": 1}`}
		if _, err := w.engine.Start(context.Background(), w.set.Workflow("relay"), ev); err != nil {
			t.Fatal(err)
		}
		hasLines(t, metrics,
			`hookflow_runs_started_total{trigger="manual",workflow="relay"} 1`,
			`hookflow_runs_finished_total{status="succeeded",workflow="relay"} 1`,
			`hookflow_step_duration_seconds_count{kind="http",outcome="succeeded",step="deliver",workflow="relay"} 1`,
			`hookflow_queue_depth{state="ready"} 0`,
			`hookflow_redis_up 1`,
			`# TYPE go_goroutines gauge`,
		)
		for _, path := range []string{"/healthz", "/readyz"} {
			if status, body := get(path); status != http.StatusOK {
				t.Errorf("%s: %d %s", path, status, body)
			}
		}

		// Once it begins to stop (stop sets draining first), /readyz takes it out.
		w.draining.Store(true)
		if status, body := get("/readyz"); status != http.StatusServiceUnavailable || !strings.Contains(body, "shutting down") {
			t.Errorf("/readyz while it stops: %d %s", status, body)
		}
		w.draining.Store(false)

		b.Stop()
		if status, body := get("/readyz"); status != http.StatusServiceUnavailable || !strings.Contains(body, "redis") {
			t.Errorf("/readyz with Redis down: %d %s", status, body)
		}
		if status, _ := get("/healthz"); status != http.StatusOK {
			t.Errorf("/healthz with Redis down: %d", status)
		}
		text := metrics()
		hasLines(t, func() string { return text }, `hookflow_redis_up 0`,
			`hookflow_runs_finished_total{status="succeeded",workflow="relay"} 1`)
		if strings.Contains(text, "hookflow_queue_depth{") {
			t.Errorf("queue depth reported with Redis down:\n%s", text)
		}
	})
}

func TestMetricsAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := serveConfig{dir: t.TempDir(), redisURL: redistest.Mini(t).URL, workers: 1, metricsAddr: ln.Addr().String()}
	_, err = startWorker(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--metrics") {
		t.Errorf("worker: %v", err)
	}
	cfg.listen, cfg.admin = "127.0.0.1:0", "127.0.0.1:0"
	_, err = startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--metrics") {
		t.Errorf("serve: %v", err)
	}
}

// serve shows its metrics on a metrics address too, when it has one.
func TestServeMetricsAddress(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "relay.hcl"), deliverSrc(newDiscard(t).URL))
	cfg := serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", workers: 2, allowNet: loopback,
		noWatch: true, metricsAddr: "127.0.0.1:0"}
	s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer s.shutdown()
	if status, body := postJSON(t, "http://"+s.publicAddr+"/hooks/relay", `{"id": 1}`); status != http.StatusAccepted {
		t.Fatalf("webhook: %d %v", status, body)
	}
	hasLines(t, func() string {
		resp, err := http.Get("http://" + s.metricsOut.addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return string(data)
	},
		`hookflow_events_received_total{trigger="webhook",workflow="relay"} 1`,
		`hookflow_runs_finished_total{status="succeeded",workflow="relay"} 1`,
		`hookflow_config_last_reload_successful 1`,
	)
}

// A metrics listener on loopback answers only loopback names, as the admin API without
// a token does, so that a page rebinding its DNS name to 127.0.0.1 cannot read it; the
// probes answer any name, and so does a listener on another address. Every answer,
// its refusals too, says nosniff.
func TestMetricsListenerHost(t *testing.T) {
	get := func(t *testing.T, addr, host, path string) int {
		t.Helper()
		req, err := http.NewRequest("GET", "http://"+addr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if v := resp.Header.Get("X-Content-Type-Options"); v != "nosniff" {
			t.Errorf("Host %s, GET %s: X-Content-Type-Options %q, want nosniff", host, path, v)
		}
		return resp.StatusCode
	}
	serve := func(t *testing.T, addr string) string {
		t.Helper()
		ln, err := listenMetrics(addr)
		if err != nil {
			t.Fatal(err)
		}
		m := serveMetrics(ln, newRegistry(build{}), func(context.Context) error { return nil },
			slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
		t.Cleanup(func() { m.shutdown(context.Background()) })
		_, port, _ := net.SplitHostPort(m.addr)
		return net.JoinHostPort("127.0.0.1", port)
	}
	addr := serve(t, "127.0.0.1:0")
	_, port, _ := net.SplitHostPort(addr)
	for _, c := range []struct {
		host, path string
		want       int
	}{
		{addr, "/metrics", 200},
		{"localhost:" + port, "/metrics", 200},
		{"evil.example:" + port, "/metrics", http.StatusMisdirectedRequest},
		{"evil.example", "/healthz", 200},
		{"evil.example", "/readyz", 200},
	} {
		if got := get(t, addr, c.host, c.path); got != c.want {
			t.Errorf("loopback listener, Host %s, GET %s: %d, want %d", c.host, c.path, got, c.want)
		}
	}
	if got := get(t, serve(t, "0.0.0.0:0"), "metrics.example", "/metrics"); got != 200 {
		t.Errorf("listener on every address, Host metrics.example: %d, want 200", got)
	}
}
