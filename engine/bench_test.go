package engine

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

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
			be := backend.get(b)
			e := New(be.Client, Options{Logger: quiet, Metrics: prometheus.NewRegistry()}) // as hookflow runs it
			e.Use(set)
			wf := set.Workflow("three")
			p := e.NewPool(64)
			p.Start()
			defer p.Stop(context.Background())

			cnt.done = make(chan struct{})
			cnt.want.Store(int64(3 * b.N))
			be.Client.ConfigResetStat(context.Background())
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
			if us, ok := redisMicros(be); ok {
				b.ReportMetric(us/float64(b.N), "redis-µs/run")
			}
		})
	}
}

// roundTrips counts the round trips a client makes to Redis: a command, or a pipeline
// of them, is one.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmd)
	}
}
func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmds)
	}
}

// BenchmarkForEach measures a run whose one step has a for_each of 1,000 items (64 in
// flight at once, 64 workers), steps that do nothing: items per second, and the round
// trips to Redis per item (leases, commits, the join; the workers' idle waits
// included).
func BenchmarkForEach(b *testing.B) {
	const n = 1000
	for _, backend := range []struct {
		name string
		get  func(testing.TB) *redistest.Backend
	}{{"redis-server", redistest.Real}, {"miniredis", redistest.Mini}} {
		b.Run(backend.name, func(b *testing.B) {
			cnt := &counter{}
			k := workflows.NewKinds()
			k.AddStep(workflows.StepKind{Name: "count", New: func(*workflows.Block) (workflows.Action, hcl.Diagnostics) { return cnt, nil }})
			set, diags := workflows.Load([]workflows.Source{{Name: "b.hcl", Data: []byte(`
workflow "fan" {
  step "count" "items" {
    for_each     = "event.body.items"
    max_parallel = 64
  }
}`)}}, k)
			if diags.HasErrors() {
				b.Fatal(diags.Error())
			}
			be := backend.get(b)
			trips := &roundTrips{}
			be.Client.AddHook(trips)
			e := New(be.Client, Options{Logger: quiet, Metrics: prometheus.NewRegistry()})
			e.Use(set)
			wf := set.Workflow("fan")
			p := e.NewPool(64)
			p.Start()
			defer p.Stop(context.Background())
			ev := event(items(n))

			trips.n.Store(0)
			start := time.Now()
			b.ResetTimer()
			for range b.N {
				id, err := e.Start(context.Background(), wf, ev)
				if err != nil {
					b.Fatal(err)
				}
				r, err := e.Await(context.Background(), wf, id) // woken by the commit that ends it
				if err != nil || r.Status != string(RunSucceeded) {
					b.Fatalf("run %s: %+v, %v", id, r, err)
				}
			}
			elapsed := time.Since(start).Seconds()
			b.ReportMetric(float64(n*b.N)/elapsed, "items/s")
			b.ReportMetric(float64(trips.n.Load())/float64(n*b.N), "trips/item")
		})
	}
}

// redisMicros is the time Redis spent in commands since its stats were reset, from
// INFO commandstats.
func redisMicros(be *redistest.Backend) (float64, bool) { return commandStat(be, "usec=") }

// commandStat sums one field ("calls=", "usec=") of INFO commandstats over every
// command but INFO itself, since the stats were reset.
func commandStat(be *redistest.Backend, field string) (float64, bool) {
	info, err := be.Client.Info(context.Background(), "commandstats").Result()
	if err != nil {
		return 0, false
	}
	total, found := 0.0, false
	for _, line := range strings.Split(info, "\n") {
		name, stats, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") || name == "cmdstat_info" {
			continue
		}
		for _, kv := range strings.Split(stats, ",") {
			if v, ok := strings.CutPrefix(kv, field); ok {
				n, _ := strconv.ParseFloat(v, 64)
				total, found = total+n, true
			}
		}
	}
	return total, found
}
