package triggers

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookflow/hookflow/workflows"
)

// nopStarter starts nothing, so that the benchmark measures the receiver alone.
type nopStarter struct{}

func (nopStarter) Start(context.Context, *workflows.Workflow, *workflows.Event) (string, error) {
	return "run", nil
}

func (nopStarter) StartOnce(context.Context, *workflows.Workflow, *workflows.Event, string, time.Duration) (string, bool, error) {
	return "run", true, nil
}

func (nopStarter) StartFailed(context.Context, *workflows.Workflow, *workflows.Event, string) (string, error) {
	return "run", nil
}

func (nopStarter) Await(context.Context, *workflows.Workflow, string) (*workflows.Reply, error) {
	return nil, context.DeadlineExceeded
}

// BenchmarkServeHTTP measures the webhook receiver without the network or Redis:
// routing, body parsing, filter and the answer, for an event accepted, one filtered,
// and a request to an unknown path, with the metrics counted.
func BenchmarkServeHTTP(b *testing.B) {
	set, diags := loadHooks("bench.hcl", `
workflow "relay" {
  trigger "webhook" {
    path = "/relay"
  }
  filter = "event.body.type == 'order.paid'"
}`)
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	h := NewWebhooks(nopStarter{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil,
		WithMetrics(NewMetrics(prometheus.NewRegistry()))) // as hookflow runs it
	h.Use(set)
	for _, c := range []struct {
		name, path, body string
		status           int
	}{
		{"accepted", "/hooks/relay", `{"type": "order.paid", "id": "ord_1", "total": 1999}`, http.StatusAccepted},
		{"filtered", "/hooks/relay", `{"type": "order.refunded", "id": "ord_1", "total": 1999}`, http.StatusOK},
		{"not_found", "/hooks/nowhere", `{}`, http.StatusNotFound},
	} {
		b.Run(c.name, func(b *testing.B) {
			body := []byte(c.body)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest(http.MethodPost, c.path, bytes.NewReader(body))
					r.Header.Set("Content-Type", "application/json")
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != c.status {
						b.Errorf("status %d, want %d", w.Code, c.status)
						return
					}
				}
			})
		})
	}
}
