package engine

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hookflow/hookflow/internal/metricstest"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

const metricsSrc = chainSrc + failSrc + `
workflow "flaky" {
  step "probe" "call" {
    value = "x"
    fail  = true
    retry {
      attempts = 3
      initial  = "10ms"
    }
  }
}

workflow "empty" {
}
`

func wantSeries(t *testing.T, reg prometheus.Gatherer, name string, want map[string]float64) {
	t.Helper()
	if got := metricstest.Series(t, reg, name); !maps.Equal(got, want) {
		t.Errorf("%s:\n got %v\nwant %v", name, got, want)
	}
}

// Runs started, finished and replayed, and each step attempt's duration, counted as
// real runs go through the queue.
func TestRunAndStepMetrics(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		reg := prometheus.NewRegistry()
		rec := &recorder{}
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Metrics: reg})
		set := loadSet(t, rec, metricsSrc)
		e.Use(set)
		p := startPool(t, e, 4)

		hook := event(`{"name": "Ada"}`)
		hook.Trigger = "webhook"
		var ids []string
		for _, s := range []struct {
			wf   string
			ev   func() (string, error)
			want string
		}{
			{"chain", func() (string, error) { return e.Start(ctx, set.Workflow("chain"), event(`{"name": "Ada"}`)) }, "succeeded"},
			{"chain", func() (string, error) { return e.Start(ctx, set.Workflow("chain"), hook) }, "succeeded"},
			{"fails", func() (string, error) { return e.Start(ctx, set.Workflow("fails"), event(`{}`)) }, "failed"},
			{"continues", func() (string, error) { return e.Start(ctx, set.Workflow("continues"), event(`{}`)) }, "succeeded"},
			{"flaky", func() (string, error) { return e.Start(ctx, set.Workflow("flaky"), event(`{}`)) }, "failed"},
			{"empty", func() (string, error) { return e.Start(ctx, set.Workflow("empty"), event(`{}`)) }, "succeeded"},
			{"chain", func() (string, error) { return e.StartFailed(ctx, set.Workflow("chain"), hook, "filter: no") }, "failed"},
			{"chain", func() (string, error) {
				id, _, err := e.StartOnce(ctx, set.Workflow("chain"), hook, "delivery-1", time.Hour)
				return id, err
			}, "succeeded"},
		} {
			id, err := s.ev()
			if err != nil {
				t.Fatal(err)
			}
			if r := waitRun(t, e, id); string(r.Status) != s.want {
				t.Fatalf("%s run %s, want %s", s.wf, r.Status, s.want)
			}
			ids = append(ids, id)
		}
		// A delivery seen already starts no run, and counts none.
		if _, first, err := e.StartOnce(ctx, set.Workflow("chain"), hook, "delivery-1", time.Hour); err != nil || first {
			t.Fatalf("a repeated delivery: first %v, %v", first, err)
		}
		// The failed run replayed fails again: replayed once, finished twice.
		if _, err := e.Replay(ctx, ids[2], ReplayOptions{}); err != nil {
			t.Fatal(err)
		}
		waitRun(t, e, ids[2])
		if err := p.Stop(ctx); err != nil { // every step done and counted
			t.Fatal(err)
		}

		wantSeries(t, reg, "hookflow_runs_started_total", map[string]float64{
			"trigger=manual,workflow=chain":     1,
			"trigger=webhook,workflow=chain":    3,
			"trigger=manual,workflow=fails":     1,
			"trigger=manual,workflow=continues": 1,
			"trigger=manual,workflow=flaky":     1,
			"trigger=manual,workflow=empty":     1,
		})
		wantSeries(t, reg, "hookflow_runs_finished_total", map[string]float64{
			"status=succeeded,workflow=chain":     3,
			"status=failed,workflow=chain":        1, // its filter failed: it ends as it starts
			"status=failed,workflow=fails":        2,
			"status=succeeded,workflow=continues": 1,
			"status=failed,workflow=flaky":        1,
			"status=succeeded,workflow=empty":     1,
		})
		wantSeries(t, reg, "hookflow_runs_replayed_total", map[string]float64{"workflow=fails": 1})
		// Observations per series; the skipped third step of chain is not one.
		wantSeries(t, reg, "hookflow_step_duration_seconds", map[string]float64{
			"kind=probe,outcome=succeeded,step=first,workflow=chain":  3,
			"kind=probe,outcome=succeeded,step=second,workflow=chain": 3,
			"kind=probe,outcome=failed,step=a,workflow=fails":         2,
			"kind=probe,outcome=failed,step=a,workflow=continues":     1,
			"kind=probe,outcome=succeeded,step=b,workflow=continues":  1,
			"kind=probe,outcome=retrying,step=call,workflow=flaky":    2,
			"kind=probe,outcome=failed,step=call,workflow=flaky":      1,
		})
		checkBuckets(t, reg)
		metricstest.Lint(t, reg)
	})
}

