package engine

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/internal/metricstest"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

// limitedProcess is one hookflow process of limitedProcesses: its engine, started
// pool, and the registry of its api metrics.
type limitedProcess struct {
	e       *Engine
	wf      *workflows.Workflow
	metrics *prometheus.Registry
}

// limitedProcesses starts n engines on the backend's Redis, each with its own client,
// pool of workers and api state, as n serve processes are: they share only Redis. Their
// one workflow calls srv through an api with the given limits.
func limitedProcesses(t testing.TB, be *redistest.Backend, n, workers int, srv string, limits string) []limitedProcess {
	t.Helper()
	src := fmt.Sprintf(`
api "crm" {
  base_url = "%s"
  %s
}
workflow "one" {
  step "http" "call" {
    api = "crm"
    url = "/customers"
  }
}`, srv, limits)
	opts, err := redis.ParseURL(be.URL)
	if err != nil {
		t.Fatal(err)
	}
	if be.Mini != nil {
		opts.Dialer = be.Mini.Dial
	}
	var out []limitedProcess
	for i := range n {
		rdb := be.Client
		if i > 0 {
			c := redis.NewClient(opts)
			t.Cleanup(func() { c.Close() })
			rdb = c
		}
		apis := actions.NewAPIs()
		apis.Connect(rdb)
		reg := prometheus.NewRegistry()
		reg.MustRegister(apis)
		k := workflows.NewKinds()
		client := actions.NewClient(actions.NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}))
		actions.Register(k, actions.Options{Client: client, Logger: quiet, APIs: apis})
		set, diags := workflows.Load([]workflows.Source{{Name: "limited.hcl", Data: []byte(src)}}, k)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		e := New(rdb, Options{Logger: quiet, Metrics: prometheus.NewRegistry(), Kinds: k})
		e.Use(set)
		p := e.NewPool(workers)
		p.Start()
		t.Cleanup(func() { p.Stop(context.Background()) })
		out = append(out, limitedProcess{e: e, wf: set.Workflow("one"), metrics: reg})
	}
	return out
}

// apiCounts sums the calls and rate_limit waits of api crm over the processes.
func apiCounts(t testing.TB, ps []limitedProcess) (calls, waits float64) {
	t.Helper()
	for _, p := range ps {
		calls += metricstest.Series(t, p.metrics, "hookflow_api_calls_total")["api=crm"]
		waits += metricstest.Series(t, p.metrics, "hookflow_api_waits_total")["api=crm,reason=rate_limit"]
	}
	return calls, waits
}

