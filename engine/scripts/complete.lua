-- Commits a step: its result, the run's state and the next step's job, in one atomic
-- write. A caller whose lease token is no longer the job's is refused and writes nothing.
-- KEYS: 1 job hash, 2 run hash, 3 leases zset, 4 ready zset of the workflow,
--       5 due index, 6 wake list, 7 token counter, 8 next job hash
-- ARGV: 1 job id, 2 token, 3 step name, 4 step result (a JSON object with at least one
--       field), 5 duration ms, 6 next step ('' when the run ends here), 7 next job id,
--       8 run status when it ends, 9 run error, 10 '1' to lease the next job to the caller,
--       11 lease ms, 12 retention ms, 13 workflow, 14 ms before the next step is due
--       (a delay step; then it is queued, never leased to the caller)
-- Returns -1 when the token is stale, the token of the next job when it was leased to
-- the caller, 0 otherwise.
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[2] then
  return -1
end
local now = now_ms()
local runid = redis.call('HGET', KEYS[1], 'run')
local result = '{"finished":' .. string.format('%.0f', now) .. ',"duration_ms":' .. ARGV[5] .. ',' .. string.sub(ARGV[4], 2)
redis.call('HSET', KEYS[2], 's:' .. ARGV[3], result)
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[1])
if ARGV[6] == '' then
  redis.call('HSET', KEYS[2], 'status', ARGV[8], 'finished', now, 'error', ARGV[9])
  redis.call('PEXPIRE', KEYS[2], ARGV[12])
  return 0
end
redis.call('HSET', KEYS[8], 'run', runid, 'wf', ARGV[13], 'step', ARGV[6], 'attempt', 0)
local wait = tonumber(ARGV[14])
if ARGV[10] == '1' and wait == 0 then
  local token = redis.call('INCR', KEYS[7])
  redis.call('HSET', KEYS[8], 'attempt', 1, 'token', token)
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[11]), ARGV[7])
  return token
end
enqueue(KEYS[4], KEYS[5], KEYS[6], ARGV[13], ARGV[7], now + wait)
return 0