// checkBuckets: the step histograms count from 5ms to a minute.
func checkBuckets(t *testing.T, g prometheus.Gatherer) {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "hookflow_step_duration_seconds" {
			continue
		}
		var bounds []float64
		for _, b := range f.GetMetric()[0].GetHistogram().GetBucket() {
			bounds = append(bounds, b.GetUpperBound())
		}
		if !slices.Equal(bounds, stepBuckets) || bounds[0] != 0.005 || bounds[len(bounds)-1] != 60 {
			t.Errorf("buckets %v", bounds)
		}
		return
	}
	t.Error("no step durations")
}

// hookflow_dead_letters counts the dead letters kept: one past the retention, whose job
// has expired and which hookflow dlq no longer lists, is not counted, though its entry
// waits for the next trim.
func TestDeadLettersPastTheRetention(t *testing.T) {
	b := redistest.Real(t)
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	e := New(b.Client, Options{Logger: quiet, Metrics: reg, Retention: time.Second})
	set := loadSet(t, &recorder{}, chainSrc)
	e.Use(set)
	if _, err := e.Start(ctx, set.Workflow("chain"), event(`{}`)); err != nil {
		t.Fatal(err)
	}
	sh := e.q.shardFor("chain")
	jobs, _, err := e.q.lease(ctx, sh, 1)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("leased %d, %v", len(jobs), err)
	}
	if _, err := e.q.complete(ctx, commit{job: jobs[0], runID: jobs[0].run["id"], wf: &workflows.Workflow{Name: "chain"},
		record: &Record{Status: StatusFailed}, plan: &Plan{Status: RunFailed, Error: "step first: no"}, dead: true}); err != nil {
		t.Fatal(err)
	}
	dead := func() float64 { return metricstest.Series(t, reg, "hookflow_dead_letters")[""] }
	if n := dead(); n != 1 {
		t.Fatalf("%v dead letters, want 1", n)
	}
	testutil.Eventually(t, 10*time.Second, "the dead letter past the retention uncounted", func() bool { return dead() == 0 })
	if n := b.Client.ZCard(ctx, sh.dead()).Val(); n != 1 {
		t.Errorf("the dead letters' index holds %d, want the 1 the trim has not removed yet", n)
	}
	page, err := e.DeadLetters(ctx, DeadLetterFilter{})
	if err != nil || len(page.DeadLetters) != 0 {
		t.Errorf("dlq list past the retention: %+v, %v", page, err)
	}
}

