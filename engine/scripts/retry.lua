-- Schedules another attempt of a step that failed: the attempt's result goes into the
-- run, and the job is queued again, due after the policy's wait. No worker holds it
-- meanwhile. A caller whose lease token is no longer the job's is refused.
-- KEYS: 1 job hash, 2 run hash
-- ARGV: 1 shard prefix, 2 job id, 3 token, 4 step name, 5 attempt result (a JSON object
--       with at least one field), 6 duration ms, 7 ms to wait, 8 workflow
-- Returns -1 when the token is stale, else 0.
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[3] then
  return -1
end
local prefix, jobid = ARGV[1], ARGV[2]
local now = now_ms()
local at = now + tonumber(ARGV[7])
record(KEYS[2], ARGV[4], now, ARGV[6], ARGV[5], ',"retry_at":' .. ms(at))
redis.call('ZREM', prefix .. 'leases', jobid)
redis.call('HDEL', KEYS[1], 'token', 'reaped') -- an attempt finished: not a crash in a row
enqueue(prefix, ARGV[8], jobid, at)
return 0
