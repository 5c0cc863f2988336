package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

const childBenchSrc = `
workflow "direct" {
  step "probe" "work" {
    value = "done"
  }
}

workflow "parent" {
  step "workflow" "call" {
    workflow = "child"
  }
}

workflow "child" {
  step "probe" "work" {
    value = "done"
  }
}
`

// BenchmarkChildRoundTrip measures what calling a child run costs a run at low load:
// runs started one at a time, each waited for, of a workflow whose one step does the
// work itself ("direct") and of one whose one step calls a child workflow that does it
// ("parent": the parent parks, the child runs, its end wakes the parent, which settles).
// It reports each one's latency from start to end (p50, p99) and the difference.
func BenchmarkChildRoundTrip(b *testing.B) {
	for _, backend := range []struct {
		name string
		get  func(testing.TB) *redistest.Backend
	}{{"redis-server", redistest.Real}, {"miniredis", redistest.Mini}} {
		b.Run(backend.name, func(b *testing.B) {
			be := backend.get(b)
			e, set := benchEngine(b, be, childBenchSrc, 8)
			ctx := context.Background()
			latencies := func(name string) []time.Duration {
				wf := set.Workflow(name)
				out := make([]time.Duration, 0, b.N)
				for i := range b.N {
					start := time.Now()
					id, err := e.Start(ctx, wf, event(fmt.Sprintf(`{"i": %d}`, i)))
					if err != nil {
						b.Fatal(err)
					}
					status, err := e.WaitEnded(ctx, wf, id)
					if err != nil || status != RunSucceeded {
						b.Fatalf("run %s: %s %v", id, status, err)
					}
					out = append(out, time.Since(start))
				}
				slices.Sort(out)
				return out
			}
			b.ResetTimer()
			direct, parent := latencies("direct"), latencies("parent")
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			at := func(l []time.Duration, q float64) time.Duration { return l[min(int(q*float64(len(l))), len(l)-1)] }
			b.ReportMetric(ms(at(direct, 0.5)), "direct-p50-ms")
			b.ReportMetric(ms(at(direct, 0.99)), "direct-p99-ms")
			b.ReportMetric(ms(at(parent, 0.5)), "parent-p50-ms")
			b.ReportMetric(ms(at(parent, 0.99)), "parent-p99-ms")
			b.ReportMetric(ms(at(parent, 0.5)-at(direct, 0.5)), "added-p50-ms")
			b.ReportMetric(ms(at(parent, 0.99)-at(direct, 0.99)), "added-p99-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// bigItems is a JSON body of n items, each with a name long enough that the event is
// larger than bigEvent with a few dozen.
func bigItems(n int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"id": %d, "name": %q}`, i, strings.Repeat("x", 600))
	}
	return `{"items": [` + strings.Join(items, ", ") + `]}`
}

const bigEventSrc = `
workflow "batches" {
  step "workflow" "line" {
    for_each     = "event.body.items"
    max_parallel = 4
    workflow     = "line_child"
    input        = "{{ each.value }}"
  }
}

workflow "line_child" {
  step "probe" "part" {
    value = "{{ event.body.id }}"
  }
}
`

// BenchmarkForEachOfChildren measures a for_each whose items each run a child workflow
// (50 in flight, 64 workers) over an event that grows with the items: 1,000 items of
// about 650 bytes, a 650 KB event. Each item is leased at least twice (it starts its
// child, parks, is woken): items per second, and Redis's time per item on a real
// server. The work per item must not grow with the event (eventcache.go).
func BenchmarkForEachOfChildren(b *testing.B) {
	const n = 1000
	for _, backend := range []struct {
		name string
		get  func(testing.TB) *redistest.Backend
	}{{"redis-server", redistest.Real}, {"miniredis", redistest.Mini}} {
		b.Run(backend.name, func(b *testing.B) {
			be := backend.get(b)
			e, set := benchEngine(b, be, strings.Replace(bigEventSrc, "max_parallel = 4", "max_parallel = 50", 1), 64)
			ctx := context.Background()
			wf, ev := set.Workflow("batches"), event(bigItems(n))
			be.Client.ConfigResetStat(ctx)
			start := time.Now()
			b.ResetTimer()
			for range b.N {
				id, err := e.Start(ctx, wf, ev)
				if err != nil {
					b.Fatal(err)
				}
				if status, err := e.WaitEnded(ctx, wf, id); err != nil || status != RunSucceeded {
					b.Fatalf("run %s: %s %v", id, status, err)
				}
			}
			elapsed := time.Since(start).Seconds()
			b.ReportMetric(float64(n*b.N)/elapsed, "items/s")
			if us, ok := redisMicros(be); ok {
				b.ReportMetric(us/float64(n*b.N), "redis-µs/item")
			}
		})
	}
}

// benchEngine runs src on be with probe steps and the real kinds, with a pool of
// workers, until the benchmark ends.
func benchEngine(b *testing.B, be *redistest.Backend, src string, workers int) (*Engine, *workflows.Set) {
	b.Helper()
	k := probeKinds(&recorder{})
	actions.Register(k, actions.Options{Logger: quiet})
	set, diags := workflows.Load([]workflows.Source{{Name: "b.hcl", Data: []byte(src)}}, k)
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	e := New(be.Client, Options{Logger: quiet, Kinds: k})
	e.Use(set)
	p := e.NewPool(workers)
	p.Start()
	b.Cleanup(func() { p.Stop(context.Background()) })
	return e, set
}
