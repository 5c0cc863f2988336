-- Commits a step that is alone in its run (outside parallel blocks, without for_each)
-- and goes on to one next step, leased to the committing worker: the straight line,
-- the commonest commit, in the fewest commands. complete.lua does every other commit,
-- and this one too when the next job exists already.
-- KEYS: 1 job hash, 2 run hash, 3 leases zset, 4 next job hash
local K = {job = KEYS[1], run = KEYS[2], leases = KEYS[3], next = KEYS[4]}
-- ARGV: 1 job id, 2 token, 3 run id, 4 workflow, 5 lease ms, 6 duration ms, 7 field of
--       the step's record, 8 the record, 9 next job id, 10 next step
local jobid, token, runid, wf, lease = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local duration, rec_field, rec, next_id, next_step = ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]
-- Returns the next job's token, the committing job's (lib.lua's lease tokens); '' when
-- the next job exists already (it was queued by someone else: it is theirs to run).
-- Replies ERR_STALE when the lease is no longer held.

if redis.call('HGET', K.job, 'token') ~= token then
  return fail(ERR_STALE, 'the lease of ' .. jobid .. ' is no longer held')
end
local now, now_s = now_ms()
record(K.run, rec_field, now_s, duration, rec, '')
redis.call('ZREM', K.leases, jobid)
redis.call('DEL', K.job)
if redis.call('EXISTS', K.next) == 1 then
  return ''
end
redis.call('HSET', K.next, 'run', runid, 'wf', wf, 'step', next_step, 'part', '', 'attempt', '1', 'token', token)
redis.call('ZADD', K.leases, digits(now + lease), next_id)
return token
