package engine

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

// counter is a step that does nothing but count, so the benchmark measures the queue.
type counter struct {
	n    atomic.Int64
	want atomic.Int64
	done chan struct{}
}

func (c *counter) Do(context.Context, *workflows.Call) (any, error) {
	if c.n.Add(1) == c.want.Load() {
		close(c.done)
	}
	return map[string]any{"ok": true}, nil
}

// BenchmarkRuns measures 3-step runs through the whole queue: start, lease, and one
// commit per step, with 64 workers, and the metrics counted.
func BenchmarkRuns(b *testing.B) {
	for _, backend := range []struct {
		name string
		get  func(testing.TB) *redistest.Backend
	}{{"redis-server", redistest.Real}, {"miniredis", redistest.Mini}} {
		b.Run(backend.name, func(b *testing.B) {
			cnt := &counter{}
			k := workflows.NewKinds()
			k.AddStep(workflows.StepKind{Name: "count", New: func(*workflows.Block) (workflows.Action, hcl.Diagnostics) { return cnt, nil }})
			set, diags := workflows.Load([]workflows.Source{{Name: "b.hcl", Data: []byte(`
workflow "three" {
  step "count" "a" {}
  step "count" "b" {}
  step "count" "c" {}
}`)}}, k)
			if diags.HasErrors() {
				b.Fatal(diags.Error())
			}
			e := New(backend.get(b).Client, Options{Logger: quiet, Metrics: prometheus.NewRegistry()}) // as hookflow runs it
			e.Use(set)
			wf := set.Workflow("three")
			p := e.NewPool(64)
			p.Start()
			defer p.Stop(context.Background())

			cnt.done = make(chan struct{})
			cnt.want.Store(int64(3 * b.N))
			start := time.Now()
			b.ResetTimer()
			var wg sync.WaitGroup
			const starters = 16
			for g := range starters {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := g; i < b.N; i += starters {
						if _, err := e.Start(context.Background(), wf, event(fmt.Sprintf(`{"i": %d}`, i))); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			<-cnt.done
			elapsed := time.Since(start).Seconds()
			b.ReportMetric(float64(b.N)/elapsed, "runs/s")
			b.ReportMetric(float64(3*b.N)/elapsed, "steps/s")
		})
	}
}
