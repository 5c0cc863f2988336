package engine

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hookflow/hookflow/workflows"
	"github.com/redis/go-redis/v9"
)

//go:embed scripts/*.lua
var scriptFiles embed.FS

// script loads a script with the shared functions of lib.lua in front of it.
func script(name string) *redis.Script {
	lib, err := scriptFiles.ReadFile("scripts/lib.lua")
	if err != nil {
		panic(err)
	}
	src, err := scriptFiles.ReadFile("scripts/" + name)
	if err != nil {
		panic(err)
	}
	return redis.NewScript(string(lib) + "\n" + string(src))
}

var (
	startScript     = script("start.lua")
	leaseScript     = script("lease.lua")
	completeScript  = script("complete.lua")
	heartbeatScript = script("heartbeat.lua")
	releaseScript   = script("release.lua")
	retryScript     = script("retry.lua")
	replayScript    = script("replay.lua")
)

// maxReaps is how many times in a row a job's lease may expire before its run fails: a
// step that crashes every worker that runs it must not crash them forever.
const maxReaps = 5

// errStaleLease is returned when a commit carries a token that is no longer the job's:
// the lease expired and the job was handed to someone else, or it was committed already.
var errStaleLease = errors.New("lease is no longer held")

// queue is the Redis side of the engine: every state change is one script call.
type queue struct {
	rdb       redis.UniversalClient
	shards    []*shard
	leaseFor  time.Duration
	retention time.Duration
	maxOpen   int      // unfinished runs a shard takes; 0: no limit
	metrics   *metrics // nil: none
}

// ErrBusy is returned by a start refused because too many runs are unfinished: the
// workers are behind, and the sender should come back later.
var ErrBusy error = busyError{}

type busyError struct{}

func (busyError) Error() string { return "too many runs are waiting; try again later" }

// Busy tells a caller that does not import the engine (the webhook receiver) that the
// start was refused for overload, not for a failure of Redis.
func (busyError) Busy() bool { return true }

func (q *queue) shardFor(workflow string) *shard {
	return q.shards[shardOf(workflow, len(q.shards))]
}

// start creates a run and queues its first step, or puts the run in line for one of its
// workflow's concurrency slots. Calling it again with the same run id changes nothing.
// A run with a failure recorded fails at once, running no step.
func (q *queue) start(ctx context.Context, runID string, wf *workflows.Workflow, event []byte, failure string) error {
	_, err := q.startOnce(ctx, runID, wf, event, failure, nil)
	return err
}

// dedupe makes a start happen once: per key within a window, or per tick of a
// schedule.
type dedupe struct {
	key      string // any text; it is hashed
	window   time.Duration
	schedule string // the schedule's key, for the run of a tick
	tick     time.Time
}

// errTickTaken is returned for the start of a tick at or before the last one started.
var errTickTaken = errors.New("a later tick of the schedule started already")

// startOnce is start with a dedupe key: when the key started a run within its window,
// it creates nothing and returns that run's id.
func (q *queue) startOnce(ctx context.Context, runID string, wf *workflows.Workflow, event []byte, failure string, d *dedupe) (string, error) {
	sh := q.shardFor(wf.Name)
	first, status := "", "succeeded"
	switch {
	case failure != "":
		status = "failed"
	case len(wf.Steps) > 0:
		first = wf.Steps[0].Name
	}
	job := jobID(runID, first)
	key, window, sched, tick := "", int64(0), "", int64(0)
	switch {
	case d != nil && d.schedule != "":
		sched, tick = d.schedule, d.tick.UnixMilli()
	case d != nil:
		sum := sha256.Sum256([]byte(d.key))
		key, window = hex.EncodeToString(sum[:16]), max(d.window.Milliseconds(), 1)
	}
	res, err := sh.starts.run(ctx, []string{sh.run(runID), sh.job(job)},
		sh.prefix, runID, wf.Name, wf.Version, event, first, job, q.retention.Milliseconds(),
		status, failure, wf.Concurrency, key, window, q.maxOpen, sched, tick, tickTTL.Milliseconds())
	if err != nil {
		if strings.HasPrefix(err.Error(), "HFBUSY") {
			return "", fmt.Errorf("%w (%s)", ErrBusy, strings.TrimPrefix(err.Error(), "HFBUSY "))
		}
		if msg, ok := strings.CutPrefix(err.Error(), "HFCLOCK "); ok {
			return "", errors.New(msg)
		}
		return "", err
	}
	if n, ok := res.(int64); ok && n == -1 {
		return "", errTickTaken
	}
	if id, ok := res.(string); ok {
		return id, nil
	}
	return runID, nil
}

