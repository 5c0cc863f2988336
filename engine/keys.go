package engine

import (
	"fmt"
	"hash/fnv"
	"sync"

	"github.com/hookflow/hookflow/workflows"
)

// shard names the keys of one queue shard. Every key of a shard carries the hash tag
// {hf:N}, so each script touches one Redis Cluster slot and the same scripts run on a
// single Redis or a cluster. A workflow's runs and jobs all live in one shard, chosen by
// hashing its name. Scripts derive the same names from the prefix (scripts/lib.lua).
//
//	{hf:N}:run:<run>       hash  run state, event, s:<step> records, j:<step> counts
//	{hf:N}:job:<id>        hash  one job: run, workflow, step, part, attempt, token; pages,
//	                             page:<n>, request:<n>, response: the pages its paginated
//	                             step read (scripts/page.lua)
//	{hf:N}:items:<run>:<st> hash a for_each step's items: n, v:<i> values, k:<i> map keys,
//	                             map for a map's (2: its ids percent-encode the keys, olderids.go)
//	{hf:N}:results:<run>:<st> hash the records of a for_each step's items, by index
//	{hf:N}:todo:<run>:<st> list  a for_each step's items waiting for a slot
//	{hf:N}:ready:<wf>      zset  queued jobs of a workflow, by due time (ms)
//	{hf:N}:pending:<wf>    zset  runs waiting for a concurrency slot, by arrival
//	{hf:N}:inflight:<wf>   zset  runs holding a concurrency slot
//	{hf:N}:limit:<wf>      int   the workflow's concurrency limit; none when missing
//	{hf:N}:seq             int   order of arrival of runs waiting for a slot
//	{hf:N}:open            int   runs started and not finished: queued, waiting or running
//	{hf:N}:due             zset  workflows with queued jobs, by earliest due time
//	{hf:N}:leases          zset  leased jobs, by lease expiry
//	{hf:N}:dead            zset  dead-lettered jobs, by when they failed their run
//	{hf:N}:runs            zset  runs, by creation time (the run history)
//	{hf:N}:runs:<wf>       zset  a workflow's runs, by creation time
//	{hf:N}:workflows       set   every workflow with runs in the shard
//	{hf:N}:dedupe:<wf>:<h> str   the run a dedupe key started, for the dedupe window
//	{hf:N}:sched:<wf>:<h>  int   the last tick (ms) of one of a workflow's schedules
//	{hf:N}:sched:<wf>:in-use str the specs (hashed, space-separated) of a workflow's
//	                             schedules in use when a process last read its files
//	{hf:N}:poll:<wf>:<h>   str   a poll trigger's state after its last good poll: {"cursor": …}
//	{hf:N}:tokens          int   lease token counter
//	{hf:N}:wake            list  wake-up signals for blocked workers
//
// Job ids are <run>:<step> for a step, <run>:<step>:<index> for an item of a for_each
// step, and <run>:<step>:join for the join of a for_each step or a parallel block.
type shard struct {
	index   int
	prefix  string
	calls   *pipeliner // the shard's starts and commits, pipelined together
	waiting *batcher   // with --wait-replicas, the shard's starts; nil without
	// Key names are made once: every script call passes a dozen of them.
	keys struct{ due, wake, leases, tokens, dead, open, seq, runs, workflows string }
	// args are the keys the start and commit scripts take, boxed once as call arguments.
	args struct{ due, wake, leases, dead, open, seq, runs, workflows any }
	mu   sync.RWMutex
	wfs  map[string]*workflowKeys
	// prefixArg is the prefix as a script argument, boxed once.
	prefixArg any
}

// workflowKeys are the names of a workflow's keys in a shard, and its name as a script
// argument.
type workflowKeys struct {
	ready, pending, inflight, limit, runsOf string
	args                                    struct{ ready, pending, inflight, limit, runsOf any }
	name                                    any
}

func newShard(i int) *shard {
	s := &shard{index: i, prefix: shardPrefix(i), wfs: map[string]*workflowKeys{}}
	s.keys.due, s.keys.wake, s.keys.leases = s.prefix+"due", s.prefix+"wake", s.prefix+"leases"
	s.keys.tokens, s.keys.dead, s.keys.open = s.prefix+"tokens", s.prefix+"dead", s.prefix+"open"
	s.keys.seq, s.keys.runs, s.keys.workflows = s.prefix+"seq", s.prefix+"runs", s.prefix+"workflows"
	s.prefixArg = s.prefix
	s.args.due, s.args.wake, s.args.leases = s.keys.due, s.keys.wake, s.keys.leases
	s.args.dead, s.args.open = s.keys.dead, s.keys.open
	s.args.seq, s.args.runs, s.args.workflows = s.keys.seq, s.keys.runs, s.keys.workflows
	return s
}