// The queue's depth, lag and dead letters, read from Redis at the scrape, against a
// queue in a known state over several shards; and hookflow_redis_up 0, without the
// queue's metrics, once Redis is gone.
func TestQueueMetrics(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		reg := prometheus.NewRegistry()
		e := New(b.Client, Options{Logger: quiet, Metrics: reg, Shards: 4})
		limited := strings.Replace(chainSrc, `workflow "chain" {`, "workflow \"limited\" {\n  concurrency = 1", 1)
		set := loadSet(t, &recorder{}, chainSrc+limited)
		e.Use(set)
		chain := set.Workflow("chain")

		// Five runs of chain; four of their first steps leased.
		for range 5 {
			if _, err := e.Start(ctx, chain, event(`{}`)); err != nil {
				t.Fatal(err)
			}
		}
		sh := e.q.shardFor("chain")
		jobs, _, err := e.q.lease(ctx, sh, 4)
		if err != nil || len(jobs) != 4 {
			t.Fatalf("leased %d, %v", len(jobs), err)
		}
		runOf := func(j *job) string { return j.run["id"] }
		// One retries in an hour: scheduled.
		if err := e.q.retry(ctx, jobs[0], runOf(jobs[0]), "chain", &Record{Status: StatusRetrying}, 0, time.Hour); err != nil {
			t.Fatal(err)
		}
		// One fails its run: a dead letter, and the run is finished.
		if _, err := e.q.complete(ctx, commit{job: jobs[1], runID: runOf(jobs[1]), wf: &workflows.Workflow{Name: "chain"},
			record: &Record{Status: StatusFailed}, plan: &Plan{Status: RunFailed, Error: "step first: no"}, dead: true}); err != nil {
			t.Fatal(err)
		}
		// One stays leased: running. One is queued again, due 90s ago, as if no worker
		// had been free since: the oldest ready job. The fifth is ready too.
		if err := e.q.retry(ctx, jobs[3], runOf(jobs[3]), "chain", &Record{Status: StatusRetrying}, 0, -90*time.Second); err != nil {
			t.Fatal(err)
		}
		// Two runs of a workflow of one run at a time: one ready, one waiting.
		for range 2 {
			if _, err := e.Start(ctx, set.Workflow("limited"), event(`{}`)); err != nil {
				t.Fatal(err)
			}
		}

		want := `
# HELP hookflow_dead_letters Dead letters kept: jobs that failed their run, until replayed or past the retention.
# TYPE hookflow_dead_letters gauge
hookflow_dead_letters 1
# HELP hookflow_queue_depth Jobs in the queue, in the shared Redis (every process reports the same), by state: ready (due now, not yet taken), scheduled (due later: retries and delays), running (leased to a worker), waiting (first steps of runs waiting for a concurrency slot).
# TYPE hookflow_queue_depth gauge
hookflow_queue_depth{state="ready"} 3
hookflow_queue_depth{state="running"} 1
hookflow_queue_depth{state="scheduled"} 1
hookflow_queue_depth{state="waiting"} 1
# HELP hookflow_redis_up 1 when this scrape read the queue from Redis, 0 when Redis did not answer (the queue metrics are then missing).
# TYPE hookflow_redis_up gauge
hookflow_redis_up 1
# HELP hookflow_runs_unfinished Runs started and not finished (queued, waiting or running); starts are refused past --max-queued.
# TYPE hookflow_runs_unfinished gauge
hookflow_runs_unfinished 6
`
		names := []string{"hookflow_dead_letters", "hookflow_queue_depth", "hookflow_redis_up", "hookflow_runs_unfinished"}
		if err := promtest.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
			t.Error(err)
		}
		lag := metricstest.Series(t, reg, "hookflow_queue_lag_seconds")[""]
		if lag < 90 || lag > 100 {
			t.Errorf("lag %vs, want the 90s and a little that the oldest ready job has been due", lag)
		}
		// Reading changed nothing: the three ready jobs are still there to lease.
		if n := promtest.CollectAndCount(&queueCollector{q: e.q}); n != 8 {
			t.Errorf("%d series from the collector, want 8", n)
		}
		leased := 0
		for _, s := range e.q.shards {
			got, _, err := e.q.lease(ctx, s, 10)
			if err != nil {
				t.Fatal(err)
			}
			leased += len(got)
		}
		if leased != 3 {
			t.Errorf("leased %d jobs after the scrapes, want the 3 ready", leased)
		}

		if b.Stop == nil {
			return // the shared cluster stays up for the other tests
		}
		b.Stop()
		start := time.Now()
		want = `
# HELP hookflow_redis_up 1 when this scrape read the queue from Redis, 0 when Redis did not answer (the queue metrics are then missing).
# TYPE hookflow_redis_up gauge
hookflow_redis_up 0
`
		if err := promtest.GatherAndCompare(reg, strings.NewReader(want), append(names, "hookflow_queue_lag_seconds")...); err != nil {
			t.Error(err)
		}
		if d := time.Since(start); d > 2*scrapeTimeout {
			t.Errorf("a scrape with Redis down took %s", d)
		}
	})
}

// A step whose worker keeps crashing fails its run: the worker that leases it once it
// is marked records the failure and counts the run as finished.
func TestRunFailedByCrashesIsCounted(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		reg := prometheus.NewRegistry()
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Lease: 10 * time.Millisecond, Metrics: reg})
		wf := loadSet(t, &recorder{}, chainSrc).Workflow("chain")
		if err := e.q.start(ctx, "run1", wf, []byte(`{}`), ""); err != nil {
			t.Fatal(err)
		}
		sh := e.q.shardFor("chain")
		// Each lease taken and not finished is a worker that "dies": the next lease, once
		// the 10ms lease has expired, takes the job back.
		testutil.Eventually(t, 10*time.Second, "the job marked as crashing", func() bool {
			jobs, _, err := e.q.lease(ctx, sh, 1) // leases, and takes back expired leases
			if err != nil {
				t.Fatal(err)
			}
			if len(jobs) == 1 && jobs[0].crashed != "" {
				e.q.release(ctx, jobs[0], "chain") // for the pool to take
				return true
			}
			return false
		})
		e.Use(loadSet(t, &recorder{}, chainSrc))
		p := startPool(t, e, 1)
		testutil.Eventually(t, 10*time.Second, "the run failed", func() bool {
			return b.Client.HGet(ctx, sh.run("run1"), "status").Val() == "failed"
		})
		if err := p.Stop(ctx); err != nil { // the step done and counted
			t.Fatal(err)
		}
		wantSeries(t, reg, "hookflow_runs_finished_total", map[string]float64{"status=failed,workflow=chain": 1})
	})
}

