-- Decides what a wait step's job does now, for the worker that leased it: go on with
-- the resume stored for the step (it came before the run reached the wait, or it woke
-- the job); fail for the run's deadline, once it has passed by Redis's clock (the clock
-- resume.lua refuses a resume past it by: a resume it took is never lost to a worker's
-- clock); time out, once its timeout has passed; or park. A parked job waits in its
-- workflow's queue, due when the timeout passes, holding no worker; the resume script
-- makes it due at once. Timing out stores a marker where a resume would go, so that a
-- resume that comes later is refused (and one that came first wins).
-- KEYS: 1 job hash, 2 run hash, 3 leases zset, 4 ready:<wf>, 5 due index, 6 wake list
local K = {job = KEYS[1], run = KEYS[2], leases = KEYS[3]}
local Q = {ready = KEYS[4], due = KEYS[5], wake = KEYS[6]}
-- ARGV: 1 job id, 2 token, 3 record field, 4 the waiting record, 5 duration ms,
--       6 when the wait times out (ms, Redis's clock; 0 when the run has just reached
--       it), 7 the step's timeout ms, 8 most ms to park (the run's own timeout; -1 for
--       no limit), 9 workflow, 10 resume field, 11 the marker of a timeout, 12 '1' to
--       show the run as waiting while it is parked, 13 for a wait in a parallel block,
--       the block's join count field ('' otherwise), 14 the marker of the run's
--       timeout, 15 how far past the run's deadline a park it cuts ends (ms)
-- A wait in a parallel block shows the run as waiting once every step of the block
-- still to settle is a parked wait: the run hash counts them in p:<block> (the job
-- hash says whether it is counted), and complete.lua looks at it as the siblings
-- settle.
local jobid, token, field, rec, duration = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local deadline, timeout, most = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local wf, rfield, timed_out, mark, join = ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13]
local run_timed_out, slack = ARGV[14], tonumber(ARGV[15])
local parked_field = ''
if join ~= '' then
  parked_field = 'p:' .. string.sub(join, 3)
end
-- Returns the resume stored for the step, the marker when the wait timed out, or the
-- run's when its deadline passed (the job stays leased to the caller, which settles
-- the step); '' once the job is parked.
if redis.call('HGET', K.job, 'token') ~= token then
  return fail(ERR_STALE, 'the lease of ' .. jobid .. ' is no longer held')
end
-- A wait whose run is gone (dropped past the finished runs kept, keep.lua, while its
-- job was leased) writes nothing, and its job goes: the run's hash is not made anew.
if not redis.call('HGET', K.run, 'status') then
  redis.call('ZREM', K.leases, jobid)
  redis.call('DEL', K.job)
  return ''
end
-- The run goes on: it is no longer waiting (a resume that came while this job was
-- leased found it not parked, and left the status to this).
local function going_on()
  if parked_field ~= '' and redis.call('HDEL', K.job, 'parked') == 1 then
    redis.call('HINCRBY', K.run, parked_field, -1)
  end
  if redis.call('HGET', K.run, 'status') == RUN_WAITING then
    redis.call('HSET', K.run, 'status', RUN_RUNNING)
  end
end
-- The run's deadline, when its timeout bounds the wait and the run hash holds it (a
-- run an older build started does not: most bounds the park then), as resume.lua
-- reads it.
local run_deadline
if most >= 0 then
  local t = redis.call('HMGET', K.run, 'timeout', 'created', 'replayed')
  if tonumber(t[1]) then
    run_deadline = math.max(tonumber(t[2]) or 0, tonumber(t[3]) or 0) + tonumber(t[1])
  end
end
local now, now_s = now_ms()
local resumed = redis.call('HGET', K.run, rfield)
-- A resume stored while the job was parked came before the deadline (resume.lua
-- refuses one past it): the wait goes on with it. One stored before the run reached
-- the wait does not hold a run that reached it past its deadline.
if resumed and (deadline ~= 0 or resumed == timed_out or not run_deadline or now < run_deadline) then
  going_on()
  return resumed
end
if run_deadline and now >= run_deadline then
  going_on()
  return run_timed_out
end
if deadline == 0 then
  deadline = now + timeout
end
if now >= deadline then
  redis.call('HSET', K.run, rfield, timed_out)
  going_on()
  return timed_out
end
local at = deadline
if run_deadline then
  at = math.min(at, run_deadline + slack)
elseif most >= 0 then
  at = math.min(at, now + most)
end
record(K.run, field, now_s, duration, rec, ',"retry_at":' .. digits(deadline))
redis.call('ZREM', K.leases, jobid)
redis.call('HDEL', K.job, 'token', 'reaped')
-- Parking is not an attempt: the lease that wakes it counts the same one again.
redis.call('HINCRBY', K.job, 'attempt', -1)
if parked_field ~= '' and redis.call('HSETNX', K.job, 'parked', 1) == 1 then
  redis.call('HINCRBY', K.run, parked_field, 1)
end
if parked_field ~= '' and tonumber(redis.call('HGET', K.run, parked_field) or '0') >=
    tonumber(redis.call('HGET', K.run, join) or '0') then
  mark = '1' -- every step of the block still to settle is a parked wait
end
if mark == '1' and redis.call('HGET', K.run, 'status') == RUN_RUNNING then
  redis.call('HSET', K.run, 'status', RUN_WAITING)
end
enqueue(Q, wf, jobid, at)
return ''
