package engine

import (
	"fmt"
	"hash/fnv"

	"github.com/hookflow/hookflow/workflows"
)

// shard names the keys of one queue shard. Every key of a shard carries the hash tag
// {hf:N}, so each script touches one Redis Cluster slot and the same scripts run on a
// single Redis or a cluster. A workflow's runs and jobs all live in one shard, chosen by
// hashing its name. Scripts derive the same names from the prefix (scripts/lib.lua).
//
//	{hf:N}:run:<run>       hash  run state, event, s:<step> records, j:<step> counts
//	{hf:N}:job:<id>        hash  one job: run, workflow, step, part, attempt, token
//	{hf:N}:items:<run>:<st> hash a for_each step's items: n, v:<i> values, k:<i> map keys
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
//	{hf:N}:tokens          int   lease token counter
//	{hf:N}:wake            list  wake-up signals for blocked workers
//
// Job ids are <run>:<step> for a step, <run>:<step>:<index> for an item of a for_each
// step, and <run>:<step>:join for the join of a for_each step or a parallel block.
type shard struct {
	index  int
	prefix string
	starts *batcher // the shard's start calls, pipelined
}

func newShard(i int) *shard {
	return &shard{index: i, prefix: fmt.Sprintf("{hf:%d}:", i)}
}

func (s *shard) run(id string) string      { return s.prefix + "run:" + id }
func (s *shard) job(id string) string      { return s.prefix + "job:" + id }
func (s *shard) ready(wf string) string    { return s.prefix + "ready:" + wf }
func (s *shard) pending(wf string) string  { return s.prefix + "pending:" + wf }
func (s *shard) inflight(wf string) string { return s.prefix + "inflight:" + wf }
func (s *shard) limit(wf string) string    { return s.prefix + "limit:" + wf }
func (s *shard) seq() string               { return s.prefix + "seq" }
func (s *shard) due() string               { return s.prefix + "due" }
func (s *shard) leases() string            { return s.prefix + "leases" }
func (s *shard) dead() string              { return s.prefix + "dead" }
func (s *shard) runs() string              { return s.prefix + "runs" }
func (s *shard) runsOf(wf string) string   { return s.prefix + "runs:" + wf }
func (s *shard) workflows() string         { return s.prefix + "workflows" }
func (s *shard) tokens() string            { return s.prefix + "tokens" }
func (s *shard) wake() string              { return s.prefix + "wake" }
func (s *shard) open() string              { return s.prefix + "open" }
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

func shardOf(workflow string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(workflow))
	return int(h.Sum32() % uint32(n))
}

// Workflow sources live outside the shards: scripts never read them.
//
//	hf:ver:<name>@<version>  string  JSON list of the source files of a version
//	hf:src:<sha256>          string  one source file's content
func versionSourcesKey(name, version string) string { return "hf:ver:" + name + "@" + version }
func sourceKey(sum string) string                   { return "hf:src:" + sum }
