package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/hookflow/hookflow/workflows"
	"github.com/redis/go-redis/v9"
)

// maxReaps is how many times in a row a job's lease may expire before its run fails: a
// step that crashes every worker that runs it must not crash them forever.
const maxReaps = 5

// queue is the Redis side of the engine: every state change is one script call.
type queue struct {
	rdb       redis.UniversalClient
	shards    []*shard
	leaseFor  time.Duration
	retention time.Duration
	maxOpen   int // unfinished runs a shard takes; 0: no limit
	// keep is how many finished runs a shard keeps (0: no cap), keepBatch how many
	// runs one call of keep.lua looks at; keepGrace, childGrace and tombGrace how long a
	// run, a child run, or a cancelled run with tombstones is kept at least after it
	// finished (tombGrace, the lease, also holds a run that ended with units counted in
	// flight).
	keep, keepBatch                  int
	keepGrace, childGrace, tombGrace time.Duration
	// heap lowers keep while the live heap is over Options.KeepHeap; nil: none.
	heap *heapCap
	// waitReplicas is how many replicas acknowledge a start before it returns.
	waitReplicas int
	// keepSensitive is Options.KeepSensitive: a run that succeeds forgets nothing.
	keepSensitive bool
	// virtual is Options.VirtualTime: a run's timeout is kept by its virtual clock, and
	// its run hash holds none (timeoutField).
	virtual bool
	metrics *metrics // nil: none
	// leaseArg and retentionArg are leaseFor and retention in ms as script arguments,
	// boxed once.
	leaseArg, retentionArg any
}

// ErrBusy is returned by a start refused because too many runs are unfinished
// (Options.MaxQueued): the workers are behind, or many runs wait (for a resume, a
// child run, a delay), and the sender should come back later.
var ErrBusy error = busyError{}

type busyError struct{}

func (busyError) Error() string {
	return "too many runs are unfinished: queued, running or waiting (at a wait step or for a child run too); try again later"
}

// Busy tells a caller that does not import the engine (the webhook receiver) that the
// start was refused for overload, not for a failure of Redis.
func (busyError) Busy() bool { return true }

func (q *queue) shardFor(workflow string) *shard {
	return q.shards[shardOf(workflow, len(q.shards))]
}

