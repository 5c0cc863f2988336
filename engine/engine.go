// Package engine executes runs: it queues them in Redis, leases their steps to workers,
// runs the steps' actions and records every result.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/id"
	"github.com/hookflow/hookflow/workflows"
)

// Options configure an Engine. Zero values take the defaults.
type Options struct {
	// Shards splits the queue's keys into this many Redis Cluster slots. Every process
	// sharing a Redis must use the same number (AgreeShards). Default 1.
	Shards int
	// RedisMode names how rdb reaches Redis (RedisStandalone, RedisSentinel, ...) for
	// Engine.Redis; a cluster client is told apart by its type. Default standalone.
	RedisMode string
	// WaitReplicas is how many replicas must acknowledge a run's start (Redis WAIT)
	// before Start returns; when fewer do within WaitTimeout, Start returns an error,
	// though the primary has the run. 0: none, Start returns once the primary has it.
	WaitReplicas int
	// WaitTimeout bounds that wait. Default 1s.
	WaitTimeout time.Duration
	// Lease is how long a step stays a worker's without a heartbeat: a worker that dies
	// loses its steps to others after this long. Heartbeats extend it every third of it,
	// so steps may run longer. Default 30s; one shorter than minLease is minLease.
	Lease time.Duration
	// Retention is how long a finished run and a dead letter stay readable. Default 7 days.
	Retention time.Duration
	// KeepRuns caps how many finished runs (succeeded, failed or cancelled) are kept:
	// past it, the oldest are dropped with their keys and dead letters, however young.
	// Unfinished runs are never dropped. Each shard keeps its share. 0: no cap, runs
	// are kept for the retention.
	KeepRuns int
	// KeepHeap, with KeepRuns, is a budget of this process's live heap, in bytes, for a
	// Redis that holds the runs in it (the embedded one): while the heap live after a
	// collection is more than KeepHeap over what was live when New was called, fewer
	// finished runs are kept (keepheap.go), however large each is. 0: none, KeepRuns
	// alone caps them.
	KeepHeap uint64
	// MaxQueued is how many runs may be unfinished (queued, waiting or running) before
	// starts are refused with ErrBusy. 0: no limit.
	MaxQueued int
	// Kinds builds workflow versions this process never loaded from their sources in
	// Redis. Without it, a run of such a version fails.
	Kinds  *workflows.Kinds
	Logger *slog.Logger
	// Metrics registers the engine's Prometheus metrics: runs started, finished and
	// replayed, step durations, and the queue's depth read from Redis at each scrape.
	// nil: no metrics.
	Metrics prometheus.Registerer
	// ResumeBase is what the URLs resume_url gives start with, a token following: the
	// public listener's address as the senders of resumes reach it, and the path it
	// serves them under. Default DefaultResumeBase.
	ResumeBase string
	// Child, when set, is asked first by each unit of a workflow step, before it starts
	// or reads its child run: with stubbed true, the step settles at once with
	// {run_id, result} (or fails with err), and no child starts. hookflow test answers
	// the workflow steps a test mocks this way, and learns the ids of the children it
	// runs for real. nil: every workflow step runs its child.
	Child func(ctx context.Context, call ChildCall) (result any, stubbed bool, err error)
	// VirtualTime makes delays, the waits between retries and wait steps that time
	// out take no time, each run counting instead the time they would take, to fail
	// at its timeout as serve would (see virtualtime.go). For hookflow test: every unit
	// of a run must execute in this process, and wait steps must be answered there
	// (actions.Options.LocalResumes). false: the wall clock, as serve keeps it.
	VirtualTime bool
	// KeepSensitive keeps the raw outputs of a run's sensitive steps (and the copies
	// that go with them) when the run succeeds, as a run that fails keeps them, instead
	// of forgetting them in the commit that ends it. They are still shown as
	// [sensitive]; StepValues reads them as the later steps did. For hookflow test,
	// whose expects compare a step's output as a later step reads it, on an embedded
	// Redis that ends with the test. false: a run forgets them when it succeeds, as
	// serve's do.
	KeepSensitive bool
}

