-- Commits a step: its result, the run's state and the next step's job, in one atomic
-- write. A caller whose lease token is no longer the job's is refused and writes nothing.
-- KEYS: 1 job hash, 2 run hash
-- ARGV: 1 shard prefix, 2 job id, 3 token, 4 step name, 5 step result (a JSON object with
--       at least one field), 6 duration ms, 7 next step ('' when the run ends here),
--       8 next job id, 9 run status when it ends, 10 run error, 11 '1' to lease the next
--       job to the caller, 12 lease ms, 13 retention ms, 14 workflow, 15 ms before the
--       next step is due (a delay step; then it is queued, never leased to the caller),
--       16 '1' when the run fails at this step: its job goes to the dead letters
-- Returns -1 when the token is stale, the token of the next job when it was leased to
-- the caller, 0 otherwise.
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[3] then
  return -1
end
local prefix, jobid, wf = ARGV[1], ARGV[2], ARGV[14]
local retention = tonumber(ARGV[13])
local now = now_ms()
local runid = redis.call('HGET', KEYS[1], 'run')
record(KEYS[2], ARGV[4], now, ARGV[6], ARGV[5], '')
redis.call('ZREM', prefix .. 'leases', jobid)
if ARGV[7] == '' then
  if ARGV[16] == '1' then
    dead_letter(prefix, jobid, runid, ARGV[10], now, retention)
  else
    redis.call('DEL', KEYS[1])
  end
  finish_run(prefix, runid, wf, ARGV[9], ARGV[10], now, retention)
  return 0
end
redis.call('DEL', KEYS[1])
local next = prefix .. 'job:' .. ARGV[8]
redis.call('HSET', next, 'run', runid, 'wf', wf, 'step', ARGV[7], 'attempt', 0)
local wait = tonumber(ARGV[15])
if ARGV[11] == '1' and wait == 0 then
  local token = redis.call('INCR', prefix .. 'tokens')
  redis.call('HSET', next, 'attempt', 1, 'token', token)
  redis.call('ZADD', prefix .. 'leases', now + tonumber(ARGV[12]), ARGV[8])
  return token
end
enqueue(prefix, wf, ARGV[8], now + wait)
return 0
