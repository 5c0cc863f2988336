-- Starts a run: the run's state and its first step's job, in one atomic write. Starting
-- a run that exists already changes nothing.
-- KEYS: 1 run hash, 2 first job hash, 3 ready zset of the workflow, 4 due index, 5 wake list
-- ARGV: 1 run id, 2 workflow, 3 version, 4 event JSON, 5 first step ('' when the
--       workflow has no steps), 6 first job id, 7 retention ms
-- Returns 1 when the run was created, 0 when it existed.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'wf', ARGV[2], 'ver', ARGV[3], 'event', ARGV[4], 'created', now)
if ARGV[5] == '' then
  redis.call('HSET', KEYS[1], 'status', 'succeeded', 'started', now, 'finished', now)
  redis.call('PEXPIRE', KEYS[1], ARGV[7])
  return 1
end
redis.call('HSET', KEYS[1], 'status', 'queued')
redis.call('HSET', KEYS[2], 'run', ARGV[1], 'wf', ARGV[2], 'step', ARGV[5], 'attempt', 0)
redis.call('ZADD', KEYS[3], now, ARGV[6])
local due = redis.call('ZSCORE', KEYS[4], ARGV[2])
if not due or tonumber(due) > now then
  redis.call('ZADD', KEYS[4], now, ARGV[2])
end
redis.call('LPUSH', KEYS[5], '1')
redis.call('LTRIM', KEYS[5], 0, 63)
return 1
