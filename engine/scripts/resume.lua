-- Resumes a wait step: stores what resumed it in its run, where the step reads it,
-- and makes its parked job due now. A resume that comes before the run reaches the
-- wait is kept there for it, and hurries nothing: a delay before the wait still
-- holds. A wait is resumed once: a second resume is refused, and so is one after the
-- wait timed out or ended otherwise, and one past the run's deadline (its timeout
-- after it was created or last replayed), which fails the run whether a worker has
-- seen it yet or not: the run is as good as over.
-- KEYS: 1 run hash, 2 ready:<wf>, 3 due index, 4 wake list
local K = {run = KEYS[1]}
local Q = {ready = KEYS[2], due = KEYS[3], wake = KEYS[4]}
-- ARGV: 1 run id, 2 resume field, 3 record field, 4 the step's job id, 5 workflow,
--       6 the resume (JSON), 7 the marker of a timeout, 8 '1' when the run's timeout
--       bounds the wait (not an on_failure step's)
local runid, rfield, field, jobid, wf, resume, timed_out = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local bounded = ARGV[8] == '1'
-- Returns 1 when the parked job was made due, 0 when the run has not reached the wait
-- yet. Replies ERR_NOT_FOUND for no such run; ERR_WAIT_OVER for a wait that timed out
-- or ended; ERR_RESUMED for a wait resumed already; ERR_FINISHED for a run that has
-- finished; ERR_PAST_DEADLINE for a run whose timeout has passed (a run an older build
-- started has no 'timeout' field: it is not checked).
local status = redis.call('HGET', K.run, 'status')
if not status then
  return fail(ERR_NOT_FOUND, 'no run ' .. runid)
end
local had = redis.call('HGET', K.run, rfield)
if had == timed_out then
  return fail(ERR_WAIT_OVER, 'the wait timed out')
end
if had then
  return fail(ERR_RESUMED, 'the wait was resumed already')
end
if status == RUN_SUCCEEDED or status == RUN_FAILED or status == RUN_CANCELLED then
  return fail(ERR_FINISHED, 'the run has ' .. status)
end
local now = now_ms()
if bounded then
  local t = redis.call('HMGET', K.run, 'timeout', 'created', 'replayed')
  local timeout = tonumber(t[1])
  if timeout and now >= math.max(tonumber(t[2]) or 0, tonumber(t[3]) or 0) + timeout then
    return fail(ERR_PAST_DEADLINE, 'the run timed out')
  end
end
-- A record's own status is the first in it: the scripts put only numbers before it.
local rec = redis.call('HGET', K.run, field)
local st = rec and string.match(rec, '"status":"(%a+)"')
if st == 'succeeded' or st == 'failed' or st == 'skipped' then
  return fail(ERR_WAIT_OVER, 'the wait is over')
end
redis.call('HSET', K.run, rfield, resume)
-- Only a job parked at the wait is made due: one queued to reach it (behind a delay
-- step, or a retry's backoff) comes due when it would have, and finds the resume then.
if st ~= 'waiting' or not redis.call('ZSCORE', Q.ready, jobid) then
  return 0
end
if status == RUN_WAITING then
  redis.call('HSET', K.run, 'status', RUN_RUNNING)
end
enqueue(Q, wf, jobid, now)
return 1
