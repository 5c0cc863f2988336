package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// metrics are the engine's Prometheus metrics. A nil *metrics records nothing: an
// engine without Options.Metrics has none.
//
// Labels hold names from the workflow files (workflow, step, step kind) and small
// fixed sets (trigger, status, outcome, state); never event data, which could carry
// anything, secrets included.
type metrics struct {
	started  children[[2]string, prometheus.Counter]  // workflow, trigger
	finished children[[2]string, prometheus.Counter]  // workflow, status
	replayed children[[1]string, prometheus.Counter]  // workflow
	steps    children[[4]string, prometheus.Observer] // workflow, step, kind, outcome
}

// stepBuckets are for steps that call APIs: from 5ms to a minute.
var stepBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

func newMetrics(reg prometheus.Registerer, q *queue) *metrics {
	if reg == nil {
		return nil
	}
	started := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hookflow_runs_started_total",
		Help: "Runs this process started, by workflow and by what started them: a trigger kind (webhook, schedule, poll), manual (by hand), or workflow (a child run). A start stored on the primary but acknowledged by too few replicas counts (its run runs), and so does one Redis did not answer, as it may have stored it: its end counts if it runs."},
		[]string{"workflow", "trigger"})
	finished := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hookflow_runs_finished_total",
		Help: "Runs that ended, by workflow and status (succeeded, failed, cancelled), counted by the process that ended them. A replayed run counts again when it ends again."},
		[]string{"workflow", "status"})
	replayed := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hookflow_runs_replayed_total",
		Help: "Failed runs queued again (a replay, or a dead letter retried) by this process, by workflow."},
		[]string{"workflow"})
	steps := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hookflow_step_duration_seconds",
		Help:    "How long each attempt of a step took in this process, by workflow, step, step kind and outcome (succeeded, failed, or retrying: it failed and runs again), counted once its outcome is stored. Skipped steps are not counted. A wait or delay step is counted at its end (a delay with the time it held its run), not when its run is cancelled during it.",
		Buckets: stepBuckets},
		[]string{"workflow", "step", "kind", "outcome"})
	reg.MustRegister(started, finished, replayed, steps, &queueCollector{q: q})
	return &metrics{
		started:  newChildren(started.WithLabelValues, func(k [2]string) []string { return k[:] }),
		finished: newChildren(finished.WithLabelValues, func(k [2]string) []string { return k[:] }),
		replayed: newChildren(replayed.WithLabelValues, func(k [1]string) []string { return k[:] }),
		steps:    newChildren(steps.WithLabelValues, func(k [4]string) []string { return k[:] }),
	}
}

// runStarted counts a run started. trigger is its event's, which hookflow sets, never
// a sender: the name of a trigger kind (webhook, schedule, poll), manual, or workflow
// for a child run. It takes no list of kinds, so a new kind needs no change here.
func (m *metrics) runStarted(workflow, trigger string) {
	if m != nil {
		m.started.get([2]string{workflow, trigger}).Inc()
	}
}

func (m *metrics) runFinished(workflow, status string) {
	if m != nil {
		m.finished.get([2]string{workflow, status}).Inc()
	}
}

func (m *metrics) runReplayed(workflow string) {
	if m != nil {
		m.replayed.get([1]string{workflow}).Inc()
	}
}

func (m *metrics) stepDone(workflow, step, kind, outcome string, d time.Duration) {
	if m != nil {
		m.steps.get([4]string{workflow, step, kind, outcome}).Observe(d.Seconds())
	}
}

// children caches the children of a metric vector by their label values, so that a
// hot path neither allocates a list of them nor has the vector hash and check them.
type children[K comparable, M any] struct {
	with   func(...string) M // the vector's WithLabelValues
	labels func(K) []string
	mu     sync.RWMutex
	m      map[K]M
}

func newChildren[K comparable, M any](with func(...string) M, labels func(K) []string) children[K, M] {
	return children[K, M]{with: with, labels: labels, m: map[K]M{}}
}

