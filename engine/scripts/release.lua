-- Hands a leased job back to the queue, due now, when its holder stops before the step
-- finished. The holder's token can no longer commit it. The attempt it was leased for
-- did not happen, so it is not counted.
-- KEYS: 1 job hash, 2 leases zset, 3 ready:<wf>, 4 due index, 5 wake list
local K = {job = KEYS[1], leases = KEYS[2]}
local Q = {ready = KEYS[3], due = KEYS[4], wake = KEYS[5]}
-- ARGV: 1 job id, 2 token, 3 workflow
local jobid, token, wf = ARGV[1], ARGV[2], ARGV[3]
-- Returns 1 when handed back, 0 when the job was no longer the caller's.
if redis.call('HGET', K.job, 'token') ~= token then
  return 0
end
redis.call('HDEL', K.job, 'token')
redis.call('HINCRBY', K.job, 'attempt', -1)
redis.call('ZREM', K.leases, jobid)
enqueue(Q, wf, jobid, now_ms())
return 1