// of returns the names of a workflow's keys.
func (s *shard) of(wf string) *workflowKeys {
	s.mu.RLock()
	k := s.wfs[wf]
	s.mu.RUnlock()
	if k != nil {
		return k
	}
	k = &workflowKeys{ready: s.prefix + "ready:" + wf, pending: s.prefix + "pending:" + wf,
		inflight: s.prefix + "inflight:" + wf, limit: s.prefix + "limit:" + wf, runsOf: s.prefix + "runs:" + wf, name: wf}
	k.args.ready, k.args.pending, k.args.inflight, k.args.limit = k.ready, k.pending, k.inflight, k.limit
	k.args.runsOf = k.runsOf
	s.mu.Lock()
	s.wfs[wf] = k
	s.mu.Unlock()
	return k
}

func (s *shard) run(id string) string      { return s.prefix + "run:" + id }
func (s *shard) job(id string) string      { return s.prefix + "job:" + id }
func (s *shard) ready(wf string) string    { return s.of(wf).ready }
func (s *shard) pending(wf string) string  { return s.of(wf).pending }
func (s *shard) inflight(wf string) string { return s.of(wf).inflight }
func (s *shard) limit(wf string) string    { return s.of(wf).limit }
func (s *shard) runsOf(wf string) string   { return s.of(wf).runsOf }
func (s *shard) seq() string               { return s.keys.seq }
func (s *shard) due() string               { return s.keys.due }
func (s *shard) leases() string            { return s.keys.leases }
func (s *shard) dead() string              { return s.keys.dead }
func (s *shard) runs() string              { return s.keys.runs }
func (s *shard) workflows() string         { return s.keys.workflows }
func (s *shard) tokens() string            { return s.keys.tokens }
func (s *shard) wake() string              { return s.keys.wake }
func (s *shard) open() string              { return s.keys.open }
func (s *shard) dedupe(wf, h string) string {
	return s.prefix + "dedupe:" + wf + ":" + h
}
func (s *shard) items(run, step string) string   { return s.prefix + "items:" + run + ":" + step }
func (s *shard) results(run, step string) string { return s.prefix + "results:" + run + ":" + step }
func (s *shard) todo(run, step string) string    { return s.prefix + "todo:" + run + ":" + step }

// eachKeys are the keys every for_each step of wf keeps for a run: they expire with it.
func (s *shard) eachKeys(run string, wf *workflows.Workflow) []string {
	var keys []string
	for _, st := range wf.Steps {
		if st.ForEach != nil {
			keys = append(keys, s.items(run, st.Name), s.results(run, st.Name), s.todo(run, st.Name))
		}
	}
	return keys
}

// ShardPrefix is the prefix of the keys of the shard that holds workflow's runs, of n
// shards: "{hf:N}:". A run's hash is the prefix, "run:" and its id.
func ShardPrefix(workflow string, n int) string {
	return shardPrefix(shardOf(workflow, n))
}

func shardPrefix(i int) string { return fmt.Sprintf("{hf:%d}:", i) }

func shardOf(workflow string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(workflow))
	return int(h.Sum32() % uint32(n))
}

// A workflow version's sources live in the shard of its workflow, so that a start and a
// worker loading the version need only that shard's slot. Scripts never read them:
// they are plain GET and SET. prefix is the shard's, "{hf:N}:":
//
//	{hf:N}:ver:<name>@<version>  string  JSON list of the source files of a version
//	{hf:N}:src:<sha256>          string  one source file's content, once per shard of
//	                                     the workflows whose versions have it
//
// Builds before "engine: a version's sources live in its workflow's shard" kept them
// under unshardedPrefix, "hf:ver:…" and "hf:src:…", in slots of no shard: a version is
// read from there when its shard has none, and still written there, for those builds.
func versionSourcesKey(prefix, name, version string) string {
	return prefix + "ver:" + name + "@" + version
}
func sourceKey(prefix, sum string) string { return prefix + "src:" + sum }

// unshardedPrefix is the prefix of the sources' keys of builds before they moved into
// the shards.
const unshardedPrefix = "hf:"
