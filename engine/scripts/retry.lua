-- Schedules another attempt of a unit that failed: the attempt's record goes into its
-- run (or, for an item, its step's results), and the job is queued again, due after
-- the policy's wait. No worker holds it meanwhile. A caller whose lease token is no
-- longer the job's is refused. A job woken while it ran (wake.lua: the child run it
-- parks for ended first) is due at once. The pages a paginated step kept (page.lua)
-- are dropped: the next attempt reads its list from the first page. A unit whose run
-- is gone (dropped past the finished runs kept, keep.lua, while it ran) writes nothing
-- and its job goes: the run's keys are not made anew.
-- KEYS: 1 job hash, 2 hash of the record (the run's, or the results of a for_each
--       step), 3 leases zset, 4 ready:<wf>, 5 due index, 6 wake list, 7 run hash
local K = {job = KEYS[1], records = KEYS[2], leases = KEYS[3], run = KEYS[7]}
local Q = {ready = KEYS[4], due = KEYS[5], wake = KEYS[6]}
-- ARGV: 1 job id, 2 token, 3 record field, 4 the attempt's record (a JSON object with
--       at least one field), 5 duration ms, 6 ms to wait, 7 workflow, 8 the unit's final
--       record when the wait is a delay it holds (it settles with it when due), else ''
local jobid, token, field, rec, duration, wait, wf = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7]
local held = ARGV[8]
if redis.call('HGET', K.job, 'token') ~= token then
  return fail(ERR_STALE, 'the lease of ' .. jobid .. ' is no longer held')
end
redis.call('ZREM', K.leases, jobid)
if not redis.call('HGET', K.run, 'status') then
  redis.call('DEL', K.job)
  return 0
end
local now, now_s = now_ms()
local at = now + wait
if redis.call('HGET', K.job, 'woken') then
  redis.call('HDEL', K.job, 'woken')
  at = now
end
record(K.records, field, now_s, duration, rec, ',"retry_at":' .. digits(at))
redis.call('HDEL', K.job, 'token', 'reaped') -- an attempt finished: not a crash in a row
forget_pages(K.job)
if held ~= '' then
  redis.call('HSET', K.job, 'held', held)
end
enqueue(Q, wf, jobid, at)
return 0
