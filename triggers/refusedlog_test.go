package triggers

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

// A flood of requests refused, by verification or by Redis, logs a line at once, then,
// once its second ends, the last line held back, saying how many were not logged
// between the two, though no other request comes; the metrics count every request.
// The throttles read a clock the test moves.
func TestRefusalsAreLoggedOnceASecond(t *testing.T) {
	set, diags := loadHooks("hooks.hcl", `
workflow "signed" {
  trigger "webhook" {
    path = "/github"
    verify "github" {
      secrets = ["It's a Secret to Everybody"]
    }
  }
}

workflow "any" {
  trigger "webhook" {
    path = "/any"
  }
}`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var logs testutil.LogBuffer
	reg := prometheus.NewRegistry()
	starter := &recordingStarter{events: map[string][]*workflows.Event{}, failed: map[string]string{},
		fail: errors.New("redis: connection refused")}
	h := NewWebhooks(starter, slog.New(slog.NewTextHandler(&logs, nil)), nil, WithMetrics(NewMetrics(reg)))
	h.Use(set)
	clock := testutil.NewClock()
	h.refusedLog.Clock = clock
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	post := func(path string, header http.Header) int {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(`{"n": 1}`))
		req.Header.Set("Content-Type", "application/json")
		for k, vs := range header {
			req.Header[k] = vs
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	forged := http.Header{"X-Hub-Signature-256": {"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}}
	for _, c := range []struct {
		name, path, line, reason string
		header                   http.Header
		status                   int
	}{
		{"a forged signature", "/hooks/github", "webhook refused", "bad_signature", forged, http.StatusUnauthorized},
		{"Redis refusing the start", "/hooks/any", "cannot queue run", "unavailable", nil, http.StatusServiceUnavailable},
	} {
		t.Run(c.name, func(t *testing.T) {
			const flood = 200
			for range flood {
				if status := post(c.path, c.header); status != c.status {
					t.Fatalf("answered %d, want %d", status, c.status)
				}
			}
			if lines := logs.Lines(c.line); len(lines) != 1 || !strings.Contains(lines[0], "suppressed=0") {
				t.Errorf("%d requests refused within a second logged %d lines, want 1 saying suppressed=0: %q", flood, len(lines), lines)
			}
			clock.Advance(time.Second) // no request comes
			lines := logs.Lines(c.line)
			if len(lines) != 2 || !strings.HasSuffix(lines[1], "suppressed=198") {
				t.Errorf("once the second ended, %d lines, want a second one, the last held back, saying suppressed=198: %q", len(lines), lines)
			}
			clock.Advance(time.Second)
			post(c.path, c.header)
			lines = logs.Lines(c.line)
			if len(lines) != 3 || !strings.HasSuffix(lines[2], "suppressed=0") {
				t.Errorf("a request a second later: %d lines, want a third one saying suppressed=0: %q", len(lines), lines)
			}
			if n := promtest.ToFloat64(h.metrics.rejected[reasonIndex(t, c.reason)]); n != flood+1 {
				t.Errorf("hookflow_events_rejected_total{reason=%q} = %v, want %d", c.reason, n, flood+1)
			}
		})
	}
}

// reasonIndex is the reason named name.
func reasonIndex(t *testing.T, name string) reason {
	t.Helper()
	for r, n := range reasonNames {
		if n == name {
			return reason(r)
		}
	}
	t.Fatalf("no reason %q", name)
	return 0
}