func (c *children[K, M]) get(k K) M {
	c.mu.RLock()
	x, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return x
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if x, ok = c.m[k]; !ok {
		x = c.with(c.labels(k)...)
		c.m[k] = x
	}
	return x
}

// scrapeTimeout bounds the reads of one scrape: a Redis that does not answer makes
// hookflow_redis_up 0 rather than a scrape that hangs.
const scrapeTimeout = time.Second

var (
	queueDepthDesc = prometheus.NewDesc("hookflow_queue_depth",
		"Jobs in the queue, in the shared Redis (every process reports the same), by state: ready (due now, not yet taken), scheduled (due later: retries and delays), running (leased to a worker), waiting (first steps of runs waiting for a concurrency slot).",
		[]string{"state"}, nil)
	queueLagDesc = prometheus.NewDesc("hookflow_queue_lag_seconds",
		"How long the oldest ready job has been due without a worker taking it; 0 when none is ready.", nil, nil)
	deadLettersDesc = prometheus.NewDesc("hookflow_dead_letters",
		"Dead letters kept: jobs that failed their run, until replayed or past the retention.", nil, nil)
	unfinishedDesc = prometheus.NewDesc("hookflow_runs_unfinished",
		"Runs started and not finished (queued, waiting or running); starts are refused past --max-queued.", nil, nil)
	redisUpDesc = prometheus.NewDesc("hookflow_redis_up",
		"1 when this scrape read the queue from Redis, 0 when Redis did not answer (the queue metrics are then missing).", nil, nil)
)

// queueCollector reads the queue's depth from Redis at each scrape: one script call
// per shard, pipelined, changing nothing.
type queueCollector struct{ q *queue }

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{queueDepthDesc, queueLagDesc, deadLettersDesc, unfinishedDesc, redisUpDesc} {
		ch <- d
	}
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	st, err := c.q.stats(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(redisUpDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(redisUpDesc, prometheus.GaugeValue, 1)
	for state, n := range map[string]int64{"ready": st.ready, "scheduled": st.scheduled, "running": st.running, "waiting": st.waiting} {
		ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(n), state)
	}
	ch <- prometheus.MustNewConstMetric(queueLagDesc, prometheus.GaugeValue, st.lag.Seconds())
	ch <- prometheus.MustNewConstMetric(deadLettersDesc, prometheus.GaugeValue, float64(st.dead))
	ch <- prometheus.MustNewConstMetric(unfinishedDesc, prometheus.GaugeValue, float64(st.unfinished))
}

// queueStats is the queue's state summed over its shards.
type queueStats struct {
	ready, scheduled, running, waiting, dead, unfinished int64
	lag                                                  time.Duration // of the oldest ready job of any shard
}

// stats reads every shard's state in one round trip.
func (q *queue) stats(ctx context.Context) (queueStats, error) {
	pipe := q.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(q.shards))
	for i, sh := range q.shards {
		// Eval, not EvalSha: a pipeline cannot fall back when Redis lost its script cache.
		cmds[i] = statsScript.Eval(ctx, pipe, []string{sh.due(), sh.leases(), sh.dead(), sh.workflows(), sh.open()},
			sh.prefix, q.retentionArg)
	}
	var st queueStats
	if _, err := pipe.Exec(ctx); err != nil {
		return st, err
	}
	for _, c := range cmds {
		v, err := c.Int64Slice()
		if err != nil {
			return st, err
		}
		if len(v) != 7 {
			return st, fmt.Errorf("queue stats: unexpected reply %v", v)
		}
		st.ready += v[0]
		st.scheduled += v[1]
		st.running += v[2]
		st.waiting += v[3]
		st.dead += v[4]
		st.unfinished += max(v[5], 0)
		st.lag = max(st.lag, time.Duration(v[6])*time.Millisecond)
	}
	return st, nil
}
