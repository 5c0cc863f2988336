package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
)

// BenchmarkWebhook measures accepted webhooks per second through the whole receiver:
// HTTP, body parsing, filter, and the run queued in Redis, while the workers deliver
// each run's one step to a local sink.
func BenchmarkWebhook(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer sink.Close()
	dir := b.TempDir()
	src := `workflow "relay" {
  trigger "webhook" {
    path = "/relay"
  }
  filter = "event.body.type == 'order.paid'"
  step "http" "deliver" {
    url  = "` + sink.URL + `"
    json = { id = "{{ event.body.id }}", total = "{{ event.body.total }}" }
  }
}`
	if err := os.WriteFile(filepath.Join(dir, "relay.hcl"), []byte(src), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, backend := range []struct {
		name string
		url  func(testing.TB) string
	}{
		{"redis-server", func(tb testing.TB) string { return redistest.Real(tb).URL }},
		{"embedded", func(testing.TB) string { return "" }},
	} {
		b.Run(backend.name, func(b *testing.B) {
			url := benchServer(b, dir, backend.url(b)) + "/hooks/relay"
			body := []byte(`{"type": "order.paid", "id": "ord_1", "total": 1999, "email": "ada@example.com"}`)
			start := time.Now()
			b.ResetTimer()
			postAll(b, url, func() []byte { return body })
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "accepted/s")
		})
	}
}

// benchServer serves the workflows in dir on redisURL ("": the embedded Redis) with 64
// workers until the benchmark ends, and returns its webhook base URL.
func benchServer(b *testing.B, dir, redisURL string) string {
	cfg := serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", redisURL: redisURL,
		workers: 64, allowNet: loopback}
	s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.shutdown() })
	return "http://" + s.publicAddr
}

// postAll posts b.N webhooks from 16 goroutines per CPU, each with the body body
// makes, and fails the benchmark on any answer but 202.
func postAll(b *testing.B, url string, body func() []byte) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(url, "application/json", bytes.NewReader(body()))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

// BenchmarkReloadLatency measures change-to-live: from a workflow file written with a
// new webhook path to the first request on that path answered 202, over 50 edits, on
// the embedded Redis. It reports the p50 and p99 in milliseconds.
func BenchmarkReloadLatency(b *testing.B) {
	for b.Loop() {
		dir := b.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "w.hcl"), []byte(hookSrc("p0")), 0o644); err != nil {
			b.Fatal(err)
		}
		cfg := serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", workers: 2}
		s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		var took []time.Duration
		for i := 1; i <= 50; i++ {
			name := fmt.Sprintf("p%d", i)
			start := time.Now()
			if err := os.WriteFile(filepath.Join(dir, "w.hcl"), []byte(hookSrc(name)), 0o644); err != nil {
				b.Fatal(err)
			}
			for {
				resp, err := http.Post("http://"+s.publicAddr+"/hooks/"+name, "application/json", bytes.NewReader([]byte(`{}`)))
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusAccepted {
					break
				}
				if time.Since(start) > 10*time.Second {
					b.Fatalf("%s not live after 10s", name)
				}
				time.Sleep(time.Millisecond)
			}
			took = append(took, time.Since(start))
		}
		s.shutdown()
		slices.Sort(took)
		b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
	}
}
