package testutil

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RelaySrc is a two-step workflow on the webhook path /relay; each step POSTs to the
// API in FAULT_API (/a, then /b).
const RelaySrc = `
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

// WriteRelay writes RelaySrc into a new directory and returns the directory.
func WriteRelay(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "relay.hcl"), []byte(RelaySrc), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Sink is a downstream API: it counts the calls by Idempotency-Key and takes its
// latency to answer each, so that steps are in flight when a test kills something.
type Sink struct {
	URL   string
	mu    sync.Mutex
	calls map[string]int // Idempotency-Key -> calls
	total atomic.Int64
}

// NewSink starts a Sink for the test.
func NewSink(t testing.TB, latency time.Duration) *Sink {
	s := &Sink{calls: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(latency) // the API's own time to answer
		s.mu.Lock()
		s.calls[r.Header.Get("Idempotency-Key")]++
		s.mu.Unlock()
		s.total.Add(1)
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Total is how many calls the sink answered.
func (s *Sink) Total() int64 { return s.total.Load() }

// Keys returns a copy of the calls by Idempotency-Key.
func (s *Sink) Keys() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.calls)
}

// WaitRuns waits until every run (of shard 0) has succeeded, and fails t if one failed
// or is not in Redis.
func WaitRuns(t testing.TB, rdb redis.UniversalClient, ids []string, within time.Duration) {
	t.Helper()
	WaitRunsIn(t, rdb, "{hf:0}:", ids, within)
}

// WaitRunsIn is WaitRuns for runs of the shard whose keys start with prefix
// (engine.ShardPrefix).
func WaitRunsIn(t testing.TB, rdb redis.UniversalClient, prefix string, ids []string, within time.Duration) {
	t.Helper()
	pending := ids
	defer func() { // runs when Eventually gives up too
		if len(pending) > 0 {
			t.Logf("%d of %d runs not finished, e.g. %s", len(pending), len(ids), pending[0])
		}
	}()
	Eventually(t, within, fmt.Sprintf("%d runs finished", len(ids)), func() bool {
		pipe := rdb.Pipeline()
		cmds := make([]*redis.StringCmd, len(pending))
		for i, id := range pending {
			cmds[i] = pipe.HGet(context.Background(), prefix+"run:"+id, "status")
		}
		pipe.Exec(context.Background())
		var still []string
		for i, c := range cmds {
			switch c.Val() {
			case "succeeded":
			case "failed":
				msg, _ := rdb.HGet(context.Background(), prefix+"run:"+pending[i], "error").Result()
				t.Fatalf("run %s failed: %s", pending[i], msg)
			case "":
				t.Fatalf("run %s was answered 202 but is not in Redis", pending[i])
			default:
				still = append(still, pending[i])
			}
		}
		pending = still
		return len(pending) == 0
	})
}