// TestRateLimitBacklogAcrossProcesses queues a backlog of runs on two processes
// sharing a Redis, every one calling an api with a rate_limit: the calls keep to the
// limit, and a step the limit holds back is queued again about once, for its turn,
// not again and again with every other step waiting (a step queued again for the
// same next slot as the rest would wait once per call before its own).
func TestRateLimitBacklogAcrossProcesses(t *testing.T) {
	redistest.Each(t, func(t *testing.T, be *redistest.Backend) {
		const rate, burst, backlog = 40, 4, 60
		var mu sync.Mutex
		perSecond := map[int64]int{}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			perSecond[time.Now().Unix()]++
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"ok":true}`)
		}))
		t.Cleanup(srv.Close)
		ps := limitedProcesses(t, be, 2, 16, srv.URL, fmt.Sprintf("rate_limit = \"%d/s\"\nburst = %d", rate, burst))
		ids := make([]string, backlog)
		for i := range ids {
			p := ps[i%2]
			id, err := p.e.Start(context.Background(), p.wf, event(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			ids[i] = id
		}
		for i, id := range ids {
			if r := waitRun(t, ps[i%2].e, id); r.Status != RunSucceeded {
				t.Fatalf("run %d: %s", i, r.Status)
			}
		}
		calls, waits := apiCounts(t, ps)
		if calls != backlog {
			t.Errorf("%v calls admitted, want %d", calls, backlog)
		}
		// Each step past the burst waits once for its turn; a few more may wait again
		// when a busy machine took several late and the bucket let only its burst go.
		// (Woken at the next free slot all together, as before turns, the steps
		// waited some 1,000 times here.)
		if waits > 2*backlog {
			t.Errorf("%v waits for %v calls: a held-back step waited again and again", waits, calls)
		}
		mu.Lock()
		defer mu.Unlock()
		for sec, n := range perSecond {
			if n > rate+burst {
				t.Errorf("%d calls in the second %d, more than the rate and its burst, %d", n, sec, rate+burst)
			}
		}
		t.Logf("%v calls, %v waits", calls, waits)
	})
}

// BenchmarkRateLimitBacklog queues a backlog of runs on two processes sharing a real
// redis-server, every one calling an api limited to 5 calls a second, as serve does
// (128 workers each), and reads Redis's work from the 10th call sent to the 30th, once
// every step of the backlog was held back once: commands per second (INFO stats
// total_commands_processed) and per call, and the waits of the limit
// (hookflow_api_waits_total) per call. Run it with -benchtime 1x: each iteration takes
// 6 seconds and more.
func BenchmarkRateLimitBacklog(b *testing.B) {
	const from, to = 10, 30
	for _, backlog := range []int{100, 200, 1000} {
		b.Run(strconv.Itoa(backlog), func(b *testing.B) {
			for range b.N {
				be := redistest.Real(b)
				var sent atomic.Int64
				marks := map[int64]chan struct{}{from: make(chan struct{}), to: make(chan struct{})}
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if c := marks[sent.Add(1)]; c != nil {
						close(c)
					}
					w.Header().Set("Content-Type", "application/json")
					_, _ = io.WriteString(w, `{"ok":true}`)
				}))
				ps := limitedProcesses(b, be, 2, 128, srv.URL, `rate_limit = "5/s"`)
				for i := range backlog {
					p := ps[i%2]
					if _, err := p.e.Start(context.Background(), p.wf, event(`{}`)); err != nil {
						b.Fatal(err)
					}
				}
				mark := func(n int64) (time.Time, float64, float64) {
					select {
					case <-marks[n]:
					case <-time.After(time.Minute):
						b.Fatalf("%d calls sent after a minute, waiting for %d", sent.Load(), n)
					}
					cmds := totalCommands(b, be)
					_, waits := apiCounts(b, ps)
					return time.Now(), cmds, waits
				}
				t0, cmds0, waits0 := mark(from)
				t1, cmds1, waits1 := mark(to)
				elapsed := t1.Sub(t0).Seconds()
				b.ReportMetric((cmds1-cmds0)/elapsed, "cmds/s")
				b.ReportMetric((cmds1-cmds0)/(to-from), "cmds/call")
				b.ReportMetric((waits1-waits0)/(to-from), "waits/call")
				b.ReportMetric(waits1, "waits")
				srv.Close()
			}
		})
	}
}

// totalCommands is INFO stats total_commands_processed.
func totalCommands(t testing.TB, be *redistest.Backend) float64 {
	t.Helper()
	info, err := be.Client.Info(context.Background(), "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_commands_processed:"); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return n
		}
	}
	t.Fatal("INFO stats has no total_commands_processed")
	return 0
}

// A step the rate limit holds back past its run's timeout fails at the deadline, not
// when its turn comes: six runs of a workflow with a timeout of 1.5s call an api that
// allows one call a second, so the last ones' turns come 4 and 5 seconds on.
func TestRateLimitTurnPastTheRunsTimeout(t *testing.T) {
	redistest.Each(t, func(t *testing.T, be *redistest.Backend) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"ok":true}`)
		}))
		t.Cleanup(srv.Close)
		src := fmt.Sprintf(`
api "crm" {
  base_url   = "%s"
  rate_limit = "1/s"
  burst      = 1
}
workflow "short" {
  timeout = "1500ms"
  step "http" "call" {
    api = "crm"
    url = "/customers"
  }
}`, srv.URL)
		e, set := pagesEngine(t, be, src)
		p := e.NewPool(8)
		p.Start()
		t.Cleanup(func() { p.Stop(context.Background()) })
		ids := make([]string, 6)
		for i := range ids {
			id, err := e.Start(context.Background(), set.Workflow("short"), event(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			ids[i] = id
		}
		timedOut := 0
		for _, id := range ids {
			r := waitRun(t, e, id)
			if r.Status != RunFailed {
				continue
			}
			timedOut++
			if !strings.Contains(r.Error, "run timed out: its timeout of 1.5s passed") {
				t.Errorf("run %s failed with %q", id, r.Error)
			}
			// Its deadline is 1.5s after it was created; the turns of the last runs
			// come 4 and 5 seconds on.
			if took := r.FinishedAt.Sub(r.CreatedAt); took > 3500*time.Millisecond {
				t.Errorf("run %s failed %s after it was created, at its turn rather than its deadline", id, took)
			}
		}
		if timedOut < 3 {
			t.Errorf("%d runs timed out, want the runs whose turns come after their deadline (at least 3 of 6)", timedOut)
		}
	})
}