// job is a leased step of a run.
type job struct {
	shard   *shard
	id      string
	step    string
	token   string
	attempt int
	run     map[string]string // the run hash as it was when the job was leased
}

// lease takes back the shard's expired leases, then leases up to max due jobs. With
// none due it returns how long until a queued job is due or a lease expires, or -1
// when there is neither. A run that fails as its job is taken back too often is
// counted here, in the process that took it back.
func (q *queue) lease(ctx context.Context, sh *shard, max int) ([]*job, time.Duration, error) {
	res, err := leaseScript.Run(ctx, q.rdb, []string{sh.due(), sh.leases(), sh.tokens(), sh.wake()},
		sh.prefix, max, q.leaseFor.Milliseconds(), maxReaps, q.retention.Milliseconds()).Slice()
	if err != nil {
		return nil, 0, err
	}
	wait, _ := res[0].(int64)
	failed, _ := res[1].([]any)
	for _, wf := range failed {
		name, _ := wf.(string)
		q.metrics.runFinished(name, "failed")
	}
	jobs := make([]*job, 0, len(res)-2)
	for _, r := range res[2:] {
		j, err := parseJob(sh, r)
		if err != nil {
			return jobs, 0, err
		}
		jobs = append(jobs, j)
	}
	if wait < 0 {
		return jobs, -1, nil
	}
	return jobs, time.Duration(wait) * time.Millisecond, nil
}

func parseJob(sh *shard, r any) (*job, error) {
	a, ok := r.([]any)
	if !ok || len(a) != 5 {
		return nil, fmt.Errorf("lease: unexpected reply %v", r)
	}
	j := &job{shard: sh, run: map[string]string{}}
	j.id, _ = a[0].(string)
	j.token, _ = a[1].(string)
	attempt, _ := a[2].(int64)
	j.attempt = int(attempt)
	j.step, _ = a[3].(string)
	fields, _ := a[4].([]any)
	for i := 0; i+1 < len(fields); i += 2 {
		k, _ := fields[i].(string)
		v, _ := fields[i+1].(string)
		j.run[k] = v
	}
	return j, nil
}

// commit is the outcome of one step, as complete writes it.
type commit struct {
	job       *job
	runID     string
	workflow  string
	result    []byte // a JSON object with at least one field
	duration  time.Duration
	next      string // the next step; "" ends the run
	runStatus string // the run's status when it ends
	runError  string
	dead      bool          // the run fails at this step: dead-letter its job
	chain     bool          // lease the next step to the caller instead of queueing it
	wait      time.Duration // hold the run this long before its next step is due
}

