-- Starts a run: the run's state and its first step's job, in one atomic write. Starting
-- a run that exists already changes nothing. A run with no step to run (the workflow
-- has none, or the run failed before its first step) ends at once with ARGV[8] and ARGV[9].
-- KEYS: 1 run hash, 2 first job hash, 3 ready zset of the workflow, 4 due index, 5 wake list
-- ARGV: 1 run id, 2 workflow, 3 version, 4 event JSON, 5 first step ('' for none),
--       6 first job id, 7 retention ms, 8 status when it ends at once, 9 its error
-- Returns 1 when the run was created, 0 when it existed.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local now = now_ms()
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'wf', ARGV[2], 'ver', ARGV[3], 'event', ARGV[4], 'created', now)
if ARGV[5] == '' then
  redis.call('HSET', KEYS[1], 'status', ARGV[8], 'error', ARGV[9], 'started', now, 'finished', now)
  redis.call('PEXPIRE', KEYS[1], ARGV[7])
  return 1
end
redis.call('HSET', KEYS[1], 'status', 'queued')
redis.call('HSET', KEYS[2], 'run', ARGV[1], 'wf', ARGV[2], 'step', ARGV[5], 'attempt', 0)
enqueue(KEYS[3], KEYS[4], KEYS[5], ARGV[2], ARGV[6], now)
return 1