// start creates a run and queues its first jobs, or puts the run in line for one of its
// workflow's concurrency slots. Calling it again with the same run id changes nothing.
// A run with a failure recorded fails at once, running no step.
func (q *queue) start(ctx context.Context, runID string, wf *workflows.Workflow, event []byte, failure string) error {
	_, _, err := q.startOnce(ctx, runID, wf, event, nil, failure, nil, false)
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

// dedupeKey names the key that holds the run a dedupe key of workflow started.
func (q *queue) dedupeKey(workflow, key string) string {
	sum := sha256.Sum256([]byte(key))
	return q.shardFor(workflow).dedupe(workflow, hex.EncodeToString(sum[:16]))
}

// startOnce is start with a dedupe key: when the key started a run within its window,
// it creates nothing and returns that run's id. The first jobs are the planner's for a
// run with nothing recorded. With lease, the caller has a worker free for the run's
// first job: when the run has one and needs no concurrency slot, the job is leased to
// the caller and returned, with the run as the job's worker needs it, instead of
// queued. shown is the shown form of event, for a child run whose input holds
// sensitive values of its parent (nil for others): kept beside it, and in its place
// once the run has succeeded.
func (q *queue) startOnce(ctx context.Context, runID string, wf *workflows.Workflow, event, shown []byte, failure string, d *dedupe, lease bool) (string, *job, error) {
	sh := q.shardFor(wf.Name)
	endStatus := ""
	var p *Plan
	if failure != "" {
		endStatus = string(RunFailed)
	} else {
		p = q.firstPlan(wf)
		if p.Status.Done() {
			endStatus = string(p.Status) // nothing to run
		}
	}
	var start []unit
	var fields []any
	switch {
	case endStatus == "":
		start, fields = p.Start, planFields(p)
		if ms := q.timeoutOf(wf); ms > 0 {
			fields = append(fields, timeoutField, ms)
		}
		if shown != nil {
			fields = append(fields, eventShownField, shown)
		}
	case endStatus == string(RunSucceeded) && shown != nil:
		event = shown // nothing to run: it succeeds as it starts
	}
	wk := sh.of(wf.Name)
	// The sections start.lua reads after the jobs and fields, and the keys of the
	// dedupe or schedule section after the jobs' keys.
	var sections []any
	var extra []string
	if endStatus != "" {
		sections = append(sections, "x", endStatus, failure, q.retentionArg)
	}
	switch {
	case d != nil && d.schedule != "":
		extra = []string{d.schedule, d.schedule + ":run"}
		sections = append(sections, "s", d.tick.UnixMilli(), tickTTL.Milliseconds())
	case d != nil:
		extra = []string{q.dedupeKey(wf.Name, d.key)}
		sections = append(sections, "d", max(d.window.Milliseconds(), 1))
	}
	// The call laid out whole, as the commits' are: EVALSHA, the keys (those of the shard
	// and the workflow boxed once), then the arguments, the rarer ones in sections of
	// their own (start.lua).
	ids := make([]string, len(start))
	for i, u := range start {
		ids[i] = u.jobID(runID)
	}
	nkeys := 13 + len(start) + len(extra)
	cmd := make([]any, 0, 3+nkeys+10+3*len(start)+len(fields)+len(sections))
	cmd = append(cmd, "evalsha", startHash, nkeys, sh.run(runID), wk.args.ready, sh.args.due, sh.args.wake,
		sh.args.open, wk.args.inflight, wk.args.pending, wk.args.limit, sh.args.seq, sh.args.runs, wk.args.runsOf,
		sh.args.workflows, sh.args.leases)
	for _, id := range ids {
		cmd = append(cmd, sh.job(id))
	}
	for _, k := range extra {
		cmd = append(cmd, k)
	}
	cmd = append(cmd, sh.prefixArg, runID, wk.name, wf.Version, event, wf.Concurrency, q.maxOpen,
		len(start), len(fields)/2, q.leaseFirst(lease && len(start) == 1))
	for i, u := range start {
		cmd = append(cmd, ids[i], u.step, u.partField())
	}
	cmd = append(cmd, fields...)
	cmd = append(cmd, sections...)
	var res any
	var err error
	if sh.waiting != nil {
		res, err = sh.waiting.run(ctx, cmd)
	} else {
		res, err = sh.calls.run(ctx, startScript, cmd)
	}
	if err = scriptError(err); err != nil {
		if errors.Is(err, ErrOutcomeUnknown) {
			return runID, nil, err // the run it would be, if Redis took it
		}
		if !errors.Is(err, ErrNotReplicated) {
			return "", nil, err
		}
		// Stored on the primary: the run created, or the one a dedupe key started (none,
		// for a key a poll marked seen).
		if first, ok := res.(string); ok {
			if first == seenWithoutRun {
				first = ""
			}
			return first, nil, err
		}
		return runID, nil, err
	}
	switch res := res.(type) {
	case string:
		return res, nil, nil
	case []any:
		if len(start) == 1 {
			// A reply it cannot read leaves the job leased to no one: it runs once the
			// lease expires.
			return runID, startedJob(sh, runID, wf, start[0], fields, res), nil
		}
	}
	return runID, nil, nil
}

// leaseFirst is start.lua's lease argument: the lease time when the first job is to be
// leased to the caller, else 0.
func (q *queue) leaseFirst(lease bool) any {
	if lease {
		return q.leaseArg
	}
	return 0
}

// startedJob is the first job of a run that start.lua leased to the caller, from its
// reply {token, created ms}: the job as lease.lua would have given it, with the run's
// hash as the start wrote it, but for its event, which Engine.startShown gives.
func startedJob(sh *shard, runID string, wf *workflows.Workflow, u unit, fields []any, res []any) *job {
	if len(res) != 2 {
		return nil
	}
	token, _ := res[0].(string)
	created, _ := res[1].(int64)
	if token == "" || created == 0 {
		return nil
	}
	at := strconv.FormatInt(created, 10)
	run := make(map[string]string, 7+len(fields)/2)
	run["id"], run["wf"], run["ver"] = runID, wf.Name, wf.Version // the event: see Engine.startShown
	run["created"], run["started"], run["status"] = at, at, string(RunRunning)
	for i := 0; i+1 < len(fields); i += 2 {
		name, _ := fields[i].(string)
		switch v := fields[i+1].(type) {
		case []byte:
			run[name] = string(v)
		default:
			run[name] = fmt.Sprint(v)
		}
	}
	return &job{shard: sh, id: u.jobID(runID), unit: u, token: token, attempt: 1, run: run}
}

// firstPlan is the plan of a run of wf with nothing recorded: what every run of it
// starts with. It is made once per workflow version: callers pass the one
// *workflows.Workflow the engine keeps for a version.
func (q *queue) firstPlan(wf *workflows.Workflow) *Plan {
	return wf.Derived(firstPlanKey{}, makeFirstPlan).(*Plan)
}

type firstPlanKey struct{}

func makeFirstPlan(wf *workflows.Workflow) any {
	return plan(wf, &runRecord{steps: map[string]*Record{}, counts: map[string]int{}, items: map[string]*itemSet{}}, nil)
}

// timeoutField is the run hash field of its workflow's timeout (ms), for the scripts
// that need the run's deadline, its timeout after it was created or last replayed
// (resume.lua refuses a resume past it). Runs without a timeout, or under virtual
// time, have none.
const timeoutField = "timeout"

// timeoutOf is what the timeoutField of a run of wf holds: its timeout in ms, 0 for
// none.
func (q *queue) timeoutOf(wf *workflows.Workflow) int64 {
	if q.virtual {
		return 0
	}
	return wf.Timeout.Milliseconds()
}

// planFields are the run fields a plan sets: its counts and records.
func planFields(p *Plan) []any {
	var out []any
	for name, n := range p.Counts {
		out = append(out, countPrefix+name, n)
	}
	for name, r := range p.Records {
		out = append(out, recordPrefix+name, encodeRecord(r))
	}
	return out
}

// job is a leased unit of a run.
type job struct {
	shard   *shard
	id      string
	unit    unit
	token   string
	attempt int
	run     map[string]string // the run hash as it was when the job was leased; nil when chained
	// key and value are an item's key (JSON; "" for a list's index) and value (JSON).
	key, value string
	// listed is the map field of an item's items hash: "2" when its listing
	// percent-encodes map keys in ids (olderids.go).
	listed string
	// crashed is why a job whose workers kept dying is recorded failed, not run.
	crashed string
	// held is the record of a unit that waited out a delay in its job: it settles with it.
	held *Record
	// last is the record an item's earlier attempt left, when it was retried.
	last *Record
	// pages is how many pages its paginated step kept in an earlier lease of this
	// attempt (see pageStore).
	pages int
	// reaped is how many of the job's leases in a row expired before this one: the
	// attempts before this one whose workers stopped while they ran (lostRequests).
	reaped int
	// event is the run's event as its start had it (Event.AsStored), for a job leased by
	// the start: its worker need not decode run["event"] again. nil for others.
	event *workflows.Event
	// eventSize is the length of the run's event when the lease left it out of run, as
	// it does with one larger than bigEvent: its worker reads it from its cache of
	// events, or from Redis (eventcache.go). 0 when run holds it.
	eventSize int
}

// lease takes back the shard's expired leases, then leases up to max due jobs. With
// none due it returns how long until a queued job is due or a lease expires, or -1
// when there is neither.
func (q *queue) lease(ctx context.Context, sh *shard, max int) ([]*job, time.Duration, error) {
	res, err := leaseScript.Run(ctx, q.rdb, []string{sh.due(), sh.leases(), sh.tokens(), sh.wake()},
		sh.prefix, max, q.leaseFor.Milliseconds(), maxReaps, bigEvent).Slice()
	if err != nil {
		return nil, 0, scriptError(err)
	}
	wait, _ := res[0].(int64)
	jobs := make([]*job, 0, len(res)-1)
	var bad []error // a job that cannot be read is left to expire; the others run
	for _, r := range res[1:] {
		j, err := parseJob(sh, r)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		jobs = append(jobs, j)
	}
	if wait < 0 {
		return jobs, -1, errors.Join(bad...)
	}
	return jobs, time.Duration(wait) * time.Millisecond, errors.Join(bad...)
}

// parseJob decodes one job of lease.lua's reply.
func parseJob(sh *shard, r any) (*job, error) {
	a, ok := r.([]any)
	if !ok || len(a) < 13 || len(a) > 15 {
		return nil, fmt.Errorf("lease: unexpected reply %v", r)
	}
	j := &job{shard: sh, run: map[string]string{}}
	j.id, _ = a[0].(string)
	j.token, _ = a[1].(string)
	attempt, _ := a[2].(int64)
	j.attempt = int(attempt)
	step, _ := a[3].(string)
	part, _ := a[4].(string)
	u, err := parsePart(step, part)
	if err != nil {
		return nil, err
	}
	j.unit = u
	fields, _ := a[5].([]any)
	for i := 0; i+1 < len(fields); i += 2 {
		k, _ := fields[i].(string)
		v, _ := fields[i+1].(string)
		j.run[k] = v
	}
	j.key, _ = a[6].(string)
	j.value, _ = a[7].(string)
	j.crashed, _ = a[8].(string)
	if held, _ := a[9].(string); held != "" {
		if j.held, err = decodeRecord(held); err != nil {
			return nil, fmt.Errorf("job %s: held record: %w", j.id, err)
		}
	}
	if last, _ := a[10].(string); last != "" {
		if j.last, err = decodeRecord(last); err != nil {
			return nil, fmt.Errorf("job %s: record of its last attempt: %w", j.id, err)
		}
	}
	if pages, _ := a[11].(string); pages != "" {
		if j.pages, err = strconv.Atoi(pages); err != nil {
			return nil, fmt.Errorf("job %s: its pages kept: %w", j.id, err)
		}
	}
	j.listed, _ = a[12].(string)
	if len(a) >= 14 && a[13] != nil { // its last leases expired
		reaped, _ := a[13].(string)
		if j.reaped, err = strconv.Atoi(reaped); err != nil {
			return nil, fmt.Errorf("job %s: its leases expired: %w", j.id, err)
		}
	}
	if len(a) == 15 { // its run's event was left out
		size, _ := a[14].(int64)
		if size <= 0 {
			return nil, fmt.Errorf("job %s: unexpected event length %v", j.id, a[14])
		}
		j.eventSize = int(size)
	}
	return j, nil
}

// commit is a unit's outcome and the plan that follows it, as complete writes it.
type commit struct {
	job    *job
	runID  string
	wf     *workflows.Workflow
	record *Record // the unit's own; nil for a join, whose plan writes the records
	value  any     // what later steps read of record, when the worker has it at hand
	// items are the items a for_each step's job listed, encoded; listed says it did.
	items    [][2][]byte
	listed   bool
	mapItems bool         // the items listed are a map's (none, for an empty map)
	hidden   []hiddenItem // the shown forms of the items listed from sensitive values
	plan     *Plan
	duration time.Duration
	wait     time.Duration // hold what this queues this long (a delay step)
	dead     bool          // the run fails at this job: dead-letter it
	chain    bool          // lease the next unit to the caller instead of queueing it
	// eventShown says that the run's event has a shown form, put in its place if the
	// run ends succeeded here.
	eventShown bool
}

// complete commits a unit. When c.chain is set, a next unit is leased to the caller
// and returned; nil when there is none.
func (q *queue) complete(ctx context.Context, c commit) (*job, error) {
	switch {
	case straight(c):
		return q.advance(ctx, c)
	case last(c):
		return nil, q.finish(ctx, c)
	}
	sh, p, u := c.job.shard, c.plan, c.job.unit
	run := sh.run(c.runID)
	each := "" // the for_each step whose items, results and todo list this touches
	switch {
	case u.part == partItem, c.listed:
		each = u.step
	case u.part == partJoin:
		if s, _ := c.wf.Step(u.step); s != nil && s.ForEach != nil {
			each = u.step
		}
	}
	for name := range p.Todo {
		each = name
	}
	if p.Next != "" {
		each = p.Next
	} else if p.Drop != "" {
		each = p.Drop
	}
	wk := sh.of(c.wf.Name)
	var ending []string // the keys that expire with the run
	if p.Status.Done() {
		ending = sh.eachKeys(c.runID, c.wf)
		if len(ending) == 0 && u.part == partItem { // a version this process could not load
			ending = []string{sh.items(c.runID, u.step), sh.results(c.runID, u.step), sh.todo(c.runID, u.step)}
		}
	}
	recField, rec := "", []byte(nil)
	if c.record != nil {
		recField, rec = recordPrefix+u.step, encodeRecord(c.record)
		if u.part == partItem {
			recField = strconv.Itoa(u.item)
		}
	}
	chain := chainOf(c)

	// KEYS and ARGV as complete.lua reads them: the fixed part, the next jobs, then the
	// sections this commit needs, each with its keys, in one slice (see evalsha).
	keys := getArgs(16 + len(p.Start) + len(ending)) // the shard's keys boxed once
	defer func() { putArgs(keys) }()
	keys = append(keys, sh.job(c.job.id), run, sh.args.leases, wk.args.ready, sh.args.due, sh.args.wake)
	fields := planFields(p)
	args := getArgs(11 + 3*len(p.Start) + 16 + len(fields) + 2*len(c.items) + len(p.Todo[each]))
	defer func() { putArgs(args) }()
	args = append(args, sh.prefixArg, c.job.id, c.job.token, wk.name, c.runID, q.leaseArg,
		c.duration.Milliseconds(), recField, rec, chain, len(p.Start))
	for _, n := range p.Start {
		id := n.jobID(c.runID)
		keys = append(keys, sh.job(id))
		args = append(args, id, n.step, n.partField())
	}
	if c.wait > 0 {
		args = append(args, "w", c.wait.Milliseconds())
	}
	if s, _ := c.wf.Step(u.step); u.part == partStep && s != nil && s.Parallel == "" && s.ForEach == nil {
		args = append(args, "a") // alone in its run: nothing beside it could have ended it
	}
	if each != "" {
		keys = append(keys, sh.items(c.runID, each), sh.results(c.runID, each), sh.todo(c.runID, each))
		args = append(args, "e", each)
		if u.part == partItem && c.record != nil {
			args = append(args, "r")
		}
	}
	if c.listed {
		args = append(args, "i", len(c.items))
		for _, it := range c.items {
			args = append(args, it[0], it[1])
		}
		if c.mapItems {
			args = append(args, "m")
		}
		if len(c.hidden) > 0 {
			args = append(args, "v", len(c.hidden))
			for _, h := range c.hidden {
				args = append(args, h.index, h.key, h.value)
			}
		}
	}
	if todo := p.Todo[each]; len(todo) > 0 {
		args = append(args, "q", len(todo))
		for _, i := range todo {
			args = append(args, i)
		}
	}
	switch {
	case p.Drop != "":
		args = append(args, "d")
	case p.Next != "":
		args = append(args, "n")
	}
	if p.Join != "" {
		id := unit{step: p.Join, part: partJoin}.jobID(c.runID)
		keys = append(keys, sh.job(id))
		args = append(args, "j", countPrefix+p.Join, p.Join, id)
	}
	if len(fields) > 0 {
		args = append(args, "f", len(fields)/2)
		args = append(args, fields...)
	}
	if p.Handle {
		keys = append(keys, sh.args.dead)
		args = append(args, "h", p.Error, p.FailedStep, q.retentionArg)
	}
	if h := q.hiding(c); h != nil {
		args = append(args, "s", len(h.fields), len(h.results), len(h.each), flag(c.eventShown))
		args = append(args, h.fields...)
		for _, s := range h.results {
			keys = append(keys, sh.results(c.runID, s))
		}
		for _, s := range h.each {
			keys = append(keys, sh.items(c.runID, s))
		}
	}
	if p.Status.Done() { // last: its keys are all the rest
		keys = append(keys, sh.args.dead, sh.args.open, wk.args.inflight, wk.args.pending, wk.args.limit)
		for _, k := range ending {
			keys = append(keys, k)
		}
		args = append(args, "x", string(p.Status), p.Error, flag(c.dead), q.retentionArg)
	}
	cmd := getArgs(3 + len(keys) + len(args))
	defer func() { putArgs(cmd) }()
	cmd = append(cmd, "evalsha", completeHash, len(keys))
	cmd = append(append(cmd, keys...), args...)
	reply, err := sh.calls.evalsha(ctx, completeScript, cmd).Result()
	if err != nil {
		return nil, scriptError(err)
	}
	res, ok := reply.([]any) // 0 when nothing was leased to the caller
	if !ok || len(res) != 7 {
		return nil, nil
	}
	token, _ := res[0].(string)
	id, _ := res[1].(string)
	step, _ := res[2].(string)
	part, _ := res[3].(string)
	next, err := parsePart(step, part)
	if err != nil {
		return nil, err
	}
	j := &job{shard: sh, id: id, unit: next, token: token, attempt: 1}
	j.key, _ = res[4].(string)
	j.value, _ = res[5].(string)
	j.listed, _ = res[6].(string)
	return j, nil
}

// chainOf is which job complete.lua leases to the committing worker, its chain
// argument: "" none, "first" the first next job, "todo" the item taken from the todo
// list.
func chainOf(c commit) string {
	p := c.plan
	switch {
	case !c.chain || c.wait > 0:
	case p.Next != "" && p.Drop == "":
		return "todo"
	case len(p.Start) > 0 && p.Start[0].part != partJoin:
		return "first"
	}
	return ""
}

func heldArg(r *Record) []byte {
	if r == nil {
		return nil
	}
	return encodeRecord(r)
}

// argsPool keeps the argument slices of commits: a commit's arguments are done with
// once its reply is read.
var argsPool = sync.Pool{New: func() any { return new([]any) }}

func getArgs(n int) []any {
	p := argsPool.Get().(*[]any)
	if cap(*p) < n {
		*p = make([]any, 0, max(n, 64))
	}
	return (*p)[:0]
}

// putArgs gives back a slice from getArgs, as its user left it: its elements are
// cleared, so that the pool holds on to no value of a finished call. Only those its
// user set: a slice that once held a batch's hundreds of arguments, back from a commit
// of twenty, has twenty cleared, not hundreds. Callers defer it in a closure, so that
// it gets the slice as they appended to it, not as getArgs gave it.
func putArgs(s []any) {
	if cap(s) > 4096 {
		return // the listing of a large for_each: not worth keeping
	}
	clear(s)
	s = s[:0]
	argsPool.Put(&s)
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// straight reports whether a commit is the straight line's: a step alone in its run
// (outside parallel blocks, without for_each) that goes on to one next step, leased to
// the same worker, with nothing else to write. advance.lua commits it.
func straight(c commit) bool {
	p, u := c.plan, c.job.unit
	if u.part != partStep || c.record == nil || !c.chain || c.wait > 0 || c.dead || c.listed || p.Handle ||
		p.Status != RunRunning || len(p.Start) != 1 || p.Start[0].part != partStep ||
		p.Join != "" || p.Next != "" || p.Drop != "" || len(p.Todo) > 0 || len(p.Counts) > 0 || len(p.Records) > 0 {
		return false
	}
	s, _ := c.wf.Step(u.step)
	return s != nil && s.Parallel == "" && s.ForEach == nil
}

// last reports whether a commit ends a straight run: a step alone in its run that
// ends it, with nothing else to write, no job to dead-letter and no for_each keys to
// expire. finish.lua commits it.
func last(c commit) bool {
	p, u := c.plan, c.job.unit
	if u.part != partStep || c.record == nil || c.dead || c.listed || !p.Status.Done() || len(p.Start) > 0 ||
		p.Join != "" || p.Next != "" || p.Drop != "" || len(p.Todo) > 0 || len(p.Counts) > 0 || len(p.Records) > 0 {
		return false
	}
	s, _ := c.wf.Step(u.step)
	if s == nil || s.Parallel != "" || s.ForEach != nil {
		return false
	}
	for _, st := range c.wf.Steps {
		if st.ForEach != nil {
			return false
		}
	}
	return true
}

// finish commits the end of a straight run (see last) with finish.lua.
func (q *queue) finish(ctx context.Context, c commit) error {
	sh, wk := c.job.shard, c.job.shard.of(c.wf.Name)
	cmd := getArgs(24)
	defer func() { putArgs(cmd) }()
	cmd = append(cmd, "evalsha", finishHash, 10, sh.job(c.job.id), sh.run(c.runID), sh.args.leases, wk.args.ready,
		sh.args.due, sh.args.wake, sh.args.open, wk.args.inflight, wk.args.pending, wk.args.limit,
		sh.prefixArg, c.job.id, c.job.token, wk.name, c.runID, c.duration.Milliseconds(),
		recordPrefix+c.job.unit.step, encodeRecord(c.record), string(c.plan.Status), c.plan.Error, q.retentionArg)
	if h := q.hiding(c); h != nil {
		// A straight run has no for_each step: its records are all in its hash.
		cmd = append(cmd, flag(c.eventShown))
		cmd = append(cmd, h.fields...)
	}
	return scriptError(sh.calls.evalsha(ctx, finishScript, cmd).Err())
}

// advance commits a straight commit (see straight) with advance.lua. When the next job
// exists already it leases nothing and returns nil.
func (q *queue) advance(ctx context.Context, c commit) (*job, error) {
	sh, u, next := c.job.shard, c.job.unit, c.plan.Start[0]
	nextID := next.jobID(c.runID)
	cmd := getArgs(18)
	defer func() { putArgs(cmd) }()
	cmd = append(cmd, "evalsha", advanceHash, 4, sh.job(c.job.id), sh.run(c.runID), sh.args.leases, sh.job(nextID),
		c.job.id, c.job.token, c.runID, sh.of(c.wf.Name).name, q.leaseArg, c.duration.Milliseconds(),
		recordPrefix+u.step, encodeRecord(c.record), nextID, next.step)
	token, err := sh.calls.evalsha(ctx, advanceScript, cmd).Text()
	if err != nil {
		return nil, scriptError(err)
	}
	if token == "" {
		return nil, nil
	}
	return &job{shard: sh, id: nextID, unit: next, token: token, attempt: 1}, nil
}

// retry records a failed attempt of a leased job and queues the job again, due after
// wait.
func (q *queue) retry(ctx context.Context, j *job, runID, workflow string, rec *Record, duration, wait time.Duration) error {
	return q.requeue(ctx, j, runID, workflow, rec, duration, wait, nil)
}

// hold records a unit that waits out a delay in its own job (an item, a step of a
// parallel block: what follows it is not its alone to delay) and queues the job again,
// due after wait; then it settles with held.
func (q *queue) hold(ctx context.Context, j *job, runID, workflow string, rec, held *Record, duration, wait time.Duration) error {
	return q.requeue(ctx, j, runID, workflow, rec, duration, wait, held)
}

func (q *queue) requeue(ctx context.Context, j *job, runID, workflow string, rec *Record, duration, wait time.Duration, held *Record) error {
	sh := j.shard
	hash, field := sh.run(runID), recordPrefix+j.unit.step
	if j.unit.part == partItem {
		hash, field = sh.results(runID, j.unit.step), strconv.Itoa(j.unit.item)
	}
	// With the commits of its shard: the items of a for_each that park together (each
	// waits for its child run) go in one script call.
	cmd := []any{"evalsha", retryHash, 7, sh.job(j.id), hash, sh.leases(), sh.ready(workflow), sh.due(), sh.wake(), sh.run(runID),
		j.id, j.token, field, encodeRecord(rec), duration.Milliseconds(), wait.Milliseconds(), workflow, heldArg(held)}
	return scriptError(sh.calls.evalsha(ctx, retryScript, cmd).Err())
}

// replay queues a failed run again as p says, after taking out of its record what cl
// says, and setting the run fields in set (field, value pairs). It reports
// errNotFailed for a run that has not failed, and ErrNotFound for one that does not
// exist.
func (q *queue) replay(ctx context.Context, runID string, wf *workflows.Workflow, p *Plan, cl cleared, set []any) error {
	sh := q.shardFor(wf.Name)
	keys := []string{sh.run(runID), sh.dead(), sh.ready(wf.Name), sh.due(), sh.wake(), sh.open(),
		sh.inflight(wf.Name), sh.pending(wf.Name), sh.limit(wf.Name), sh.seq()}
	var jobArgs []any
	for _, u := range p.Start {
		id := u.jobID(runID)
		keys = append(keys, sh.job(id))
		jobArgs = append(jobArgs, id, u.step, u.partField())
	}
	var fieldArgs []any
	for _, f := range cl.fields {
		fieldArgs = append(fieldArgs, f)
	}
	setArgs := append(planFields(p), set...)
	var eachArgs []any
	nEach := 0
	for _, s := range wf.Steps {
		if s.ForEach == nil {
			continue
		}
		nEach++
		keys = append(keys, sh.items(runID, s.Name), sh.results(runID, s.Name), sh.todo(runID, s.Name))
		eachArgs = append(eachArgs, len(cl.items[s.Name]))
		for _, i := range cl.items[s.Name] {
			eachArgs = append(eachArgs, i)
		}
		eachArgs = append(eachArgs, len(p.Todo[s.Name]))
		for _, i := range p.Todo[s.Name] {
			eachArgs = append(eachArgs, i)
		}
	}
	args := []any{sh.prefix, runID, wf.Name, len(jobArgs) / 3, len(fieldArgs), len(setArgs) / 2, nEach}
	args = append(append(append(append(args, jobArgs...), fieldArgs...), setArgs...), eachArgs...)
	return scriptError(replayScript.Run(ctx, q.rdb, keys, args...).Err())
}

// beat is what a heartbeat found of a leased job.
type beat int64

const (
	beatLost      beat = 0 // no longer its holder's: committed, or its lease expired
	beatHeld      beat = 1 // held, and its lease extended
	beatCancelled beat = 2 // its run was cancelled
)

// heartbeat extends the leases of jobs, in one round trip, and says of each what it
// found.
func (q *queue) heartbeat(ctx context.Context, jobs []*job) (held []beat, err error) {
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
	held = make([]beat, len(jobs))
	for i, c := range cmds {
		n, _ := c.Int64()
		held[i] = beat(n)
	}
	return held, nil
}

// release hands a leased job back to its workflow's queue, due now.
func (q *queue) release(ctx context.Context, j *job, workflow string) error {
	sh := j.shard
	return releaseScript.Run(ctx, q.rdb, []string{sh.job(j.id), sh.leases(), sh.ready(workflow), sh.due(), sh.wake()},
		j.id, j.token, workflow).Err()
}

// Waits are capped so that a worker notices new shards of work even if a wake-up
// signal is lost (a Redis restart empties the list), and stays under the client's
// read timeout.
const (
	minWait = 5 * time.Millisecond
	maxWait = 2 * time.Second
)

// blockTick is how late Redis may end a blocking command past its timeout: it looks
// for the timeouts on its timer, ten times a second at its default hz. A BLPOP of
// 0.25 s returns after about 0.3 s.
const blockTick = 100 * time.Millisecond

// wakePoll is how often a wait shorter than blockTick looks for a wake-up.
const wakePoll = 10 * time.Millisecond

// wait blocks until a job may be due on the shard, d passes, or a wake-up arrives. A
// job due within a tick of Redis's timer (an api's next turn under its rate_limit, a
// retry) is waited for here, not in Redis, which would end the wait up to a tick late:
// a rate of 4 calls a second with a burst of 1 made 3.3. Meanwhile it looks for a
// wake-up every wakePoll, so that a run queued by another process waits no longer.
// Longer waits block in Redis until a tick before d, and the next lease finds what is
// left to wait.
func (q *queue) wait(ctx context.Context, sh *shard, d time.Duration) error {
	if d < 0 || d > maxWait {
		d = maxWait
	}
	d = max(d, minWait)
	if d <= blockTick {
		return q.waitHere(ctx, sh, d)
	}
	d -= blockTick
	err := q.rdb.Do(ctx, "BLPOP", sh.wake(), strconv.FormatFloat(d.Seconds(), 'f', 3, 64)).Err()
	switch {
	case errors.Is(err, redis.Nil):
		return nil
	case redis.HasErrorPrefix(err, "UNBLOCKED"):
		return fmt.Errorf("%w: %w", errWaitUnblocked, err)
	}
	return err
}

// errWaitUnblocked is wait's when Redis ended it because the node stopped being a
// primary ("UNBLOCKED force unblock from blocking operation, instance state changed
// (master -> replica?)"): a failover, planned or not. The next lease finds the new
// primary.
var errWaitUnblocked = errors.New("the Redis primary became a replica")

// waitHere is wait for a short d, in the process: it ends when d passes or it takes a
// wake-up from the shard's list.
func (q *queue) waitHere(ctx context.Context, sh *shard, d time.Duration) error {
	end := time.Now().Add(d)
	for {
		err := q.rdb.LPop(ctx, sh.wake()).Err()
		switch {
		case err == nil:
			return nil // woken
		case !errors.Is(err, redis.Nil):
			return err
		}
		left := time.Until(end)
		if left <= 0 || !sleep(ctx, min(left, wakePoll)) {
			return nil
		}
	}
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
