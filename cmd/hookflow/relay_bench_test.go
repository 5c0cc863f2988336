package main

import (
	"fmt"
	"io"
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
	url := benchServer(b, dir, redistest.Real(b).URL) + "/hooks/bench/relay"
	var seq atomic.Int64
	delivered.Store(0)
	want.Store(int64(b.N))
	b.ReportAllocs()
	start := time.Now()
	b.ResetTimer()
	postAll(b, url, func() []byte {
		return fmt.Appendf(nil, `{"kind": "bench", "seq": %d, "sent_ns": %d}`, seq.Add(1), time.Now().UnixNano())
	})
	select {
	case <-done:
	case <-time.After(time.Minute):
		b.Fatalf("%d of %d runs delivered", delivered.Load(), b.N)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "runs/s")
}