const delayMetricsSrc = `
workflow "pause" {
  step "delay" "d" {
    duration = "300ms"
  }
  step "probe" "after" {
    value = "x"
  }
}

workflow "tail" {
  step "probe" "before" {
    value = "x"
  }
  step "delay" "d" {
    duration = "300ms"
  }
}

workflow "beside" {
  parallel "p" {
    step "delay" "d" {
      duration = "300ms"
    }
    step "probe" "other" {
      value = "x"
    }
  }
}

workflow "before_block" {
  step "delay" "d" {
    duration = "300ms"
  }
  parallel "p" {
    step "probe" "x" {
      value = "x"
    }
    step "probe" "y" {
      value = "y"
    }
  }
}

workflow "long" {
  step "delay" "d" {
    duration = "1h"
  }
  step "probe" "after" {
    value = "x"
  }
}

workflow "long_tail" {
  step "probe" "before" {
    value = "x"
  }
  step "delay" "d" {
    duration = "1h"
  }
}

workflow "cut" {
  timeout = "500ms"
  step "delay" "d" {
    duration = "1h"
  }
  step "probe" "after" {
    value = "x"
  }
}

workflow "again" {
  step "delay" "d" {
    duration = "300ms"
  }
  step "probe" "after" {
    value = "x"
    fail  = true
  }
}

workflow "waits" {
  step "wait" "w" {
    timeout = "1h"
  }
  step "probe" "after" {
    value = "x"
  }
}
`

// A delay step is recorded in hookflow_step_duration_seconds at its end, with the time
// it held its run, as the run's history shows it: one that holds the run until the
// step after it starts, one that ends its run, one in a parallel block, one before a
// parallel block (once). One whose run is cancelled during it is not recorded, as a
// wait step cancelled while it waits is not.
func TestDelayIsRecordedAtItsEnd(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		reg := prometheus.NewRegistry()
		e, p, set, _ := realKindsEngine(t, b, delayMetricsSrc, Options{Shards: b.Shards, Metrics: reg})
		start := func(wf string) string {
			id, err := e.Start(ctx, set.Workflow(wf), event(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
		var cancel []string
		for _, wf := range []string{"long", "long_tail", "waits"} {
			cancel = append(cancel, start(wf))
		}
		var done []string
		for _, wf := range []string{"pause", "tail", "beside", "before_block"} {
			done = append(done, start(wf))
		}
		for _, id := range done {
			if r := waitRun(t, e, id); r.Status != RunSucceeded {
				t.Fatalf("run %s: %s, %s", id, r.Status, stepsOf(r))
			}
		}
		// A delay the run's timeout cuts fails the run at its deadline, and is recorded
		// failed then.
		if r := waitRun(t, e, start("cut")); r.Status != RunFailed {
			t.Fatalf("the run whose timeout cuts its delay: %s, %s", r.Status, stepsOf(r))
		}
		// A replay runs the step that failed after the delay again, not the delay.
		again := start("again")
		if r := waitRun(t, e, again); r.Status != RunFailed {
			t.Fatalf("again: %s, %s", r.Status, stepsOf(r))
		}
		if _, err := e.Replay(ctx, again, ReplayOptions{}); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, e, again, RunFailed)
		for _, id := range cancel {
			testutil.Eventually(t, 10*time.Second, "run "+id+" waiting at its step", func() bool {
				r, err := e.Run(ctx, id)
				return err == nil && (strings.Contains(stepsOf(r), "d waiting") || strings.Contains(stepsOf(r), "w waiting"))
			})
			if _, err := e.Cancel(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Stop(ctx); err != nil { // a step is counted once its outcome is stored, after its run shows it
			t.Fatal(err)
		}
		got := metricstest.Histograms(t, reg, "hookflow_step_duration_seconds")
		for _, wf := range []string{"pause", "tail", "beside", "before_block"} {
			h := got["kind=delay,outcome=succeeded,step=d,workflow="+wf]
			if h.Count != 1 || h.Sum < 0.3 {
				t.Errorf("the delay of %s: %d observations, %.3f s; want one of its hold, 300ms at least", wf, h.Count, h.Sum)
			}
		}
		if h := got["kind=delay,outcome=failed,step=d,workflow=cut"]; h.Count != 1 || h.Sum < 0.3 {
			t.Errorf("the delay cut by the run's timeout: %d observations, %.3f s; want one, failed, of its hold to the deadline", h.Count, h.Sum)
		}
		if h := got["kind=delay,outcome=succeeded,step=d,workflow=again"]; h.Count != 1 || h.Sum < 0.3 {
			t.Errorf("the delay before a step replayed: %d observations, %.3f s; want one", h.Count, h.Sum)
		}
		for series := range got {
			for _, wf := range []string{"long", "long_tail", "waits"} {
				if strings.HasSuffix(series, "workflow="+wf) && !strings.Contains(series, "step=before") {
					t.Errorf("%s recorded, though its run was cancelled during it", series)
				}
			}
		}
	})
}
