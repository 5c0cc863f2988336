-- Hands a leased job back to the queue, due after a wait, when its step did not start:
-- a limit shared by every process (its api's rate_limit or concurrency) held it back.
-- Nothing was sent (or, before a later page of a paginated step, the pages read are
-- kept in the job, page.lua), so the attempt it was leased for is not counted, and no
-- worker holds the job meanwhile.
-- KEYS: 1 job hash, 2 leases zset, 3 ready:<wf>, 4 due index, 5 wake list
local K = {job = KEYS[1], leases = KEYS[2]}
local Q = {ready = KEYS[3], due = KEYS[4], wake = KEYS[5]}
-- ARGV: 1 job id, 2 token, 3 workflow, 4 ms to wait
local jobid, token, wf, wait = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
-- Returns 1 when handed back, 0 when the job was no longer the caller's.
if redis.call('HGET', K.job, 'token') ~= token then
  return 0
end
redis.call('HDEL', K.job, 'token')
redis.call('HINCRBY', K.job, 'attempt', -1)
redis.call('ZREM', K.leases, jobid)
enqueue(Q, wf, jobid, now_ms() + wait)
return 1