// ChildCall is a unit of a workflow step about to run its child: the step's run and
// name, the item's key for an item of a for_each step ("" otherwise), and the child's
// run id (<run>:<step>[:<each.key>]).
type ChildCall struct {
	Run, Step, Key, ChildID string
}

// Engine starts runs and reads them back; a Pool executes them.
type Engine struct {
	q         *queue
	redisMode string
	log       *slog.Logger
	versions  *versions
	waiters   waiters
	metrics   *metrics // nil: none
	child     func(ctx context.Context, call ChildCall) (any, bool, error)
	// local is the pool this process executes steps with, while it runs: a run started
	// here has its first step run by it when it has a worker free.
	local atomic.Pointer[Pool]
	// resumeBase is Options.ResumeBase.
	resumeBase string
	clock      *virtualClock // with Options.VirtualTime; nil for the wall clock
	// now is this process's clock, which a worker reads a run's deadline by (Redis's
	// decides a wait's, park.lua): time.Now, set apart from Redis's by tests of skew.
	now  func() time.Time
	keys resumeKeys
	// health checks a Redis Cluster's primaries for Ping and Redis; nil on a single Redis.
	health *clusterHealth
	// replicas counts the replicas online of the primaries, for Ready and Redis; nil
	// when starts wait for none.
	replicas *clusterHealth
	// refused keeps the last start Redis refused, for Ready and Redis.
	refused *refusals
	// limits are the concurrency limits to put in force (useLimits), under limitsMu.
	limitsMu sync.Mutex
	limits   limits
	// events keeps the large events of runs this process runs units of, decoded.
	events *eventCache
}

// sourceTTL is how long a version's source stays in Redis after a process last stored
// it (at most a day after it last started a run of it): longer than the longest delay
// a run may wait, plus the retention.
const sourceTTL = 366 * 24 * time.Hour

// minLease is the shortest lease: Redis takes it in whole milliseconds, and heartbeats
// go every third of it. A shorter one would be none (every worker would lease a step
// at once) or a heartbeat with no interval (time.NewTicker panics).
const minLease = 3 * time.Millisecond