// complete commits a step. When c.chain is set and there is a next step, the next
// step's job is leased to the caller and its token returned.
func (q *queue) complete(ctx context.Context, c commit) (string, error) {
	sh := c.job.shard
	next := ""
	if c.next != "" {
		next = jobID(c.runID, c.next)
	}
	res, err := completeScript.Run(ctx, q.rdb, []string{sh.job(c.job.id), sh.run(c.runID)},
		sh.prefix, c.job.id, c.job.token, c.job.step, c.result, c.duration.Milliseconds(),
		c.next, next, c.runStatus, c.runError, flag(c.chain),
		q.leaseFor.Milliseconds(), q.retention.Milliseconds(), c.workflow, c.wait.Milliseconds(),
		flag(c.dead)).Int64()
	switch {
	case err != nil:
		return "", err
	case res < 0:
		return "", errStaleLease
	case res == 0:
		return "", nil
	}
	return strconv.FormatInt(res, 10), nil
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// retry records a failed attempt of a leased job and queues the job again, due after
// wait.
func (q *queue) retry(ctx context.Context, j *job, runID, workflow string, result []byte, duration, wait time.Duration) error {
	sh := j.shard
	res, err := retryScript.Run(ctx, q.rdb, []string{sh.job(j.id), sh.run(runID)},
		sh.prefix, j.id, j.token, j.step, result, duration.Milliseconds(), wait.Milliseconds(), workflow).Int64()
	switch {
	case err != nil:
		return err
	case res < 0:
		return errStaleLease
	}
	return nil
}

// replay queues a failed run again from step. It reports errNotFailed for a run that
// has not failed, and ErrNotFound for one that does not exist.
func (q *queue) replay(ctx context.Context, runID, step string, wf *workflows.Workflow) error {
	sh := q.shardFor(wf.Name)
	job := jobID(runID, step)
	res, err := replayScript.Run(ctx, q.rdb, []string{sh.run(runID), sh.job(job)},
		sh.prefix, runID, step, job, wf.Name).Int64()
	switch {
	case err != nil:
		return err
	case res == 0:
		return ErrNotFound
	case res < 0:
		return errNotFailed
	}
	return nil
}

// heartbeat extends the leases of jobs, in one round trip. held[i] reports whether
// jobs[i] is still its holder's.
func (q *queue) heartbeat(ctx context.Context, jobs []*job) (held []bool, err error) {
	pipe := q.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(jobs))
	for i, j := range jobs {
		// Eval, not EvalSha: a pipeline cannot fall back when Redis lost its script cache.
		cmds[i] = heartbeatScript.Eval(ctx, pipe, []string{j.shard.job(j.id), j.shard.leases()},
			j.id, j.token, q.leaseFor.Milliseconds())
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	held = make([]bool, len(jobs))
	for i, c := range cmds {
		n, _ := c.Int64()
		held[i] = n == 1
	}
	return held, nil
}

// release hands a leased job back to its workflow's queue, due now.
func (q *queue) release(ctx context.Context, j *job, workflow string) error {
	sh := j.shard
	return releaseScript.Run(ctx, q.rdb, []string{sh.job(j.id)}, sh.prefix, j.id, j.token, workflow).Err()
}

// Waits are capped so that a worker notices new shards of work even if a wake-up
// signal is lost (a Redis restart empties the list), and stays under the client's
// read timeout.
const (
	minWait = 5 * time.Millisecond
	maxWait = 2 * time.Second
)

// wait blocks until a job may be due on the shard, d passes, or a wake-up arrives.
func (q *queue) wait(ctx context.Context, sh *shard, d time.Duration) error {
	if d < 0 || d > maxWait {
		d = maxWait
	}
	d = max(d, minWait)
	err := q.rdb.Do(ctx, "BLPOP", sh.wake(), strconv.FormatFloat(d.Seconds(), 'f', 3, 64)).Err()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	return err
}

// wake sends one wake-up signal to a shard's workers.
func (q *queue) wake(ctx context.Context, sh *shard) error {
	return q.rdb.LPush(ctx, sh.wake(), "1").Err()
}

// runFields returns a run's hash, or nil when no shard has it.
func (q *queue) runFields(ctx context.Context, id string) (map[string]string, error) {
	for _, sh := range q.shards {
		m, err := q.rdb.HGetAll(ctx, sh.run(id)).Result()
		if err != nil {
			return nil, err
		}
		if len(m) > 0 {
			return m, nil
		}
	}
	return nil, nil
}
