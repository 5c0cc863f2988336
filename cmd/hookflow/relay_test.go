package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/testutil"
)

// relaySrc is a two-step workflow; each step calls the downstream API, in FAULT_API.
// The tests that run hookflow as a process, and kill it, are in the e2e package.
const relaySrc = `
workflow "relay" {
  trigger "webhook" {
    path = "/relay"
  }

  step "http" "a" {
    url  = "${env("FAULT_API")}/a"
    json = { n = "{{ event.body.n }}" }
  }

  step "http" "b" {
    url  = "${env("FAULT_API")}/b"
    json = { n = "{{ event.body.n }}" }
  }
}
`

func writeRelay(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "relay.hcl"), []byte(relaySrc), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// sink is the downstream API: it records each call's Idempotency-Key and takes
// latency to answer.
type sink struct {
	mu    sync.Mutex
	calls map[string]int // Idempotency-Key -> calls
	total atomic.Int64
	srv   *httptest.Server
}

func newSink(t *testing.T, latency time.Duration) *sink {
	s := &sink{calls: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(latency)
		s.mu.Lock()
		s.calls[r.Header.Get("Idempotency-Key")]++
		s.mu.Unlock()
		s.total.Add(1)
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// syncWriter is a log written by hookflow's goroutines and read by the test.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// waitAll waits until every run has succeeded, and fails t if one failed.
func waitAll(t *testing.T, rdb *redis.Client, ids []string, within time.Duration) {
	t.Helper()
	for _, id := range ids {
		testutil.Eventually(t, within, "run "+id+" finished", func() bool {
			fields, err := rdb.HMGet(context.Background(), "{hf:0}:run:"+id, "status", "error").Result()
			if err != nil {
				t.Fatal(err)
			}
			switch fields[0] {
			case "succeeded":
				return true
			case "failed":
				t.Fatalf("run %s failed: %v", id, fields[1])
			case nil:
				t.Fatalf("run %s is not in Redis", id)
			}
			return false
		})
	}
}
