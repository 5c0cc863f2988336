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
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
)

// BenchmarkRelay measures whole relay runs, as cmd/hookbench's relay workflow makes
// them: a webhook in, its filter, one http step POSTing a templated JSON body to a
// local sink, the commit. Unlike BenchmarkWebhook it waits for every run's delivery,
// so that B/op and allocs/op are per run, start to end (the load generator's and the
// sink's share included: they stay the same from one version to the next).
func BenchmarkRelay(b *testing.B) {
	var delivered, want atomic.Int64
	done := make(chan struct{}, 1)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if delivered.Add(1) == want.Load() {
			done <- struct{}{}
		}
	}))
	defer sink.Close()
	dir := b.TempDir()
	src := `workflow "relay" {
  trigger "webhook" {
    path = "/bench/relay"
  }
  filter = "event.body.kind == 'bench'"
  step "http" "relay" {
    method = "POST"
    url    = "` + sink.URL + `/relay"
    json = {
      seq     = "{{ event.body.seq }}"
      sent_ns = "{{ event.body.sent_ns }}"
    }
  }
}`
	if err := os.WriteFile(filepath.Join(dir, "relay.hcl"), []byte(src), 0o644); err != nil {
		b.Fatal(err)
	}
	cfg := serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", redisURL: redistest.Real(b).URL,
		workers: 64, allowNet: loopback}
	s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	defer s.shutdown()
	url := "http://" + s.publicAddr + "/hooks/bench/relay"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var seq atomic.Int64
	delivered.Store(0)
	want.Store(int64(b.N))
	b.SetParallelism(16)
	b.ReportAllocs()
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := fmt.Appendf(nil, `{"kind": "bench", "seq": %d, "sent_ns": %d}`, seq.Add(1), time.Now().UnixNano())
			resp, err := client.Post(url, "application/json", bytes.NewReader(body))
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
	select {
	case <-done:
	case <-time.After(time.Minute):
		b.Fatalf("%d of %d runs delivered", delivered.Load(), b.N)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "runs/s")
}
