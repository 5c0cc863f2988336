-- Replays a failed run from one of its steps: the step's job is queued again (or waits
-- for a concurrency slot), its dead letter is removed, and the run is queued, no longer
-- expiring. The results of the steps before it stay; they do not run again.
-- KEYS: 1 run hash, 2 job hash of the step
-- ARGV: 1 shard prefix, 2 run id, 3 step, 4 job id, 5 workflow
-- Returns 1 when queued, 0 when there is no such run, -1 when the run has not failed.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then
  return 0
end
if status ~= 'failed' then
  return -1
end
local prefix, runid, wf = ARGV[1], ARGV[2], ARGV[5]
local now = now_ms()
local dead = redis.call('HGET', KEYS[1], 'dead')
if dead then
  redis.call('ZREM', prefix .. 'dead', dead)
  redis.call('DEL', prefix .. 'job:' .. dead)
end
redis.call('HDEL', KEYS[1], 'dead', 'finished', 'error', 's:' .. ARGV[3])
redis.call('HSET', KEYS[1], 'status', 'queued')
redis.call('HINCRBY', KEYS[1], 'replays', 1)
redis.call('INCR', prefix .. 'open')
redis.call('PERSIST', KEYS[1])
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'run', runid, 'wf', wf, 'step', ARGV[3], 'attempt', 0)
queue_run(prefix, wf, runid, ARGV[4], now)
return 1