// New returns an engine on rdb.
func New(rdb redis.UniversalClient, o Options) *Engine {
	if o.Shards <= 0 {
		o.Shards = 1
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	o.Lease = max(o.Lease, minLease)
	if o.Retention <= 0 {
		o.Retention = 7 * 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.RedisMode == "" {
		o.RedisMode = RedisStandalone
	}
	if o.WaitTimeout <= 0 {
		o.WaitTimeout = time.Second
	}
	q := &queue{waitReplicas: o.WaitReplicas, rdb: rdb, leaseFor: o.Lease, retention: o.Retention,
		leaseArg: o.Lease.Milliseconds(), retentionArg: o.Retention.Milliseconds(),
		keepBatch: keepBatch, keepGrace: keepGrace, childGrace: childGrace, tombGrace: o.Lease,
		keepSensitive: o.KeepSensitive, virtual: o.VirtualTime}
	if o.RedisMode == RedisEmbedded {
		q.keepGrace = keepGraceEmbedded
	}
	if o.MaxQueued > 0 {
		q.maxOpen = max(o.MaxQueued/o.Shards, 1) // each shard takes its share
	}
	if o.KeepRuns > 0 {
		q.keep = max(o.KeepRuns/o.Shards, 1) // each shard keeps its share
		if o.KeepHeap > 0 {
			q.heap = newHeapCap(o.KeepHeap, q.keep, readHeap)
		}
	}
	for i := range o.Shards {
		sh := newShard(i)
		sh.calls = newPipeliner(rdb)
		if o.WaitReplicas > 0 {
			sh.waiting = newBatcher(rdb, startScript, o.WaitReplicas, o.WaitTimeout)
		}
		q.shards = append(q.shards, sh)
	}
	q.metrics = newMetrics(o.Metrics, q)
	vs := &versions{rdb: rdb, shards: o.Shards, kinds: o.Kinds, ttl: sourceTTL + o.Retention, log: o.Logger,
		byKey: map[string]*version{}}
	if o.ResumeBase == "" {
		o.ResumeBase = DefaultResumeBase
	}
	e := &Engine{q: q, redisMode: o.RedisMode, log: o.Logger, versions: vs, metrics: q.metrics, child: o.Child,
		resumeBase: o.ResumeBase, now: time.Now, events: newEventCache(eventCacheRuns, eventCacheBytes)}
	if o.VirtualTime {
		e.clock = newVirtualClock()
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		e.health = newClusterHealth(cc, len(q.shards))
	}
	e.refused = newRefusals(rdb, q.shards)
	if o.WaitReplicas > 0 && o.RedisMode != RedisEmbedded {
		e.replicas = newReplicasCheck(rdb, q.shards, o.WaitReplicas)
	}
	return e
}

// Use makes the workflows of set runnable, and their versions the current ones: those
// a replay with ReplayOptions.Current goes on with. Versions loaded before stay
// runnable, so a run keeps the definition it started with when a file changes.
func (e *Engine) Use(set *workflows.Set) {
	if limits := e.versions.use(set.Workflows()); len(limits) > 0 {
		e.putLimits(limits)
	}
}

// Start queues a run of wf for ev and returns its id. When Start returns nil the run
// is in Redis: a worker will execute it even if this process stops now. When starts
// wait for replicas and too few acknowledged the run, the error is ErrNotReplicated
// and the id is the run's, stored on the primary. When Redis did not answer
// a start it was sent, the error is ErrOutcomeUnknown and the id the run's, if Redis
// took it.
func (e *Engine) Start(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event) (string, error) {
	id, _, err := e.start(ctx, wf, ev, "", nil, "")
	return id, err
}

// StartAs is Start with the run's id chosen by the caller, who must know it before the
// run's first step runs (hookflow test answers a run's requests, and its children's,
// by it). An id that has a run already starts nothing.
func (e *Engine) StartAs(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event, runID string) error {
	_, _, err := e.start(ctx, wf, ev, "", nil, runID)
	return err
}

// StartOnce is Start for an event that may come again, such as a webhook its sender
// retries: the first start of key within window starts a run, and a start of the same
// key within the window starts none and returns the first run's id, with first false.
// It holds across every process sharing the Redis.
func (e *Engine) StartOnce(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event, key string, window time.Duration) (id string, first bool, err error) {
	return e.start(ctx, wf, ev, "", &dedupe{key: key, window: window}, "")
}

// StartFailed records a run of wf for ev that failed before its first step, such as
// one whose filter could not be evaluated on ev. The event is kept with the run, so
// nothing that was accepted is lost. The run's error, and the log line, are reason
// with wf's secrets and the values of ev's credential fields [redacted].
func (e *Engine) StartFailed(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event, reason string) (string, error) {
	id, _, err := e.start(ctx, wf, ev, reason, nil, "")
	return id, err
}

// start starts a run; runID is its id, or "" for a new one.
func (e *Engine) start(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event, failure string, d *dedupe, runID string) (string, bool, error) {
	return e.startShown(ctx, wf, ev, nil, failure, d, runID)
}

// startShown is start for an event with a shown form (see queue.startOnce).
func (e *Engine) startShown(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event, shown []byte, failure string, d *dedupe, runID string) (string, bool, error) {
	v := e.versions.add(wf)
	if err := e.versions.store(ctx, v); err != nil {
		// The start is not sent: refused or not, it is not stored.
		if why := Refusal(err); why != "" {
			err = &RefusedError{Reason: why, err: err}
			e.refused.saw(err)
		}
		return "", false, err
	}
	secrets := wf.Secrets // the caller's: a version's secrets may have been rotated since
	wf = v.wf             // the same content; one per version, which the queue keeps its first plan by
	data, err := ev.Encode()
	if err != nil {
		return "", false, fmt.Errorf("encoding event: %w", err)
	}
	if runID == "" {
		runID = id.New()
	}
	if failure != "" {
		// A filter's error may quote the event: its credential values are hidden as
		// the run's steps hide them.
		failure = secrets.PlusCredentials(ev.Value()).String(failure)
	}
	// With a worker of this process taken for the run's first job. Not when starts wait
	// for replicas: a start they fail is answered 503 though the run is stored, and its
	// first job must then be queued for any worker, not leased to this caller.
	var p *Pool
	if failure == "" && e.q.waitReplicas == 0 {
		if p = e.local.Load(); p != nil && !p.take() {
			p = nil
		}
	}
	got, first, err := e.q.startOnce(ctx, runID, wf, data, shown, failure, d, p != nil)
	e.refused.saw(err)
	switch {
	case first != nil:
		// Its worker reads the event from ev, or, when ev cannot be read as stored,
		// decodes it from the run's copy.
		if first.event = ev.AsStored(); first.event == nil {
			first.run["event"] = string(data)
		}
		p.runTaken(first)
	case p != nil:
		p.giveBack()
	}
	maybe := errors.Is(err, ErrOutcomeUnknown)
	if err != nil && !maybe && !errors.Is(err, ErrNotReplicated) {
		return "", false, fmt.Errorf("queueing run of %s: %w", wf.Name, err)
	}
	// The primary has it (or may): it runs unless the primary is lost first, and its
	// end is counted. So its start is: one too few replicas acknowledged is stored;
	// one Redis did not answer is counted as stored, so that no end is counted without
	// its start (hookflow_runs_started_total's help).
	if got == runID {
		e.started(wf, runID, ev.Trigger, failure, maybe)
	}
	if err != nil {
		return got, false, fmt.Errorf("queueing run of %s: %w", wf.Name, err)
	}
	return got, got == runID, nil
}

// started counts a run stored, and the end of one that ends as it starts: with a
// failure, or with no step to run. maybe says that Redis did not answer the start: its
// run finished line says so (stored=unknown).
func (e *Engine) started(wf *workflows.Workflow, runID, trigger, failure string, maybe bool) {
	e.metrics.runStarted(wf.Name, trigger)
	var extra []slog.Attr
	if maybe {
		extra = []slog.Attr{slog.String("stored", "unknown")}
	}
	switch {
	case failure != "":
		e.metrics.runFinished(wf.Name, string(RunFailed))
		logFinished(e.log, runID, wf.Name, RunFailed, 0, failure, "", extra...)
	case len(wf.Steps) == 0:
		e.metrics.runFinished(wf.Name, string(RunSucceeded)) // nothing to run: it ends as it starts
		logFinished(e.log, runID, wf.Name, RunSucceeded, 0, "", "", extra...)
	}
}

// Ping checks that Redis answers. On a Redis Cluster, that is every primary of its slot
// map answering and saying cluster_state:ok, and every shard's slot having a primary
// that is not migrating it, as a check at most a second old found (clusterProbe): any
// node answers a PING while the cluster refuses the commands of slots it has lost.
func (e *Engine) Ping(ctx context.Context) error {
	if e.health != nil {
		_, err := e.health.check(ctx)
		return err
	}
	return e.q.rdb.Ping(ctx).Err()
}

// Ready checks that the engine can start runs: Ping, and, when starts wait for
// replicas (Options.WaitReplicas), that the primary of every shard has that many
// online, as a check at most a second old found (INFO replication); else every start
// is refused, ErrFewReplicas says so and how many there are. After Redis refused a
// start (ErrRefused: out of memory, an ACL), and until a start succeeds, it also makes
// a start's first write and undoes it, on each shard, at most once a second:
// ErrStartsRefused says why while Redis refuses it.
func (e *Engine) Ready(ctx context.Context) error {
	if err := e.Ping(ctx); err != nil {
		return err
	}
	if e.replicas != nil {
		if _, err := e.replicas.check(ctx); err != nil {
			return err
		}
	}
	return e.refused.ready(ctx)
}
