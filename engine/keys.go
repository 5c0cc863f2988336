package engine

import (
	"fmt"
	"hash/fnv"
)

// shard names the keys of one queue shard. Every key of a shard carries the hash tag
// {hf:N}, so each script touches one Redis Cluster slot and the same scripts run on a
// single Redis or a cluster. A workflow's runs and jobs all live in one shard, chosen by
// hashing its name.
//
//	{hf:N}:run:<run>      hash  run state, event, and s:<step> results
//	{hf:N}:job:<run>:<st> hash  one step's job: run, workflow, step, attempt, token
//	{hf:N}:ready:<wf>     zset  queued jobs of a workflow, by due time (ms)
//	{hf:N}:due            zset  workflows with queued jobs, by earliest due time
//	{hf:N}:leases         zset  leased jobs, by lease expiry
//	{hf:N}:tokens         int   lease token counter
//	{hf:N}:wake           list  wake-up signals for blocked workers
type shard struct {
	index  int
	prefix string
}

func newShard(i int) *shard {
	return &shard{index: i, prefix: fmt.Sprintf("{hf:%d}:", i)}
}

func (s *shard) run(id string) string   { return s.prefix + "run:" + id }
func (s *shard) job(id string) string   { return s.prefix + "job:" + id }
func (s *shard) ready(wf string) string { return s.prefix + "ready:" + wf }
func (s *shard) due() string            { return s.prefix + "due" }
func (s *shard) leases() string         { return s.prefix + "leases" }
func (s *shard) tokens() string         { return s.prefix + "tokens" }
func (s *shard) wake() string           { return s.prefix + "wake" }
func jobID(run, step string) string     { return run + ":" + step }
func shardOf(workflow string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(workflow))
	return int(h.Sum32() % uint32(n))
}
